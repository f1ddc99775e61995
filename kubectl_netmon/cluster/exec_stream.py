"""A remote command's output over the exec API, driven with websocket-client directly.

Why not kubernetes.stream: it buffers every byte of a session in memory, swaps the ApiClient's
request method while streaming, and decoded binary as UTF-8 before v30. Here websocket-client
does the handshake (TLS, proxies, auth) and every send; one reader takes the server's frames
off the non-blocking socket itself, waiting in poll (channels: a capture streams too many frames
for a per-frame parser), yields stdout bytes once and in order, hands stderr to a callback, and
reads the exit status from channel 3 (see shared notes: v5.channel.k8s.io framing).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlparse

import websocket

from kubectl_netmon.cluster.channels import (
    CLOSE,
    STDIN,
    ChannelReader,
    FrameError,
    Frames,
    frame_reader,
)
from kubectl_netmon.cluster.proxies import proxy_options
from kubectl_netmon.errors import ClusterError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
COALESCE = 1 << 20  # stdout bytes gathered into one chunk at most


@dataclass
class ExitStatus:
    """How the remote command ended: code is None when the server gave no exit code."""

    code: int | None
    message: str = ""


def exec_url(host: str, namespace: str, pod: str, command: list[str], container: str = "",
             stdin: bool = False) -> str:
    """The exec subresource URL with the query kubectl sends (false flags left out)."""
    query: list[tuple[str, str]] = [("command", c) for c in command]
    if container:
        query.append(("container", container))
    if stdin:
        query.append(("stdin", "true"))
    query += [("stdout", "true"), ("stderr", "true")]
    base = urlparse(host)
    scheme = "wss" if base.scheme == "https" else "ws"
    path = f"{base.path.rstrip('/')}/api/v1/namespaces/{namespace}/pods/{pod}/exec"
    return f"{scheme}://{base.netloc}{path}?{urlencode(query)}"


def ssl_options(cfg) -> dict:
    """TLS options for websocket-client from a kubernetes.client.Configuration."""
    if not cfg.verify_ssl:
        opts: dict = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    else:
        opts = {"cert_reqs": ssl.CERT_REQUIRED}
        if cfg.ssl_ca_cert:
            opts["ca_certs"] = cfg.ssl_ca_cert
        if cfg.assert_hostname is not None:
            opts["check_hostname"] = cfg.assert_hostname
    if cfg.cert_file:
        opts["certfile"] = cfg.cert_file
    if cfg.key_file:
        opts["keyfile"] = cfg.key_file
    if getattr(cfg, "tls_server_name", None):
        opts["server_hostname"] = cfg.tls_server_name
    return opts


def auth_headers(cfg) -> list[str]:
    """Authorization headers; auth_settings() refreshes tokens of exec credential plugins."""
    headers = []
    for setting in cfg.auth_settings().values():
        if setting.get("in") == "header" and setting.get("value"):
            headers.append(f"{setting['key']}: {setting['value']}")
    return headers


def parse_status(payload: bytes) -> ExitStatus:
    """The metav1.Status on channel 3: Success -> 0; NonZeroExitCode -> its ExitCode cause."""
    try:
        status = json.loads(payload)
    except ValueError:
        return ExitStatus(None, payload.decode("utf-8", "replace"))
    if status.get("status") == "Success":
        return ExitStatus(0)
    message = str(status.get("message", ""))
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return ExitStatus(int(cause.get("message", "")), message)
            except ValueError:
                break
    return ExitStatus(None, message)


def handshake_error(exc: websocket.WebSocketBadStatusException, what: str) -> ClusterError:
    """The API server's refusal of the upgrade as a user message (its Status message if any)."""
    body = exc.resp_body or b""
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else ""
    return ClusterError(f"{what}: {message or exc}")


