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
import struct
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from kubectl_netmon.capture.linktypes import DECODERS
from kubectl_netmon.capture.pcapng_write import PcapngWriter
from kubectl_netmon.capture.source import Interface, Record
from kubectl_netmon.enrich.capture_names import USERAPPL, holder_comment, nrb_name
from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span

NAMES_TTL_NS = 1_000_000_000  # names of an address pair are looked up again after this
HOLDINGS_PER_BLOCK = 512  # Name Resolution Blocks stay small (readers cap block sizes)
# The original length precedes each record's data (capture.source.Interface.byteorder).
_WIRELEN = {order: struct.Struct(order + "I").unpack_from for order in "<>"}
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
        self._links: list = []  # per interface: (IP offset finder or None, wirelen unpack)
        self._comments: dict[tuple[bytes, bytes], str | None] = {}
        self._comments_until = 0
        self._named: dict[str, str] = {}  # address -> name written into the file
        self._written: dict[tuple[str, int, PodInfo], int | None] = {}  # holding -> its until
        self._seen: set[str] = set()  # addresses looked up for packets

    def records(self) -> Iterator[Record]:
        write = self._writer.write_packet
        links = self._links
        for rec in self._source.records():
            ts, iface, buf, start, end = rec
            while iface >= len(links):
                self._add_interface(self.interfaces[len(links)])
            link, wirelen = links[iface]
            comment = None
            if link is not None and self._pods is not None:
                ip = link(buf, start, end)
                if ip >= 0:
                    comment = self._comment(buf, ip, end, ts)
            write(iface, ts, buf[start:end], wirelen(buf, start - 4)[0], comment)
            yield rec
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

    def _add_interface(self, iface: Interface) -> None:
        self._writer.add_interface(iface.linktype, iface.name, iface.description,
                                   iface.snaplen or 262144)
        self._links.append((DECODERS.get(iface.linktype), _WIRELEN[iface.byteorder]))

    def _comment(self, buf: bytes, ip: int, end: int, ts: int) -> str | None:
        """"src pod -> dst pod" for an IP packet, cached per address pair for a second."""
        version = buf[ip] >> 4 if ip < end else 0
        if version == 4 and end - ip >= 20:
            src, dst = buf[ip + 12:ip + 16], buf[ip + 16:ip + 20]
        elif version == 6 and end - ip >= 40:
            src, dst = buf[ip + 8:ip + 24], buf[ip + 24:ip + 40]
        else:
            return None
        if ts >= self._comments_until:
            self._comments.clear()
            self._comments_until = ts + NAMES_TTL_NS
        key = (src, dst)
        try:
            return self._comments[key]
        except KeyError:
            comment = self._comments[key] = self._describe(src, dst, ts)
            return comment

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


def _text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
