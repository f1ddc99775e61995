"""RFC 6455 server side: handshake, frames, fragmentation, ping/pong and the close handshake."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
from typing import BinaryIO

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_H16 = struct.Struct("!BBH")
_H64 = struct.Struct("!BBQ")
_CLOSE = struct.Struct("!H")
MAX_MESSAGE = 16 << 20


class ProtocolError(Exception):
    """The peer broke RFC 6455 (unmasked frame, bad opcode, oversized message)."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


class WebSocket:
    """One server-side connection over a buffered reader and a writer; sends are thread-safe."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO) -> None:
        self._r, self._w = rfile, wfile
        self._send_lock = threading.Lock()
        self.close_sent = False
        self.close_received = False

    def send(self, opcode: int, payload: bytes = b"") -> None:
        """One unfragmented frame (servers never mask)."""
        n = len(payload)
        if n < 126:
            header = bytes((0x80 | opcode, n))
        elif n < 65536:
            header = _H16.pack(0x80 | opcode, 126, n)
        else:
            header = _H64.pack(0x80 | opcode, 127, n)
        with self._send_lock:
            if self.close_sent:
                return
            self._w.write(header + payload)
            self._w.flush()
            if opcode == OP_CLOSE:
                self.close_sent = True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start (or answer) the close handshake."""
        try:
            self.send(OP_CLOSE, _CLOSE.pack(code) + reason.encode())
        except OSError:
            self.close_sent = True

    def _frame(self) -> tuple[bool, int, bytes]:
        head = self._read(2)
        fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        if head[0] & 0x70:
            raise ProtocolError("reserved bits set")
        masked, n = bool(head[1] & 0x80), head[1] & 0x7F
        if not masked:
            raise ProtocolError("client frames must be masked")
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        if n > MAX_MESSAGE:
            raise ProtocolError("frame too large")
        mask = self._read(4)
        data = self._read(n)
        if n:
            data = (int.from_bytes(data, "big") ^ _trim(mask, n)).to_bytes(n, "big")
        return fin, opcode, data

    def _read(self, n: int) -> bytes:
        data = self._r.read(n) if n else b""
        if len(data) < n:
            raise EOFError("connection closed")
        return data

    def receive(self) -> tuple[int, bytes] | None:
        """The next data message (opcode, payload), answering pings; None once closed."""
        message, first = b"", None
        while True:
            fin, opcode, data = self._frame()
            if opcode == OP_PING:
                self.send(OP_PONG, data)
            elif opcode == OP_PONG:
                continue
            elif opcode == OP_CLOSE:
                self.close_received = True
                code = _CLOSE.unpack(data[:2])[0] if len(data) >= 2 else 1000
                self.close(code if code != 1005 else 1000)
                return None
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if (opcode == OP_CONT) == (first is None):
                    raise ProtocolError("unexpected continuation frame")
                first = opcode if first is None else first
                message += data
                if len(message) > MAX_MESSAGE:
                    raise ProtocolError("message too large")
                if fin:
                    return first, message
            else:
                raise ProtocolError(f"unknown opcode {opcode}")


def _trim(mask: bytes, n: int) -> int:
    """The 4-byte mask repeated over n bytes, as one integer."""
    return int.from_bytes((mask * (n // 4 + 1))[:n], "big")