class ExecStream:
    """One exec session. Iterate chunks() for stdout; exit is set once the server closes."""

    def __init__(self, cfg, namespace: str, pod: str, command: list[str], container: str = "",
                 stdin: bool = False, on_stderr: Callable[[bytes], None] | None = None,
                 timeout: float | None = None) -> None:
        self.url = exec_url(cfg.host, namespace, pod, command, container, stdin)
        self.what = f"exec in pod {namespace}/{pod}"
        self._cfg = cfg
        self._on_stderr = on_stderr
        self._timeout = timeout
        self._idle: float | None = None  # see idle_every()
        self._ws: websocket.WebSocket | None = None
        # One TLS connection may not be read and written at once (OpenSSL's SSL object is not
        # thread-safe, and Python releases the GIL in both calls): the reader holds this while
        # it reads, a writer (stdin, its close, our close) while it writes; the reader's own
        # pongs take it again (reentrant).
        self._tls = threading.RLock()
        self.protocol = ""
        self.exit: ExitStatus | None = None
        self.bytes_received = 0

    def connect(self) -> None:
        """Open the WebSocket, offering v5 then v4 (the server picks in our order)."""
        ws = websocket.WebSocket(sslopt=ssl_options(self._cfg), skip_utf8_validation=True)
        try:
            ws.connect(self.url, header=auth_headers(self._cfg), subprotocols=list(PROTOCOLS),
                       timeout=self._timeout, **proxy_options(self._cfg))
        except websocket.WebSocketBadStatusException as e:
            raise handshake_error(e, self.what) from None
        except (OSError, websocket.WebSocketException) as e:
            raise ClusterError(f"{self.what}: cannot connect to {self._cfg.host}: {e}") from None
        ws.settimeout(None)
        self.protocol = ws.subprotocol or "v4.channel.k8s.io"
        self._ws = ws

    def idle_every(self, seconds: float) -> None:
        """From now on chunks() yields b"" whenever nothing arrived for `seconds`, so that a
        consumer reading in its own thread keeps its clocks (redraws, deadlines) going."""
        self._idle = seconds

    def chunks(self) -> Iterator[bytes]:
        """Stdout, in order, until the server closes the stream. A chunk is the stdout of all
        the socket could serve at once (up to COALESCE bytes): large when the stream is fast,
        so few chunks go downstream, yet nothing waits for more. After idle_every(), b"" marks
        a quiet interval."""
        ws = self._ws
        if ws is None:
            raise ClusterError(f"{self.what}: not connected")
        reader = ChannelReader(self._on_stderr, ws.pong)
        frames = frame_reader(ws.sock, reader)
        sock = ws.sock
        sock.settimeout(0)  # reads take what is there; the waiting is done here
        while True:
            with self._tls:
                blocked = self._fill(frames)
            if reader.status is not None:
                self.exit, reader.status = parse_status(reader.status), None
            chunk = frames.take()
            if chunk:
                self.bytes_received += len(chunk)
                yield chunk
            if frames.closed:
                break
            if frames.eof or self._ws is None:
                if self._ws is None:  # closed by us (close())
                    return
                raise ClusterError(f"{self.what}: stream dropped: the connection was closed "
                                   "without a close frame")
            if blocked and not self._wait(sock, blocked):
                yield b""
        with self._tls, contextlib.suppress(OSError, websocket.WebSocketException):
            sock.settimeout(None)
            ws.send_close()  # answer the server's close; nothing more will be read
        ws.shutdown()

    def _fill(self, frames: Frames) -> int:
        """Read what the socket has into frames; 0 when a chunk is full or the stream ended,
        else the event to wait for (select.POLLIN, or POLLOUT for a TLS write). A drop or
        broken framing is a ClusterError."""
        try:
            frames.fill(COALESCE)
        except (ssl.SSLWantReadError, BlockingIOError):
            return select.POLLIN
        except ssl.SSLWantWriteError:
            return select.POLLOUT
        except ssl.SSLEOFError:  # the TLS connection ended without close_notify
            if self._ws is not None:
                raise ClusterError(f"{self.what}: stream dropped: the connection was closed "
                                   "without a close frame") from None
        except FrameError as e:
            raise ClusterError(f"{self.what}: stream dropped: {e}") from None
        except OSError as e:
            if self._ws is not None:
                raise ClusterError(f"{self.what}: stream dropped: {e}") from None
        return 0

    def _wait(self, sock: socket.socket, event: int) -> bool:
        """Wait until the socket can go on (or was closed); False after an idle interval."""
        poller = select.poll()
        try:
            poller.register(sock, event)
        except (OSError, ValueError):  # closed meanwhile (close())
            return True
        timeout = None if self._idle is None else self._idle * 1000
        return bool(poller.poll(timeout))

    def send_stdin(self, data: bytes) -> None:
        """Bytes to the remote command's stdin."""
        with self._tls:
            if self._ws is not None:
                self._ws.send_binary(bytes([STDIN]) + data)

    def close_stdin(self) -> None:
        """Half-close stdin (v5 only) so a remote watchdog reading stdin sees EOF."""
        with self._tls:
            if self._ws is not None and self.protocol.startswith("v5"):
                self._ws.send_binary(bytes([CLOSE, STDIN]))

    def close(self) -> None:
        """Close the WebSocket (the remote side ends its reads; captures also bound themselves).

        Callable while chunks() reads in another thread: the socket is shut down, which ends
        that read, instead of being read here too (one TLS connection, one reader)."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        with self._tls, contextlib.suppress(OSError, websocket.WebSocketException):
            if ws.connected:
                ws.send_close()
        with contextlib.suppress(OSError):
            if ws.sock is not None:
                ws.sock.shutdown(socket.SHUT_RDWR)
        ws.shutdown()
