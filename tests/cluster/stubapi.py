"""A tiny Kubernetes API server for what the lab cannot produce on demand: a watch whose
resourceVersion has been compacted away (410 Gone), or a pod whose address changes. It speaks
plain HTTP on loopback, serves scripted list and watch responses for pods (nodes: empty), and
records the requests it got."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

GONE = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410,
        "message": "too old resource version"}
GONE_EVENT, GONE_STATUS, DROP = "gone-event", "gone-status", "drop"
DROPPED = -1  # respond(): promise more bytes than are sent, then close


def pod(name: str, ip: str, uid: str, phase: str = "Running", **status: object) -> dict:
    return {"kind": "Pod", "metadata": {"namespace": "shop", "name": name, "uid": uid},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": phase, "podIP": ip, "hostIP": "192.168.0.10",
                       "startTime": "2023-11-14T22:13:20Z", **status}}


class StubApi:
    """Pods lists are served in turn from `lists`; pods watches in turn from `watches`, each
    GONE_EVENT (a 410 ERROR event), GONE_STATUS (HTTP 410), DROP (the connection breaks in the
    middle of the response) or a list of (type, pod) events; when the script runs out, watches
    end empty."""

    def __init__(self, lists: list[list[dict]], watches: list) -> None:
        self.lists, self.watches = list(lists), list(watches)
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def respond(self, path: str, watch: bool) -> tuple[int, list[dict]]:
        self.requests.append(f"{'watch' if watch else 'list'} {path}")
        rv = str(10 * len(self.requests))
        if not watch:
            items = self.lists.pop(0) if path == "/api/v1/pods" and self.lists else []
            return 200, [{"kind": "List", "metadata": {"resourceVersion": rv}, "items": items}]
        script = self.watches.pop(0) if path == "/api/v1/pods" and self.watches else []
        if script == GONE_STATUS:
            return 410, [GONE]
        if script == GONE_EVENT:
            return 200, [{"type": "ERROR", "object": GONE}]
        if script == DROP:
            return DROPPED, []
        return 200, [{"type": t, "object": obj} for t, obj in script]

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                url = urlparse(self.path)
                watch = parse_qs(url.query).get("watch") == ["true"]
                code, docs = stub.respond(url.path, watch)
                body = b"".join(json.dumps(d).encode() + b"\n" for d in docs)
                self.send_response(200 if code == DROPPED else code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + 100 * (code == DROPPED)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        return Handler
