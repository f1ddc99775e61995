"""What every capture reader shares: its interfaces, the damage note, and chunked reading.

Readers parse records straight out of large chunks (`unpack_from` on the buffer) instead of one
`read()` per record; `Chunks.refill` is only called at chunk boundaries, so it is off the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from kubectl_netmon.output.escape import escape

CHUNK = 1 << 20
# Wireshark's largest standard packet size; the limit when a file gives no snap length.
MAX_SNAPLEN = 262144

# A record as the readers yield it: (ts_ns, global interface index, buffer, start, end).
Record = tuple[int, int, bytes, int, int]


class Interface(NamedTuple):
    """One capture interface; `Packet.iface` indexes `CaptureReader.interfaces`.

    name and description come from the file: untrusted text, escape before output.
    byteorder ("<" or ">") is that of the file's record headers: the 4 bytes before each
    record's data (buf[start - 4:start]) are its original (on-wire) length, in pcap and pcapng.
    """

    linktype: int
    name: str = ""
    description: str = ""
    snaplen: int = 0
    byteorder: str = "<"


class Damage:
    """Why reading stopped before the end of the input; every packet before it was yielded."""

    __slots__ = ("name", "offset", "packets", "kind", "detail")

    def __init__(self, name: str, offset: int, packets: int, kind: str, detail: str) -> None:
        self.name = name
        self.offset = offset
        self.packets = packets
        self.kind = kind
        self.detail = detail

    def __str__(self) -> str:
        plural = "" if self.packets == 1 else "s"
        return (f"{escape(self.name)}: capture {self.kind} at byte {self.offset} after "
                f"{self.packets} packet{plural} ({self.detail})")


class Chunks:
    """A byte stream read in large chunks; tracks the file offset of the current buffer.

    A chunk is handed to the reader in place; only the bytes that continue a block from the
    previous buffer are copied (what completes that block), the rest of the chunk is handed on
    in place next. A failed read (disk error, connection reset) ends the stream like EOF and is
    kept in `error` so the reader can say why the capture stopped.
    """

    __slots__ = ("_read", "base", "error", "_rest", "_rest_at")

    def __init__(self, fileobj: BinaryIO) -> None:
        # read1 returns what a pipe has now instead of waiting for a full chunk (live streams).
        read1 = getattr(fileobj, "read1", None)
        self._read = read1 if read1 is not None else fileobj.read
        self.base = 0  # file offset of the current buffer's first byte
        self.error: str | None = None
        self._rest, self._rest_at = b"", 0  # a chunk not yet handed on from _rest_at

    def holds(self, need: int) -> bool:
        """Whether a chunk already read holds the next `need` bytes, so that a refill for them
        will not wait: a reader hands its records on only before a refill that may wait, so a
        block that crossed two chunks goes on with the next chunk's records, not alone."""
        return len(self._rest) - self._rest_at >= need

    def refill(self, buf: bytes, pos: int, need: int) -> tuple[bytes, int]:
        """The input from buf[pos] on, as (buffer, start) with at least `need` bytes from start,
        or fewer at the end of input."""
        self.base += pos
        data = buf[pos:]
        if not data:
            chunk, at = self._next()
            if len(chunk) - at >= need or not chunk:
                self.base -= at
                return chunk, at
            data = chunk[at:]
        while len(data) < need:
            chunk, at = self._next()
            if not chunk:
                break
            stop = at + need - len(data)
            data += chunk[at:stop]
            if stop < len(chunk):
                self._rest, self._rest_at = chunk, stop
        return data, 0

    def unread(self) -> bytes:
        """What was read from the stream but not yet handed on by a refill."""
        return self._rest[self._rest_at:]

    def _next(self) -> tuple[bytes, int]:
        """The rest of the last chunk (in place), else the next chunk; (b"", 0) at the end."""
        if self._rest:
            rest, self._rest = self._rest, b""
            return rest, self._rest_at
        if self.error is not None:
            return b"", 0
        try:
            return self._read(CHUNK), 0
        except OSError as e:
            self.error = e.strerror or str(e)
            return b"", 0


class CaptureReader:
    """Base of the pcap and pcapng readers.

    Iterating yields `(ts_ns, iface, data)`; `records()` yields the same without copying the
    data out of the read buffer, for the decoder. After iteration, `damage` says why reading
    stopped early, or is None; `notes` are what the reader read on but the user should know
    (one line each). `name_records` maps IP text to a name from pcapng Name Resolution Blocks
    (untrusted text, escape before output).
    """

    def __init__(self, name: str, fileobj: BinaryIO, head: bytes, owns_file: bool = True,
                 chunks: Chunks | None = None) -> None:
        """`head`: the first buffer, from `chunks` (the stream's reading, which goes on)."""
        self.name = name
        self.interfaces: list[Interface] = []
        self.name_records: dict[str, str] = {}
        self.damage: Damage | None = None
        self.notes: list[str] = []
        self._file = fileobj
        self._chunks = chunks if chunks is not None else Chunks(fileobj)
        self._head = head
        self._owns_file = owns_file

    def records(self) -> Iterator[Record]:
        """Yield (ts_ns, iface, buf, start, end) per packet; the packet is buf[start:end]."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Record]]:
        """The records in lists: all that one read of the input held, handed on before the
        next read (which may wait). The hot path loops over lists instead of resuming a
        generator per record."""
        batch: list[Record] = []
        for _ in self._parse(batch):
            if batch:
                yield batch[:]
                batch.clear()
        if batch:
            yield batch

    def _parse(self, out: list[Record]) -> Iterator[None]:
        """Parse the input, appending each record to `out`; yield before each read of more."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        for ts_ns, iface, buf, start, end in self.records():
            yield ts_ns, iface, buf[start:end]

    def _damaged(self, offset: int, packets: int, kind: str, detail: str) -> None:
        self.damage = Damage(self.name, offset, packets, kind, detail)

    def _cut(self, pos: int, packets: int, detail: str) -> None:
        """The stream ended (or failed) inside a record starting at buffer position pos."""
        error = self._chunks.error
        self._damaged(self._chunks.base + pos, packets, "truncated",
                      f"read failed: {error}" if error else detail)

    def close(self) -> None:
        """Close the underlying file if the reader opened it (stdin stays open)."""
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
