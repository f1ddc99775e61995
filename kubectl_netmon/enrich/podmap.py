"""Who held an IP address at a given time: pods (with lifetimes), then nodes as a fallback.

A pods JSON snapshot and a live cluster watch feed the same PodMap through add() and end(); the
outputs only call lookup(), once per connection end point.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class PodInfo:
    """The Kubernetes context of an address (Zeek field names orig_pod.ns, .name, .node, .node_ip).

    kind is "pod", "node" (a node's own address, which every hostNetwork pod on it shares; ns is
    then "") or "service" (a ClusterIP).
    """

    ns: str
    name: str
    node: str = ""
    node_ip: str = ""
    kind: str = "pod"

    @property
    def label(self) -> str:
        """A table cell: "ns/name" for namespaced objects, the bare name for a node."""
        return f"{self.ns}/{self.name}" if self.ns else self.name


class Span(NamedTuple):
    """One holding of an address: info held it from since_ns until until_ns (None: still does)."""

    since_ns: int
    until_ns: int | None
    info: PodInfo


def canonical_ip(text: str) -> str:
    """The address as capture.model.ip_str writes it (compressed IPv6), so lookups match.

    Raises ValueError for text that is not an address.
    """
    return ipaddress.ip_address(text.strip()).compressed


class PodMap:
    """Per IP, intervals [since_ns, until_ns) -> PodInfo; a node's address answers when no pod does.

    When intervals overlap (a snapshot knows no exact history, a watch may miss a delete), the
    one that started last wins: it is the latest assignment of that address at that time.
    `generation` changes with every change, so that a cache of answers knows when to forget.
    """

    def __init__(self) -> None:
        self._pods: dict[str, list[list]] = {}  # ip -> [[since_ns, until_ns|None, PodInfo], ...]
        self._nodes: dict[str, PodInfo] = {}
        self.generation = 0

    def add(self, ip: str, info: PodInfo, since_ns: int = 0, until_ns: int | None = None) -> None:
        """Record that info held ip from since_ns (0: as far back as we know) until until_ns
        (None: still holds it)."""
        self._pods.setdefault(canonical_ip(ip), []).append([since_ns, until_ns, info])
        self.generation += 1

    def end(self, ip: str, until_ns: int) -> None:
        """The current holder of ip gave it up at until_ns (a live watch saw the pod go)."""
        still_open = [e for e in self._pods.get(canonical_ip(ip), ()) if e[1] is None]
        if still_open:
            max(still_open, key=lambda e: e[0])[1] = until_ns
            self.generation += 1

    def close(self, ip: str, since_ns: int, info: PodInfo, until_ns: int | None) -> None:
        """Set the end of the holding of ip by info that began at since_ns (a recording read
        back learns it after the start)."""
        for entry in self._pods.get(canonical_ip(ip), ()):
            if entry[0] == since_ns and entry[2] == info:
                entry[1] = until_ns
                self.generation += 1

    def add_node(self, ip: str, node: str) -> None:
        """A node's own address. hostNetwork pods send from it too and a packet cannot tell which
        of them did, so the address names the node (ns "", name = node)."""
        ip = canonical_ip(ip)
        self._nodes[ip] = PodInfo(ns="", name=node, node=node, node_ip=ip, kind="node")
        self.generation += 1

    def lookup(self, ip: str, ts_ns: int) -> PodInfo | None:
        """The pod that held ip (canonical text) at ts_ns, else the node with that address."""
        best = self._holding(ip, ts_ns)
        return best[2] if best is not None else self._nodes.get(ip)

    def span(self, ip: str, ts_ns: int) -> Span | None:
        """lookup() with the times of the holding it answers from (a node: from 0, open)."""
        best = self._holding(ip, ts_ns)
        if best is not None:
            return Span(*best)
        node = self._nodes.get(ip)
        return Span(0, None, node) if node is not None else None

    def spans(self, ip: str) -> list[Span]:
        """Every holding of ip (canonical text) known, pods first, then its node if any."""
        found = [Span(*entry) for entry in self._pods.get(ip, ())]
        node = self._nodes.get(ip)
        return found + [Span(0, None, node)] if node is not None else found

    def _holding(self, ip: str, ts_ns: int) -> list | None:
        """The entry [since, until, info] of the pod that held ip at ts_ns."""
        best = None
        for entry in self._pods.get(ip, ()):
            since, until, _ = entry
            if since <= ts_ns and (until is None or ts_ns < until) and (
                    best is None or since >= best[0]):
                best = entry
        return best

    def earliest(self, ip: str) -> int | None:
        """Where the map's knowledge of ip (canonical text) as a pod address begins: the earliest
        since of its pods, None when no pod ever held it. A time before it cannot be attributed."""
        entries = self._pods.get(ip)
        return min(e[0] for e in entries) if entries else None

    def __len__(self) -> int:
        """How many addresses are known (pods, services and nodes)."""
        return len(self._pods) + len(self._nodes)
