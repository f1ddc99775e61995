"""A SOCKS5 proxy on loopback (RFC 1928, CONNECT only; RFC 1929 username/password when given
credentials), for tests of clients that reach the API server through one.

    with SocksProxy(routes={"kubernetes:6443": "127.0.0.1:6443"}) as proxy:
        ... a client with proxy-url: proxy.url() ...

Like ConnectProxy (whose routing, records and relaying it shares): a requested "host:port" is
routed, any target not on loopback is refused, and every request is recorded with the target as
the client sent it: a name the client left to the proxy to resolve stays a name.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from tests.live.connect_proxy import ConnectProxy, Request, Tunnel, _basic

VERSION, NO_AUTH, USER_PASSWORD, NO_METHOD = 5, 0, 2, 0xFF
CONNECT, IPV4, NAME, IPV6 = 1, 1, 3, 4
# Reply codes: succeeded, general failure, not allowed by ruleset, command not supported
REPLIES = {200: 0, 502: 1, 403: 2, 405: 7, 407: 2}


class SocksProxy(ConnectProxy):
    """The proxy; a context manager that listens on an ephemeral loopback port."""

    def url(self, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"socks5://{at}127.0.0.1:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            auth = self._greet(conn)
            target = self._request(conn) if auth is not None else None
        except (OSError, ValueError):
            target = None
        if target is None:
            conn.close()
            return
        request = Request(target, auth)
        status = self._decide("CONNECT", target, auth)
        upstream = self._dial(target) if status == 200 else None
        request.status = status if status != 200 or upstream else 502
        with self._lock:
            self.requests.append(request)
        try:
            conn.sendall(_reply(request.status))
        except OSError:
            request.status = 0
        if request.status != 200:
            conn.close()
            if upstream is not None:
                upstream.close()
            return
        conn.settimeout(None)
        tunnel = Tunnel(target, conn, upstream)
        with self._lock:
            self.tunnels.append(tunnel)
        self._relay(tunnel)

    def _greet(self, conn: socket.socket) -> str | None:
        """The method negotiation (and sub-negotiation): the credentials sent as a Basic
        value ("" without), or None when the client offered no acceptable method."""
        version, count = _read(conn, 2)
        methods = _read(conn, count)
        want = NO_AUTH if self.credentials is None else USER_PASSWORD
        if version != VERSION or want not in methods:
            conn.sendall(bytes((VERSION, NO_METHOD)))
            return None
        conn.sendall(bytes((VERSION, want)))
        if want == NO_AUTH:
            return ""
        _, size = _read(conn, 2)
        user = _read(conn, size).decode()
        size = _read(conn, 1)[0]
        password = _read(conn, size).decode()
        ok = (user, password) == self.credentials
        conn.sendall(bytes((1, 0 if ok else 1)))
        return _basic(user, password) if ok else None

    def _request(self, conn: socket.socket) -> str | None:
        """The CONNECT request's "host:port" (None for another command)."""
        version, command, _, kind = _read(conn, 4)
        if kind == IPV4:
            host = str(ipaddress.IPv4Address(_read(conn, 4)))
        elif kind == IPV6:
            host = f"[{ipaddress.IPv6Address(_read(conn, 16))}]"
        elif kind == NAME:
            host = _read(conn, _read(conn, 1)[0]).decode()
        else:
            raise ValueError(f"address type {kind}")
        port = struct.unpack("!H", _read(conn, 2))[0]
        if version != VERSION or command != CONNECT:
            conn.sendall(_reply(405))
            return None
        return f"{host}:{port}"

    def _dial(self, target: str) -> socket.socket | None:
        host, _, port = self.routes.get(target, target).rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            return None
        upstream.settimeout(None)
        return upstream


def _reply(status: int) -> bytes:
    """The reply to a request, for the status ConnectProxy would answer (bound address 0)."""
    return struct.pack("!BBBB4sH", VERSION, REPLIES[status], 0, IPV4, bytes(4), 0)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ValueError("the client closed the connection")
        data += more
    return data
