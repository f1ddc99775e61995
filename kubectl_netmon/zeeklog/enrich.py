"""Add orig_pod.* and resp_pod.* to any Zeek log with id.orig_h/id.resp_h, keeping its format.

Streams line by line and never rebuilds a record it does not have to: a JSON line gets the pod
fields spliced in before its closing brace, a TSV line gets them appended as columns (the
#fields and #types headers grow to match). Only a line that already carries pod fields (a log
enriched before) is decoded and rewritten, so its old values are replaced rather than repeated.
A record whose time predates what the map knows about one of its addresses gets nothing for that
address and is counted: an address reused since then must not be guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape
from kubectl_netmon.zeeklog.ascii import Header, escape_cell
from kubectl_netmon.zeeklog.podfields import LOG_FIELDS, LOG_TYPES, POD_KEYS, pod_values
from kubectl_netmon.zeeklog.resolve import EARLY, Resolver, TimeParser

# Keys found by their quoted text: `"id.orig_h":"` cannot occur inside a JSON string value (the
# quote after the h would have to be escaped there), so the first match is the key.
_TS_KEY, _ORIG_KEY, _RESP_KEY = b'"ts":', b'"id.orig_h":"', b'"id.resp_h":"'
_TS_LEN, _ADDR_LEN, _QUOTE = len(_TS_KEY), len(_ORIG_KEY), ord('"')
_encode = json.JSONEncoder(separators=(",", ":")).encode
_FIELDS_TS, _FIELDS_ORIG, _FIELDS_RESP = b"ts", b"id.orig_h", b"id.resp_h"
_POD_FIELD_BYTES = frozenset(f.encode() for f in LOG_FIELDS)


@dataclass
class EnrichStats:
    """What one run did: records read, records given pod context, records left alone."""

    records: int = 0
    enriched: int = 0  # at least one end point named
    early: int = 0  # an end point known only from a later time: left unenriched
    unreadable: int = 0  # no time or addresses found: passed through unchanged

    def add(self, other: EnrichStats) -> None:
        self.records += other.records
        self.enriched += other.enriched
        self.early += other.early
        self.unreadable += other.unreadable


def enrich_lines(lines: Iterable[bytes], pods: PodMap, stats: EnrichStats,
                 name: str = "-") -> Iterator[bytes]:
    """The lines of one Zeek log (JSON or TSV, told apart by the first line), enriched."""
    it = iter(lines)
    for first in it:
        if first.strip():
            break
        yield first
    else:
        return
    resolver = Resolver(pods)
    if first.startswith(b"{"):
        yield from _json_lines(chain((first,), it), resolver, stats)
    elif first.startswith(b"#"):
        yield from _tsv_lines(chain((first,), it), resolver, stats)
    else:
        raise UsageError(f"{escape(name)}: not a Zeek log (neither JSON lines nor a TSV log "
                         "starting with #separator)")


def _json_lines(lines: Iterable[bytes], resolver: Resolver, stats: EnrichStats
                ) -> Iterator[bytes]:
    resolve, ts_ns = resolver.resolve, TimeParser().ns
    frag = {side: _Fragments(side) for side in ("orig", "resp")}
    orig_frag, resp_frag = frag["orig"].json, frag["resp"].json
    orig_done, resp_done = frag["orig"].json_done, frag["resp"].json_done
    records = enriched = early = unreadable = 0
    try:
        for line in lines:
            if line[:1] != b"{" and not line.strip():
                yield line
                continue
            records += 1
            if line[-2:] == b"}\n" and b"_pod." not in line and (keys := _json_keys(line)) and (
                    ts := ts_ns(keys[0])) is not None:
                o, r = resolve(keys[1], ts), resolve(keys[2], ts)
                fo, fr = orig_done.get(id(o)), resp_done.get(id(r))
                yield b"".join((line[:-2], orig_frag(o) if fo is None else fo,
                                resp_frag(r) if fr is None else fr, b"}\n"))
            else:
                out = _json_rewrite(line, resolve, ts_ns, frag)
                if out is None:
                    unreadable += 1
                    yield line
                    continue
                new, o, r = out
                yield new
            if o is EARLY or r is EARLY:
                early += 1
            if (o is not None and o is not EARLY) or (r is not None and r is not EARLY):
                enriched += 1
    finally:
        stats.add(EnrichStats(records, enriched, early, unreadable))


def _json_keys(body: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The raw ts, id.orig_h and id.resp_h of a JSON record, or None when one is missing."""
    t, o, r = body.find(_TS_KEY), body.find(_ORIG_KEY), body.find(_RESP_KEY)
    if t < 0 or o < 0 or r < 0:
        return None
    t += _TS_LEN
    o += _ADDR_LEN
    r += _ADDR_LEN
    if body[t] == _QUOTE:
        ts = body[t + 1:body.find(b'"', t + 1)]
    else:
        end = body.find(b",", t)
        ts = body[t:end if end > 0 else -2]
    return ts, body[o:body.find(b'"', o)], body[r:body.find(b'"', r)]


