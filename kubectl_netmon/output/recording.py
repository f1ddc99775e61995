"""Record a merged live capture into one pcapng that carries the pod names.

`Recording` wraps a record source (capture.merge.MergedStreams) and passes its records on
unchanged, writing each to the pcapng on the way with its original length: one interface per
capture point (its name and description), before a packet a Name Resolution Block for any
holding of its addresses (pod, Service, node) the file does not carry yet (enrich.capture_names:
the name.namespace for Wireshark, the full context with times in its comment), and a packet
comment with the pods on both sides ("demo/attacker -> demo/web"), as of the packet's time.
At the end, holdings of the captured addresses that changed or became known meanwhile (a pod's
end, a watch event that came late) are written once more, so `analyze` answers as the live
map did.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from kubectl_netmon.capture.linktypes import DECODERS
from kubectl_netmon.capture.pcapng_write import PcapngWriter, packet_options
from kubectl_netmon.capture.source import Interface, Record
from kubectl_netmon.enrich.capture_names import USERAPPL, holder_comment, nrb_name
from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span

NAMES_TTL_NS = 1_000_000_000  # names of an address pair are looked up again after this
HOLDINGS_PER_BLOCK = 512  # Name Resolution Blocks stay small (readers cap block sizes)
_UNWRITTEN = object()


class RecordSource(Protocol):
    interfaces: list[Interface]

    def records(self) -> Iterator[Record]: ...


class Recording:
    """A RecordSource that writes what passes through it (see the module doc)."""

    def __init__(self, source: RecordSource, fileobj: BinaryIO, pods: PodMap | None) -> None:
        """`pods`: who held which address when (None: record the packets only)."""
        self.interfaces = source.interfaces
        self._source = source
        self._writer = PcapngWriter(fileobj, USERAPPL)
        self._pods = pods
        self._links: list = []  # per interface: its IP offset finder (None: not IP)
        self._comments: dict[bytes, bytes] = {}  # source+destination address -> options
        self._comments_until = 0
        self._named: dict[str, str] = {}  # address -> name written into the file
        self._written: dict[tuple[str, int, PodInfo], int | None] = {}  # holding -> its until
        self._seen: set[str] = set()  # addresses looked up for packets

    def records(self) -> Iterator[Record]:
        options_of = self._options if self._pods is not None else _no_options
        yield from self._writer.write_records(self._source.records(), options_of,
                                              self._add_interfaces)
        if self._pods is not None:
            self._write_changed_holdings()
        self._writer.flush()

    def flush(self) -> None:
        """Push what was written to the file (a pipe reader sees it at once)."""
        self._writer.flush()

    def _write_holdings(self, holdings: list[tuple[str, Span]]) -> None:
        """Name Resolution Blocks carrying these holdings (names for those not named so)."""
        for at in range(0, len(holdings), HOLDINGS_PER_BLOCK):
            chunk = holdings[at:at + HOLDINGS_PER_BLOCK]
            names = [(ip, name) for ip, name in ((ip, nrb_name(s.info)) for ip, s in chunk)
                     if name and self._named.get(ip) != name]
            self._named.update(names)
            self._written.update(((ip, s.since_ns, s.info), s.until_ns) for ip, s in chunk)
            self._writer.add_names(names, [holder_comment(ip, s) for ip, s in chunk])

    def _write_changed_holdings(self) -> None:
        """The captured addresses' holdings as the pod map knows them now, where the file
        does not say so yet."""
        changed = [(ip, s) for ip in sorted(self._seen) for s in self._pods.spans(ip)
                   if self._written.get((ip, s.since_ns, s.info), _UNWRITTEN) != s.until_ns]
        self._write_holdings(changed)

    def _add_interfaces(self, upto: int) -> None:
        links = self._links
        while len(links) <= upto:
            iface = self.interfaces[len(links)]
            self._writer.add_interface(iface.linktype, iface.name, iface.description,
                                       iface.snaplen or 262144, byteorder=iface.byteorder)
            links.append(DECODERS.get(iface.linktype))

    def _options(self, ts: int, iface: int, buf: bytes, start: int, end: int) -> bytes:
        """The encoded "src pod -> dst pod" comment of an IP packet (b"" if none), cached per
        address pair for a second."""
        link = self._links[iface]
        ip = link(buf, start, end) if link is not None else -1
        version = buf[ip] >> 4 if 0 <= ip < end else 0
        if version == 4 and end - ip >= 20:
            pair = buf[ip + 12:ip + 20]
        elif version == 6 and end - ip >= 40:
            pair = buf[ip + 8:ip + 40]
        else:
            return b""
        if ts >= self._comments_until:
            self._comments.clear()
            self._comments_until = ts + NAMES_TTL_NS
        opts = self._comments.get(pair)
        if opts is None:
            half = len(pair) // 2
            opts = self._comments[pair] = packet_options(
                self._describe(pair[:half], pair[half:], ts))
        return opts

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


def _no_options(ts: int, iface: int, buf: bytes, start: int, end: int) -> bytes:
    return b""


def _text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
