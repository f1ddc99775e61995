"""Lookup strings in chunked streams: a chunk boundary may cut a lookup anywhere."""

from __future__ import annotations

from kubectl_netmon.detect.log4shell.normalise import (
    PARTIAL_TRIGGER,
    TRIGGER,
    Lookup,
    find_lookups,
)


class StreamScanner:
    """Scans each direction's chunks; keeps a tail only where a lookup may straddle chunks.

    Chunks without a trigger cost one regex pass and no copy. After a trigger the last
    tail_bytes are kept and scanned again with the next chunk, so a lookup found twice is
    reported by the caller once (callers deduplicate by lookup name).
    """

    def __init__(self, tail_bytes: int) -> None:
        self._tail_bytes = tail_bytes
        self._tails: dict[tuple[str, bool], bytes] = {}

    def feed(self, uid: str, from_orig: bool, data: bytes) -> list[Lookup]:
        key = (uid, from_orig)
        tail = self._tails.pop(key, None)
        buf = tail + data if tail else data
        if TRIGGER.search(buf) is None:
            end = buf[-4:]
            if PARTIAL_TRIGGER.search(end) is not None:
                self._tails[key] = end
            return []
        self._tails[key] = buf[-self._tail_bytes:]
        return find_lookups(buf)

    def drop(self, uid: str) -> None:
        """Forget a finished connection's tails."""
        self._tails.pop((uid, True), None)
        self._tails.pop((uid, False), None)
