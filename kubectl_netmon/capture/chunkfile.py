"""A read-only binary file over an iterator of byte chunks (a remote dumpcap's stdout over exec),
so the capture readers parse a live stream with the same code that parses a file.

`before_wait` is called each time the next chunk must be pulled (which may block), and again
for each empty chunk (a source's sign that it is quiet, see ExecStream.idle_every): a consumer
batching the records parsed so far hands them on there, so a quiet stream's last packet is not
held back until the next one arrives; one reading in the main thread runs its clocks there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class ChunkFile:
    """`read1` returns what the current chunk holds (at least one byte unless the stream ended);
    `read` fills the requested size across chunks. Empty chunks are skipped. close() (also from
    before_wait) ends the stream."""

    def __init__(self, chunks: Iterable[bytes],
                 before_wait: Callable[[], None] | None = None) -> None:
        self._chunks = iter(chunks)
        self._rest = b""
        self._before_wait = before_wait
        self._ended = False
        self.closed = False

    def read1(self, size: int = -1) -> bytes:
        data = self._rest or self._next()
        if size < 0 or len(data) <= size:
            self._rest = b""
            return data
        self._rest = data[size:]
        return data[:size]

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = size
        while want != 0:
            data = self.read1(want)
            if not data:
                break
            parts.append(data)
            if want > 0:
                want -= len(data)
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def _next(self) -> bytes:
        if self.closed or self._ended:
            return b""
        if self._before_wait is not None:
            self._before_wait()
        for chunk in self._chunks:
            if chunk:
                return chunk
            if self._before_wait is not None:
                self._before_wait()
            if self.closed:
                return b""
        self._ended = True
        return b""
