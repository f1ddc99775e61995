"""Record a merged live capture into one pcapng that carries the pod names.

`Recording` wraps a record source (capture.merge.MergedStreams) and passes its records on
unchanged, writing each to the pcapng on the way with its original length: one interface per
capture point (its name and description), before a packet a Name Resolution Block for any
holding of its addresses (pod, Service, node) the file does not carry yet (enrich.capture_names:
the name.namespace for Wireshark, the full context with times in its comment), and a packet
comment with the pods on both sides ("demo/attacker -> demo/web"), as of the packet's time.
Holdings of the captured addresses that changed or became known meanwhile (a pod's end, a watch
event that came late) are written once more, every second of capture time while the map
changes and at the end, so `analyze` answers as the live map did (a run killed outright loses
at most the last second's).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.linktypes import DECODERS, FIXED_HEADERS
from kubectl_netmon.capture.pcapng_write import PcapngWriter, packet_options
from kubectl_netmon.capture.source import Interface, Record
from kubectl_netmon.enrich.capture_names import USERAPPL, holder_comment, nrb_name
from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span
from kubectl_netmon.errors import OutputError
from kubectl_netmon.output.escape import escape

# names of an address pair are looked up again after this, and whenever the pod map changed
NAMES_TTL_NS = 1_000_000_000
HOLDINGS_PER_BLOCK = 512  # Name Resolution Blocks stay small (readers cap block sizes)
HOLDINGS_EVERY_NS = 1_000_000_000  # changed holdings are written at most this often
_UNWRITTEN = object()
_IPV4_ETHERTYPE = b"\x08\x00"
_NO_FIXED_HEADER = (0, -1)  # (link header length, ethertype offset) of other link types


class RecordSource(Protocol):
    interfaces: list[Interface]

    def batches(self) -> Iterator[list[Record]]: ...


class Recording:
    """A RecordSource that writes what passes through it (see the module doc)."""

    def __init__(self, source: RecordSource, fileobj: BinaryIO, pods: PodMap | None,
                 name: str = "the recording") -> None:
        """`pods`: who held which address when (None: record the packets only); `name`: the
        file as its failures name it (OutputError; a broken pipe stays BrokenPipeError: the
        reader of a stream went away)."""
        self.name = name
        self.interfaces = source.interfaces
        self._source = source
        self._writer = PcapngWriter(fileobj, USERAPPL)
        self._pods = pods
        self._links: list = []  # per interface: its IP offset finder (None: not IP)
        self._fixed: list[tuple[int, int]] = []  # per interface: FIXED_HEADERS or _NO_FIXED_HEADER
        self._comments: dict[bytes, bytes] = {}  # source+destination address -> options
        self._comments_until = 0
        self._generation = 0  # of the pod map when the cached comments were made
        self._named: dict[str, str] = {}  # address -> name written into the file
        self._written: dict[tuple[str, int, PodInfo], int | None] = {}  # holding -> its until
        self._seen: set[str] = set()  # addresses looked up for packets
        self._holdings_due = 0  # capture time when changed holdings are looked for next
        self._holdings_generation = 0  # of the pod map when they were looked for last

    def records(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Record]]:
        """The source's batches, each written before it is passed on; at the end, what the
        pod map learnt meanwhile about the captured addresses."""
        links = self._links
        for batch in self._source.batches():
            try:
                if len(links) < len(self.interfaces):
                    self._add_interfaces()
                self._writer.write_batch(batch, self._options(batch) if self._pods is not None
                                         else None)
                if self._pods is not None and batch[-1][0] >= self._holdings_due:
                    self._catch_up(batch[-1][0])
            except OSError as e:
                raise write_failure(self.name, e) from None
            yield batch
        try:
            if self._pods is not None:
                self._write_changed_holdings()
            self._writer.flush()
        except OSError as e:
            raise write_failure(self.name, e) from None

    def flush(self) -> None:
        """Push what was written to the file (a pipe reader sees it at once)."""
        try:
            self._writer.flush()
        except OSError as e:
            raise write_failure(self.name, e) from None

    def _write_holdings(self, holdings: list[tuple[str, Span]]) -> None:
        """Name Resolution Blocks carrying these holdings (names for those not named so)."""
        for at in range(0, len(holdings), HOLDINGS_PER_BLOCK):
            chunk = holdings[at:at + HOLDINGS_PER_BLOCK]
            names = [(ip, name) for ip, name in ((ip, nrb_name(s.info)) for ip, s in chunk)
                     if name and self._named.get(ip) != name]
            self._named.update(names)
            self._written.update(((ip, s.since_ns, s.info), s.until_ns) for ip, s in chunk)
            self._writer.add_names(names, [holder_comment(ip, s) for ip, s in chunk])

    def _catch_up(self, ts: int) -> None:
        """Once a second of capture time: what the pod map changed since, into the file."""
        self._holdings_due = ts + HOLDINGS_EVERY_NS
        if self._pods.generation != self._holdings_generation:
            self._holdings_generation = self._pods.generation
            self._write_changed_holdings()

    def _write_changed_holdings(self) -> None:
        """The captured addresses' holdings as the pod map knows them now, where the file
        does not say so yet."""
        changed = [(ip, s) for ip in sorted(self._seen) for s in self._pods.spans(ip)
                   if self._written.get((ip, s.since_ns, s.info), _UNWRITTEN) != s.until_ns]
        self._write_holdings(changed)

    def _add_interfaces(self) -> None:
        """The source's interfaces not in the file yet."""
        for iface in self.interfaces[len(self._links):]:
            self._writer.add_interface(iface.linktype, iface.name, iface.description,
                                       iface.snaplen or 262144, byteorder=iface.byteorder)
            self._links.append(DECODERS.get(iface.linktype))
            self._fixed.append(FIXED_HEADERS.get(iface.linktype, _NO_FIXED_HEADER))

    def _options(self, batch: list[Record]) -> list[bytes]:
        """Per record, the encoded "src pod -> dst pod" comment of an IP packet (b"" if none),
        cached per address pair for a second or until the pod map changes."""
        if self._pods.generation != self._generation:  # the map changed: answers may too
            self._comments.clear()
            self._generation = self._pods.generation
        if speedups.fast is None:
            return self._looked_up(batch)
        # the cached comments of IPv4 pairs found compiled; the rest here, in their places
        found, self._comments_until, misses = speedups.fast.packet_comments(
            batch, self._fixed, self._comments, self._comments_until, NAMES_TTL_NS)
        if misses:
            rest = iter(self._looked_up([rec for rec, o in zip(batch, found) if o is None]))
            found = [o if o is not None else next(rest) for o in found]
        return found

    def _looked_up(self, batch: list[Record]) -> list[bytes]:
        """_options for each record, in the cache or made; IPv4 behind a fixed-size link header
        is found at once."""
        fixed, comments, found = self._fixed, self._comments, []
        for ts, iface, buf, start, end in batch:
            link_len, etype_at = fixed[iface]
            ip = start + link_len
            if (etype_at >= 0 and end - ip >= 20 and buf[ip] >> 4 == 4
                    and buf[start + etype_at:start + etype_at + 2] == _IPV4_ETHERTYPE):
                pair = buf[ip + 12:ip + 20]
            else:
                pair = self._pair(iface, buf, start, end)
            if ts >= self._comments_until:
                comments.clear()
                self._comments_until = ts + NAMES_TTL_NS
            opts = comments.get(pair)
            if opts is None:
                opts = comments[pair] = self._comment(pair, ts)
            found.append(opts)
        return found

    def _comment(self, pair: bytes, ts: int) -> bytes:
        if not pair:
            return b""
        half = len(pair) // 2
        return packet_options(self._describe(pair[:half], pair[half:], ts))

    def _pair(self, iface: int, buf: bytes, start: int, end: int) -> bytes:
        """Source and destination address of an IP packet, b"" if it is none."""
        link = self._links[iface]
        ip = link(buf, start, end) if link is not None else -1
        version = buf[ip] >> 4 if 0 <= ip < end else 0
        if version == 4 and end - ip >= 20:
            return buf[ip + 12:ip + 20]
        if version == 6 and end - ip >= 40:
            return buf[ip + 8:ip + 40]
        return b""

    def _describe(self, src: bytes, dst: bytes, ts: int) -> str | None:
        labels = [self._label(packed, ts) for packed in (src, dst)]
        if labels == [None, None]:
            return None
        return " -> ".join(label or _text(packed) for label, packed in zip(labels, (src, dst)))

    def _label(self, packed: bytes, ts: int) -> str | None:
        """The holder's "ns/name" (None if unknown); puts the holding in the file if new."""
        ip = _text(packed)
        self._seen.add(ip)
        span = self._pods.span(ip, ts)
        if span is None:
            return None
        if (ip, span.since_ns, span.info) not in self._written:
            self._write_holdings([(ip, span)])
        return span.info.label


def write_failure(name: str, e: OSError) -> OSError | OutputError:
    """A failed write of the recording (raised by the next call: a thread writes it) as an
    OutputError; a broken pipe as it is (the reader of a stream went away)."""
    if isinstance(e, BrokenPipeError):
        return e
    return OutputError(f"{escape(name)}: cannot write it ({escape(e.strerror or str(e))}); what "
                       "was recorded before the failure is in it")


def _text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
