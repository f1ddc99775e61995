"""The exec stream's channels (channel.k8s.io v4/v5) parsed straight from the server's raw
WebSocket bytes: the receive hot path of a live capture.

websocket-client reads each frame with several small socket reads (the 2-byte header, the
length, the payload in 16 KiB pieces joined), builds an object per frame and copies the payload
again to strip the channel byte. Here each read from the socket, whatever frames it holds, is
split in place, and the stdout it carries leaves as views of it (joined once, by the caller).
A frame or a header may end in a later read. RFC 6455 rules for a client: server frames are
unmasked, no extension bits, control frames short and whole; a ping is answered, a close ends
the stream.

Over TLS, where the extension is built, `_wsframes.FrameReader` (C) does the same with no copy
of stdout of its own: it reads each frame header exactly, so that the TLS layer puts stdout
straight into the chunk handed over, and passes every other frame to ChannelReader.frame. Both
are driven alike (fill, take; `frame_reader`). NETMON_PURE_PYTHON=1 keeps to this module's
Python.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Protocol

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255  # CLOSE: v5, client to server
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_U16 = struct.Struct("!H").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_NO_CHANNEL = -1  # a data message whose first (channel) byte has not arrived yet


# Bytes asked of one socket read: TLS hands over at most one record (16 KiB) per read, a plain
# connection what has arrived; either way every frame in it is parsed at once.
RECV = 256 * 1024


class FrameError(Exception):
    """The server broke RFC 6455 framing; the stream cannot be trusted past this point."""


class Frames(Protocol):
    """A stream's frames read into chunks of stdout: fill() reads what the socket has (a
    non-blocking socket raises when it has no more), take() hands over the stdout read."""

    closed: bool  # the server's close frame arrived
    eof: bool  # the connection ended (without a close frame unless closed)

    def fill(self, limit: int) -> None: ...

    def take(self) -> bytes: ...


def frame_reader(sock: socket.socket, reader: ChannelReader) -> Frames:
    """The compiled reader for a TLS socket where built, else the Python one."""
    tls = getattr(sock, "_sslobj", None) if isinstance(sock, ssl.SSLSocket) else None
    if tls is not None and _wsframes is not None:
        return _wsframes.FrameReader(tls.read, reader.frame, FrameError)
    return SocketFrames(sock.recv_into, reader)


class SocketFrames:
    """Frames of any socket in Python: large reads into one buffer, parsed by
    ChannelReader.feed, their stdout joined at take()."""

    def __init__(self, recv_into: Callable[[memoryview], int], reader: ChannelReader) -> None:
        self._recv, self._reader = recv_into, reader
        self._parts: list[memoryview] = []
        self._space: memoryview | None = None
        self._used = 0  # bytes read into the space since the last take()
        self.eof = False

    @property
    def closed(self) -> bool:
        return self._reader.closed

    def fill(self, limit: int) -> None:
        """Read until `limit` bytes came, the server closed, or the connection ended."""
        if self._space is None:  # reused for each chunk: no allocation per read
            self._space = memoryview(bytearray(limit + RECV))
        while self._used < limit and not self._reader.closed:
            into = self._space[self._used:self._used + RECV]
            got = self._recv(into)
            if not got:
                self.eof = True
                return
            self._used += got
            self._reader.feed(into[:got], self._parts)

    def take(self) -> bytes:
        chunk = b"".join(self._parts)
        self._parts.clear()
        self._used = 0
        return chunk


class ChannelReader:
    """Feed it the server's bytes in any pieces; `feed` returns the stdout they complete.

    stderr goes to `on_stderr` as it arrives; the channel-3 message (the final Status) is
    collected into `status` once whole; pings are answered through `pong`; `closed` is set by
    the server's close frame (`close_payload` holds its code and reason).
    """

    def __init__(self, on_stderr: Callable[[bytes], None] | None,
                 pong: Callable[[bytes], None]) -> None:
        self._on_stderr = on_stderr
        self._pong = pong
        self._head = b""  # the start of a frame header cut off by the end of a read
        self._left = 0  # payload bytes of the current frame still to come
        self._opcode = -1  # the current frame's opcode; -1 between frames
        self._fin = True  # the current data frame ends its message
        self._in_message = False  # a data message started and has not ended
        self._channel = _NO_CHANNEL
        self._control = b""  # the current control frame's payload so far
        self._error = b""  # channel 3 so far
        self.status: bytes | None = None
        self.closed = False
        self.close_payload = b""

    def feed(self, data: bytes | memoryview, out: list) -> int:
        """Parse one read of the socket: its stdout goes onto `out` in order (as views of
        `data`, which must stay unchanged until the caller joins them); how many stdout bytes
        that was."""
        size = len(data)
        if (size <= self._left and self._channel == STDOUT and self._opcode < OP_CLOSE
                and not self._head):
            # the common read of a fast stream: the middle of a stdout frame
            self._left -= size
            out.append(data)
            if not self._left:
                self._end_frame()
            return size
        if self._head:
            data, self._head = self._head + data, b""
            size = len(data)
        view, pos = memoryview(data), 0
        had = len(out)
        while not self.closed:
            if self._opcode < 0:
                start = self._header(data, pos, size)
                if start < 0:  # the header is cut off: it continues in the next read
                    self._head = bytes(data[pos:])
                    break
                pos = start
            take = min(self._left, size - pos)
            if take:
                piece = view[pos:pos + take]
                pos += take
                self._left -= take
                if self._opcode >= OP_CLOSE:
                    self._control += piece
                else:
                    self._data(piece, out)
            if self._left:
                break  # the frame continues in the next read
            self._end_frame()
            if pos >= size:
                break
        return sum(map(len, out[had:]))

    def frame(self, opcode: int, channel: int, payload: bytes, end: int) -> None:
        """Part of a frame from the compiled reader, which keeps the framing and stdout: a
        control frame whole (end 2), or a piece of another channel's payload (end 0) and its
        frame's end (end 1, or 2 where it also ends the message)."""
        if opcode >= OP_CLOSE:
            self._control = payload
        else:
            self._channel = channel
            if payload:
                self._data(payload, [])
        if end:
            self._opcode, self._fin = opcode, end == 2
            self._end_frame()

    def _header(self, data: bytes, pos: int, size: int) -> int:
        """Start the frame at pos; the position after its header, or -1 if it is cut off."""
        if size - pos < 2:
            return -1
        b0, b1 = data[pos], data[pos + 1]
        length, start = b1 & 0x7F, pos + 2
        if length == 126:
            start = pos + 4
        elif length == 127:
            start = pos + 10
        if size < start:
            return -1
        if length == 126:
            length = _U16(data, pos + 2)[0]
        elif length == 127:
            length = _U64(data, pos + 2)[0]
        if b1 & 0x80:
            raise FrameError("the server masked a frame")
        if b0 & 0x70:
            raise FrameError("reserved bits set (no extension was negotiated)")
        opcode, fin = b0 & 0x0F, bool(b0 & 0x80)
        if opcode >= OP_CLOSE:
            if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                raise FrameError(f"unknown control opcode {opcode:#x}")
            if not fin or length > 125:
                raise FrameError("a control frame must be whole and at most 125 bytes")
            self._control = b""
        elif opcode == OP_CONT:
            if not self._in_message:
                raise FrameError("a continuation frame outside a message")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._in_message:
                raise FrameError("a new message before the last one ended")
            self._in_message, self._channel = True, _NO_CHANNEL
        else:
            raise FrameError(f"unknown opcode {opcode:#x}")
        if opcode < OP_CLOSE:
            self._fin = fin
        self._opcode, self._left = opcode, length
        return start

    def _data(self, piece: memoryview, out: list) -> None:
        """Payload of a data message: its first byte names the channel of the rest."""
        if self._channel == _NO_CHANNEL:
            self._channel = piece[0]
            piece = piece[1:]
            if not piece:
                return
        channel = self._channel
        if channel == STDOUT:
            out.append(piece)
        elif channel == STDERR:
            if self._on_stderr is not None:
                self._on_stderr(bytes(piece))
        elif channel == ERROR:
            self._error += piece

    def _end_frame(self) -> None:
        opcode, self._opcode = self._opcode, -1
        if opcode == OP_PING:
            self._pong(self._control)
        elif opcode == OP_CLOSE:
            self.closed, self.close_payload = True, self._control
        elif opcode < OP_CLOSE and self._fin:
            self._in_message = False
            if self._channel == ERROR:
                self.status, self._error = self._error, b""


def _load():
    if os.environ.get("NETMON_PURE_PYTHON"):
        return None
    try:
        from kubectl_netmon.cluster import _wsframes
    except ImportError:
        return None
    return _wsframes


_wsframes = _load()
