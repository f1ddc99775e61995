"""An HTTP CONNECT proxy on loopback, for tests of clients that reach the API server through one.

    with ConnectProxy(routes={"127.0.0.1:9": "127.0.0.1:6443"}) as proxy:
        ... a client with proxy-url: proxy.url ...
        proxy.cut()            # reset every open tunnel, as a proxy that restarts does

Only CONNECT is spoken (clients tunnel https:// and wss:// through it). `routes` maps a
requested "host:port" to the loopback address really dialled, so a test can give the client an
address that only the proxy can reach; any other target is refused (403), so nothing leaves the
machine. With `credentials`, a request without the matching Basic Proxy-Authorization gets 407.
Every request is recorded (`requests`), and every tunnel (`tunnels`).
One thread accepts; each tunnel is relayed by its own thread.
"""

from __future__ import annotations

import base64
import selectors
import socket
import struct
import threading
from dataclasses import dataclass, field

HEAD_LIMIT = 16384  # bytes a CONNECT request's head may take
RELAY = 65536
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST


@dataclass
class Request:
    """One CONNECT request as received: its target, the Proxy-Authorization sent (or "") and
    the status the proxy answered."""

    target: str
    authorization: str
    status: int = 0


@dataclass
class Tunnel:
    """An established tunnel, and whether it is still open."""

    target: str
    client: socket.socket
    upstream: socket.socket
    open: bool = True
    _cut: threading.Event = field(default_factory=threading.Event)


class ConnectProxy:
    """The proxy; a context manager that listens on an ephemeral loopback port."""

    def __init__(self, routes: dict[str, str] | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.routes = dict(routes or {})
        self.credentials = credentials
        self.requests: list[Request] = []
        self.tunnels: list[Tunnel] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    def url(self, userinfo: str = "") -> str:
        """The proxy URL for a kubeconfig's proxy-url (userinfo: "user:password", raw)."""
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}"

    def __enter__(self) -> ConnectProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes and ends the accept loop
        self._listener.close()
        self.cut()
        for t in self._threads:
            t.join(10)

    def cut(self) -> int:
        """Reset every open tunnel at once (a RST each way); how many were cut."""
        with self._lock:
            open_now = [t for t in self.tunnels if t.open]
        for t in open_now:
            t._cut.set()
            for sock in (t.client, t.upstream):
                _reset(sock)
        return len(open_now)

    # -- threads ------------------------------------------------------------------------------

    def _spawn(self, target, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="connect-proxy")
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        """Read the CONNECT head, answer it, then relay until either side ends or a cut."""
        head = _read_head(conn)
        if head is None:
            conn.close()
            return
        method, target, auth = head
        request = Request(target, auth)
        status = self._decide(method, target, auth)
        upstream = None
        if status == 200:
            try:
                upstream = socket.create_connection(_address(self.routes.get(target, target)),
                                                    timeout=10)
                upstream.settimeout(None)
            except OSError:
                status = 502
        request.status = status
        with self._lock:
            self.requests.append(request)
        reason = {200: "Connection established", 403: "Forbidden", 405: "Method Not Allowed",
                  407: "Proxy Authentication Required", 502: "Bad Gateway"}[status]
        extra = "Proxy-Authenticate: Basic realm=\"netmon-test\"\r\n" if status == 407 else ""
        try:
            conn.sendall(f"HTTP/1.1 {status} {reason}\r\n{extra}\r\n".encode())
        except OSError:
            status = 0
        if status != 200 or upstream is None:
            conn.close()
            if upstream is not None:
                upstream.close()
            return
        tunnel = Tunnel(target, conn, upstream)
        with self._lock:
            self.tunnels.append(tunnel)
        self._relay(tunnel)

    def _decide(self, method: str, target: str, auth: str) -> int:
        if method != "CONNECT":
            return 405
        if self.credentials is not None and auth != _basic(*self.credentials):
            return 407
        host, _, _ = self.routes.get(target, target).rpartition(":")
        return 200 if host == "127.0.0.1" else 403

    def _relay(self, t: Tunnel) -> None:
        sel = selectors.DefaultSelector()
        sel.register(t.client, selectors.EVENT_READ, t.upstream)
        sel.register(t.upstream, selectors.EVENT_READ, t.client)
        try:
            while not t._cut.is_set():
                for key, _ in sel.select(0.5):
                    try:
                        data = key.fileobj.recv(RELAY)
                        if not data:
                            return
                        key.data.sendall(data)
                    except OSError:
                        return
        finally:
            sel.close()
            with self._lock:
                t.open = False
            if not t._cut.is_set():
                t.client.close()
                t.upstream.close()


def _reset(sock: socket.socket) -> None:
    """Abort a connection: RST to the peer instead of an orderly close."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        sock.close()
    except OSError:
        pass


def _read_head(conn: socket.socket) -> tuple[str, str, str] | None:
    """(method, target, Proxy-Authorization value) of the request head, None if incomplete.
    Reads byte by byte up to the blank line, so no tunnelled byte is consumed."""
    conn.settimeout(10)
    head = b""
    try:
        while not head.endswith(b"\r\n\r\n") and len(head) < HEAD_LIMIT:
            byte = conn.recv(1)
            if not byte:
                return None
            head += byte
    except OSError:
        return None
    conn.settimeout(None)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3:
        return None
    auth = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "proxy-authorization":
            auth = value.strip()
    return parts[0], parts[1], auth


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host, int(port)
