"""A tiny Kubernetes API server for the one case the lab cannot produce on demand: a watch whose
resourceVersion has been compacted away (410 Gone). It speaks plain HTTP on loopback and serves
scripted list and watch responses for nodes and pods, recording the requests it got."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def pod(name: str, ip: str, uid: str) -> dict:
    return {"kind": "Pod", "metadata": {"namespace": "shop", "name": name, "uid": uid},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.0.10",
                       "startTime": "2023-11-14T22:13:20Z"}}


class StubApi:
    """Pods lists are served in turn from `pod_lists`; the first pods watch answers 410 (as an
    ERROR event, or as the HTTP status when gone_as_status); later watches end empty."""

    def __init__(self, pod_lists: list[list[dict]], gone_as_status: bool = False) -> None:
        self.pod_lists = list(pod_lists)
        self.gone_as_status = gone_as_status
        self.requests: list[str] = []
        self._gone_sent = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                watch = query.get("watch") == ["true"]
                stub.requests.append(f"{'watch' if watch else 'list'} {url.path}")
                if not watch:
                    items = stub.pod_lists.pop(0) if url.path == "/api/v1/pods" else []
                    rv = str(10 * len(stub.requests))
                    return self._send(200, {"kind": "List", "metadata": {"resourceVersion": rv},
                                            "items": items})
                if url.path == "/api/v1/pods" and not stub._gone_sent:
                    stub._gone_sent = True
                    status = {"kind": "Status", "status": "Failure", "reason": "Expired",
                              "code": 410, "message": "too old resource version"}
                    if stub.gone_as_status:
                        return self._send(410, status)
                    return self._send(200, {"type": "ERROR", "object": status})
                return self._send(200, None)

            def _send(self, code: int, doc: dict | None) -> None:
                body = b"" if doc is None else json.dumps(doc).encode() + b"\n"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
