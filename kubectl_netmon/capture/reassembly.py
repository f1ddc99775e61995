"""In-order delivery of one TCP direction's payload, for L7 parsers and listeners.

Positions are relative sequence numbers (1 is the first payload byte after the SYN, or the first
byte seen when the capture started mid-stream). Only the first `limit` bytes are delivered, but
positions are tracked for the whole stream so content gaps (Zeek's missed_bytes) are counted
everywhere. The first copy of a byte wins; segments ahead of a hole wait in a bounded buffer.
A hole is given up on (counted as missed) when the buffer is full, when the receiver acknowledges
data beyond it, or when the connection ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Shared by every stream of an engine: how much to deliver and to hold out of order."""

    deliver: int = 64 * 1024  # payload bytes delivered per direction
    hold_bytes: int = 64 * 1024  # out-of-order bytes held per direction
    hold_segments: int = 64  # out-of-order segments held per direction
    # The first position never delivered (positions start at 1): one int shared by every stream.
    end: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "end", 1 + self.deliver)


class Stream:
    """One direction: the next position to deliver, held segments, and counted gaps.

    start is where delivery stands when the stream is made: the engine delivers in-order payload
    itself and makes a stream only when a segment comes out of order or a gap must be counted.
    """

    __slots__ = ("next", "end", "limits", "pending", "held", "missed", "gaps")

    def __init__(self, limits: Limits, start: int = 1) -> None:
        self.next = start  # position of the next byte to deliver
        self.end = limits.end  # first position never delivered
        self.limits = limits
        self.pending: dict[int, tuple[int, bytes]] | None = None  # position -> (stop, data)
        self.held = 0  # bytes held in pending
        self.missed = 0  # bytes skipped over in gaps
        self.gaps = 0  # number of gaps

    def add(self, rel: int, data: bytes) -> bytes:
        """A segment at position rel; returns the bytes that became in order (often data)."""
        nxt = self.next
        stop = rel + len(data)
        if rel == nxt and self.pending is None:
            self.next = stop
            if stop <= self.end:
                return data
            return data[: self.end - rel] if rel < self.end else b""
        if stop <= nxt:
            return b""  # everything in it was seen before: a retransmission
        if rel > nxt:
            return self._hold(rel, stop, data)
        chunks = [self._cut(rel, stop, data)]
        self._drain(chunks)
        return b"".join(chunks)

    def ack(self, upto: int) -> bytes:
        """The receiver acknowledged every byte before position upto: skip what we never saw.

        The caller leaves the FIN's sequence slot out of upto (it is no payload byte).
        """
        if upto <= self.next:
            return b""
        chunks: list[bytes] = []
        while upto > self.next:
            first = min(self.pending) if self.pending else upto
            self._skip(min(first, upto))
            self._drain(chunks)
        return b"".join(chunks)

    def flush(self) -> bytes:
        """End of the connection: skip every remaining hole and deliver what was held."""
        chunks: list[bytes] = []
        while self.pending:
            self._skip(min(self.pending))
            self._drain(chunks)
        return b"".join(chunks)

    def _hold(self, rel: int, stop: int, data: bytes) -> bytes:
        if rel >= self.end:
            data = b""  # beyond the delivery limit only the position matters
        pending = self.pending
        if pending is None:
            pending = self.pending = {}
        old = pending.get(rel)
        if old is not None:
            if stop <= old[0]:
                return b""
            data = old[1] + data[len(old[1]):]  # first copy wins where they overlap
            self.held -= len(old[1])
        pending[rel] = (stop, data)
        self.held += len(data)
        limits = self.limits
        if len(pending) <= limits.hold_segments and self.held <= limits.hold_bytes:
            return b""
        chunks: list[bytes] = []
        self._skip(min(pending))
        self._drain(chunks)
        return b"".join(chunks)

    def _skip(self, to: int) -> None:
        if to > self.next:
            self.missed += to - self.next
            self.gaps += 1
            self.next = to

    def _cut(self, rel: int, stop: int, data: bytes) -> bytes:
        """The part of data from the next position up to the delivery limit; moves next."""
        lo = self.next - rel
        hi = min(stop, self.end) - rel
        self.next = stop
        if hi <= lo:
            return b""
        return data[lo:hi] if lo or hi < len(data) else data

    def _drain(self, chunks: list[bytes]) -> None:
        pending = self.pending
        while pending:
            rel = min(pending)
            if rel > self.next:
                return
            stop, data = pending.pop(rel)
            self.held -= len(data)
            if stop > self.next:
                chunks.append(self._cut(rel, stop, data))
        self.pending = None
