"""Record a merged live capture into one pcapng that carries the pod names.

`Recording` wraps a record source (capture.merge.MergedStreams) and passes its records on
unchanged, writing each to the pcapng on the way: one interface per capture point (its name and
description), before a packet a Name Resolution Block for any of its addresses that a pod or
Service holds and the file does not name yet (name.namespace), and a packet comment with the
pods on both sides ("demo/attacker -> demo/web"), as of the packet's time.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol

from kubectl_netmon.capture.linktypes import DECODERS
from kubectl_netmon.capture.pcapng_write import PcapngWriter
from kubectl_netmon.capture.source import Interface, Record
from kubectl_netmon.enrich.capture_names import nrb_name
from kubectl_netmon.enrich.podmap import PodInfo, PodMap

NAMES_TTL_NS = 1_000_000_000  # names of an address pair are looked up again after this


class RecordSource(Protocol):
    interfaces: list[Interface]

    def records(self) -> Iterator[Record]: ...


class Recording:
    """A RecordSource that writes what passes through it (see the module doc)."""

    def __init__(self, source: RecordSource, fileobj: BinaryIO, pods: PodMap | None,
                 current: dict[str, PodInfo] | None = None) -> None:
        """`current`: who holds which address now, named in the file before any packet."""
        self.interfaces = source.interfaces
        self._source = source
        self._writer = PcapngWriter(fileobj)
        self._pods = pods
        self._links: list = []
        self._comments: dict[tuple[bytes, bytes], str | None] = {}
        self._comments_until = 0
        self._named: dict[str, str] = {}  # address -> name written into the file
        self._name_all((current or {}).items())

    def records(self) -> Iterator[Record]:
        write = self._writer.write_packet
        links = self._links
        for rec in self._source.records():
            ts, iface, buf, start, end = rec
            while iface >= len(links):
                self._add_interface(self.interfaces[len(links)])
            link = links[iface]
            comment = None
            if link is not None and self._pods is not None:
                ip = link(buf, start, end)
                if ip >= 0:
                    comment = self._comment(buf, ip, end, ts)
            write(iface, ts, buf[start:end], comment=comment)
            yield rec
        self._writer.flush()

    def flush(self) -> None:
        """Push what was written to the file (a pipe reader sees it at once)."""
        self._writer.flush()

    def _name_all(self, holders: Iterable[tuple[str, PodInfo]]) -> None:
        """One Name Resolution Block naming each address not named so yet."""
        new = [(ip, name) for ip, name in ((ip, nrb_name(info)) for ip, info in holders)
               if name and self._named.get(ip) != name]
        self._named.update(new)
        self._writer.add_names(new)

    def _add_interface(self, iface: Interface) -> None:
        self._writer.add_interface(iface.linktype, iface.name, iface.description,
                                   iface.snaplen or 262144)
        self._links.append(DECODERS.get(iface.linktype))

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
        """The holder's "ns/name" (None if unknown); names the address in the file if new."""
        ip = _text(packed)
        info = self._pods.lookup(ip, ts)
        if info is None:
            return None
        self._name_all([(ip, info)])
        return info.label


def _text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
