"""Lookup strings in chunked streams: a chunk boundary may cut a lookup anywhere."""

from __future__ import annotations

import re

from kubectl_netmon.detect.log4shell.normalise import (
    PARTIAL_TRIGGER,
    STREAM_TRIGGER,
    Lookup,
    find_lookups,
)

_BRACE = re.compile(rb"\$\{|\}")
_ENCODED = re.compile(rb"\$%7b|%(?:25)*24|\\u00", re.IGNORECASE)


class StreamScanner:
    """Scans each direction's chunks; keeps a tail only where a lookup may straddle chunks.

    A chunk without "$", "%" or "\\" costs three byte searches and no copy (the common case);
    one with them, a regex pass before any decoding. When the end of a scanned chunk
    holds an unclosed `${` or an escaped trigger, its last tail_bytes are scanned again with the
    next chunk, so a lookup can be found twice: callers deduplicate by lookup name.
    """

    def __init__(self, tail_bytes: int) -> None:
        self._tail_bytes = tail_bytes
        self._tails: dict[tuple[str, bool], bytes] = {}

    def feed(self, uid: str, from_orig: bool, data: bytes) -> list[Lookup]:
        tails = self._tails
        key = (uid, from_orig)
        tail = tails.pop(key, None) if tails else None
        buf = tail + data if tail else data
        if b"$" not in buf and b"%" not in buf and b"\\" not in buf:
            return []
        if STREAM_TRIGGER.search(buf) is None:
            end = buf[-4:]
            if PARTIAL_TRIGGER.search(end) is not None:
                tails[key] = end
            return []
        region = buf[-self._tail_bytes:]
        if _pending(region):
            tails[key] = region
        elif PARTIAL_TRIGGER.search(region[-4:]) is not None:
            tails[key] = region[-4:]
        return find_lookups(buf)

    def drop(self, uid: str) -> None:
        """Forget a finished connection's tails."""
        self._tails.pop((uid, True), None)
        self._tails.pop((uid, False), None)


def may_trigger(data: bytes) -> bool:
    """A stream trigger could be in data: memchr-speed checks first, the regex only then."""
    if b"$" not in data and b"%" not in data and b"\\" not in data:
        return False
    return STREAM_TRIGGER.search(data) is not None


def _pending(region: bytes) -> bool:
    """Could region end inside a lookup: an unclosed `${`, or an escaped trigger?"""
    if _ENCODED.search(region) is not None:
        return True
    open_count = 0
    for token in _BRACE.findall(region):
        if token != b"}":
            open_count += 1
        elif open_count:
            open_count -= 1
    return open_count > 0
