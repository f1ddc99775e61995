"""Per log record: its time, and who held each address then, from the raw bytes of a Zeek log.

Zeek writes `ts` as epoch seconds ("1639421287.179170") or, with JSON::TS_ISO8601, as
"2022-03-08T18:54:18.846539Z"; addresses as text. Both are parsed once per record with caches
for what repeats (address canonical forms, the second of an ISO time), since this runs for every
line of logs that can hold millions.
"""

from __future__ import annotations

import calendar
import ipaddress
import time

from kubectl_netmon.enrich.podmap import PodInfo, PodMap

# A record whose time comes before anything the map knows about one of its addresses.
EARLY = PodInfo(ns="", name="", kind="unknown-then")
_UNSEEN = object()
_MILLIS_FROM = 1e11  # as seconds the year 5138; as milliseconds 1973: a TS_MILLIS value


class Resolver:
    """Address + time -> PodInfo, None (not a cluster address then) or EARLY (not guessed).

    The map must not change while a Resolver is in use: what an address that no pod ever held
    resolves to (its node, or nothing) is learnt once and kept, so most external addresses cost
    one dict lookup.
    """

    def __init__(self, pods: PodMap) -> None:
        self._pods = pods
        self._known: dict[bytes, str | PodInfo | None] = {}

    def resolve(self, ip: bytes, ts_ns: int) -> PodInfo | None:
        entry = self._known.get(ip, _UNSEEN)
        if entry is _UNSEEN:
            entry = self._known[ip] = self._learn(ip)
        if type(entry) is not str:
            return entry  # the same answer at every time
        info = self._pods.lookup(entry, ts_ns)
        if info is None and ts_ns < self._pods.earliest(entry):
            return EARLY
        return info

    def _learn(self, ip: bytes) -> str | PodInfo | None:
        """The canonical address when pods held it (the answer depends on time), else the
        fixed answer: the node with that address, or None."""
        key = _canonical(ip)
        if not key:
            return None
        return key if self._pods.earliest(key) is not None else self._pods.lookup(key, 0)


class TimeParser:
    """Zeek `ts` text -> ns since the epoch; None when it is not a time. Zeek writes epoch
    seconds, or in JSON (LogAscii::json_timestamps) JSON::TS_MILLIS integers or TS_ISO8601."""

    def __init__(self) -> None:
        self._second = b""
        self._second_ns = 0

    def ns(self, text: bytes) -> int | None:
        try:
            seconds = float(text)
            return int(seconds * (1e9 if seconds < _MILLIS_FROM else 1e6))
        except ValueError:
            return self._iso(text)
        except OverflowError:  # "inf"
            return None

    def _iso(self, text: bytes) -> int | None:
        """"2022-03-08T18:54:18.846539Z": the second is cached, the fraction added."""
        second, _, rest = text.partition(b".")
        if second != self._second:
            try:
                parsed = time.strptime(second.rstrip(b"Z").decode("ascii"), "%Y-%m-%dT%H:%M:%S")
            except (ValueError, UnicodeDecodeError):
                return None
            self._second, self._second_ns = second, calendar.timegm(parsed) * 1_000_000_000
        digits = rest.rstrip(b"Z")
        if not digits.isdigit():
            return self._second_ns if not digits else None
        return self._second_ns + int(digits[:9].ljust(9, b"0"))


def _canonical(ip: bytes) -> str:
    """The PodMap key for an address as Zeek wrote it ("" when it is not an address)."""
    try:
        return ipaddress.ip_address(ip.decode("ascii")).compressed
    except (ValueError, UnicodeDecodeError):
        return ""