def _json_rewrite(line: bytes, resolve, ts_ns, frag: dict) -> tuple | None:
    """The slow path: decode the record, drop old pod fields, add new ones; None if unusable."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(rec, dict):
        return None
    orig_h, resp_h, ts = rec.get("id.orig_h"), rec.get("id.resp_h"), rec.get("ts")
    if not (isinstance(orig_h, str) and isinstance(resp_h, str) and ts is not None):
        return None
    ts = ts_ns(str(ts).encode())
    if ts is None:
        return None
    for key in LOG_FIELDS:
        rec.pop(key, None)
    o, r = resolve(orig_h.encode(), ts), resolve(resp_h.encode(), ts)
    body = _encode(rec).encode()[:-1]
    return body + frag["orig"].json(o) + frag["resp"].json(r) + b"}\n", o, r


class _Fragments:
    """What one side of a record adds, rendered once per holder and reused for every record.

    Keyed by the holder's identity: a PodInfo lives as long as the map, and hashing its fields
    for every record would cost more than the rest of the lookup.
    """

    def __init__(self, side: str) -> None:
        self._side = side
        self.json_done: dict[int, bytes] = {id(None): b"", id(EARLY): b""}  # by id(holder)
        self._tsv: dict[int, bytes] = {}
        self._keep: list[PodInfo] = []  # holds every keyed PodInfo so its id stays unique

    def json(self, info: PodInfo | None) -> bytes:
        out = self.json_done.get(id(info))
        if out is None:
            self._keep.append(info)
            out = self.json_done[id(info)] = b"".join(
                b',"%s_pod.%s":%s' % (self._side.encode(), key.encode(), _encode(v).encode())
                for key, v in zip(POD_KEYS, pod_values(info)) if v)
        return out

    def tsv(self, info: PodInfo | None, header: Header) -> bytes:
        out = self._tsv.get(id(info))
        if out is None:
            if info is None or info is EARLY:
                cells = [header.unset_field] * len(POD_KEYS)
            else:
                self._keep.append(info)
                cells = [escape_cell(v, header) if v else header.unset_field
                         for v in pod_values(info)]
            out = self._tsv[id(info)] = header.separator + header.separator.join(cells)
        return out


@dataclass
class _Columns:
    """Where ts and the addresses are in one #fields block, and which old pod columns to drop."""

    ts: int
    orig: int
    resp: int
    keep: list[int] | None  # None: keep every column (the log had no pod fields yet)
    last: int = 0  # the last column read
    split: int = -1  # maxsplit: just past `last`, or every column when some are dropped

    @classmethod
    def of(cls, fields: list[bytes]) -> _Columns | None:
        if not {_FIELDS_TS, _FIELDS_ORIG, _FIELDS_RESP} <= set(fields):
            return None
        keep = [i for i, f in enumerate(fields) if f not in _POD_FIELD_BYTES]
        idx = [fields.index(f) for f in (_FIELDS_TS, _FIELDS_ORIG, _FIELDS_RESP)]
        all_kept = len(keep) == len(fields)
        return cls(*idx, keep=None if all_kept else keep, last=max(idx),
                   split=max(idx) + 1 if all_kept else -1)

    def kept(self, values: list[bytes]) -> list[bytes]:
        return values if self.keep is None else [values[i] for i in self.keep]


def _tsv_lines(lines: Iterable[bytes], resolver: Resolver, stats: EnrichStats
               ) -> Iterator[bytes]:
    header = Header()
    resolve, ts_ns = resolver.resolve, TimeParser().ns
    orig, resp = _Fragments("orig"), _Fragments("resp")
    cols: _Columns | None = None
    records = enriched = early = unreadable = 0
    try:
        for line in lines:
            if line.startswith(b"#"):
                header, cols = _tsv_header(line, header, cols)
                if line.startswith(b"#fields"):  # cells rendered for the old markers go
                    orig, resp = _Fragments("orig"), _Fragments("resp")
                yield _tsv_header_line(line, header, cols)
                continue
            body = line.rstrip(b"\r\n")
            if not body:
                yield line
                continue
            records += 1
            if cols is None:
                unreadable += 1
                yield line
                continue
            values = body.split(header.separator, cols.split)
            if len(values) <= cols.last:
                unreadable += 1
                yield line
                continue
            ts = ts_ns(values[cols.ts])
            if ts is None:
                unreadable += 1
                yield line
                continue
            o, r = resolve(values[cols.orig], ts), resolve(values[cols.resp], ts)
            if cols.keep is not None:
                body = header.separator.join(cols.kept(values))
            if o is EARLY or r is EARLY:
                early += 1
            if (o is not None and o is not EARLY) or (r is not None and r is not EARLY):
                enriched += 1
            yield body + orig.tsv(o, header) + resp.tsv(r, header) + b"\n"
    finally:
        stats.add(EnrichStats(records, enriched, early, unreadable))


def _tsv_header(line: bytes, header: Header, cols: _Columns | None
                ) -> tuple[Header, _Columns | None]:
    """Absorb a header line; a #separator line starts a new log (concatenated logs)."""
    body = line.rstrip(b"\r\n")
    if body.startswith(b"#separator "):
        header = Header()
        cols = None
    header.absorb(body)
    if body.startswith(b"#fields" + header.separator):
        cols = _Columns.of(header.values(body))
    return header, cols


def _tsv_header_line(line: bytes, header: Header, cols: _Columns | None) -> bytes:
    """#fields and #types grow by the pod columns (old ones dropped); other lines as they are."""
    body = line.rstrip(b"\r\n")
    sep = header.separator
    if cols is None or not body.startswith((b"#fields" + sep, b"#types" + sep)):
        return line
    key, values = body.split(sep, 1)[0], header.values(body)
    added = LOG_FIELDS if key == b"#fields" else LOG_TYPES
    return sep.join([key, *cols.kept(values), *(a.encode() for a in added)]) + b"\n"
