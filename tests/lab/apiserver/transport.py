"""HTTPS plumbing: a threading HTTP/1.1 server over TLS, bearer-token authentication, chunked
streams for watch and log follow, and connection hand-over for WebSocket upgrades."""

from __future__ import annotations

import json
import select
import socket
import ssl
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .api import Api
from .messages import Request, Response
from .pki import user_of_certificate
from .status import ApiError, internal

MAX_BODY = 3 << 20  # the real server's request size limit (3 MiB)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiHttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the lab's server is not a request log."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(
                Response(
                    code=413,
                    body=ApiError(
                        "RequestEntityTooLarge",
                        "Request entity too large: limit is 3145728",
                        code=413,
                    ).status(),
                )
            )
            return
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        body = self._read_chunked() if chunked else self.rfile.read(length) if length else b""
        req = Request(
            self.command,
            url.path.rstrip("/") or "/",
            parse_qs(url.query, keep_blank_values=True),
            self.headers,
            body,
            rfile=self.rfile,
            wfile=self.wfile,
        )
        auth = self._authenticate(req)
        try:
            resp = auth or self.server.api.handle(req)
        except Exception as e:  # a lab bug: answered like an apiserver panic, logged in full
            traceback.print_exc(file=sys.stderr)
            resp = Response(code=500, body=internal(f"{type(e).__name__}: {e}").status())
        self._send(resp)

    def _read_chunked(self) -> bytes:
        """A chunked request body (clients streaming a body of unknown length)."""
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return bytes(body[:MAX_BODY])
            body += self.rfile.read(size)
            self.rfile.readline()

    def _authenticate(self, req: Request) -> Response | None:
        """A verified client certificate first, then a bearer token, as kube-apiserver's union
        authenticator orders them; neither: anonymous; a bad token: 401."""
        cert = user_of_certificate(self.connection.getpeercert() or {})
        if cert is not None:
            req.user, req.groups = cert
            return None
        header = self.headers.get("Authorization", "")
        if not header:
            req.user, req.groups = "system:anonymous", ["system:unauthenticated"]
            return None
        scheme, _, token = header.partition(" ")
        who = self.server.api.policy.user_for(token.strip()) if scheme.lower() == "bearer" else None
        if who is None:
            return Response(code=401, body=ApiError("Unauthorized", "Unauthorized").status())
        req.user, req.groups = who
        return None

    def _send(self, resp: Response) -> None:
        self.send_response(resp.code)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        if resp.upgraded:
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            resp.upgraded()
            return
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        if resp.stream is not None:
            self._send_stream(resp)
            return
        body = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_stream(self, resp: Response) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in resp.stream:
                if not chunk:
                    if self._peer_gone():
                        break
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            resp.stream.close()

    def _peer_gone(self) -> bool:
        """An idle stream's client has closed when its socket turns readable (EOF or alert)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if readable:
            self.close_connection = True
        return bool(readable)


class ApiHttpServer(ThreadingHTTPServer):
    """The HTTPS listener; every connection gets its own daemon thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: Api, listener: tuple[str, int] | socket.socket, cert: Path,
                 key: Path, client_ca: Path) -> None:
        """listener: the address to listen on, or a socket already listening (one made in the
        pods' network namespace)."""
        if isinstance(listener, socket.socket):
            super().__init__(listener.getsockname(), _Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = listener
        else:
            super().__init__(listener, _Handler)
        self.api = api
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.ctx.load_cert_chain(cert, key)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates are one way to log in
        self.ctx.load_verify_locations(client_ca)

    def get_request(self):  # noqa: ANN201 - socketserver's signature
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address) -> None:  # noqa: ANN001
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def serve_in_thread(self) -> threading.Thread:
        """Serve until shutdown() from a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="apiserver", daemon=True)
        thread.start()
        return thread
