"""Pod context inside a pcapng that `kubectl netmon capture` wrote, and back.

Each address a pod, Service or node held gets a Name Resolution Block: a name for Wireshark and
`tshark -N n` ("name.namespace", "name.namespace.svc"; none for a node) and a comment holding
the whole context with its times, as JSON after HOLDER_TAG:
  kubectl-netmon holder {"ip":..,"kind":..,"ns":..,"name":..,"node":..,"node_ip":..,
                         "since_ns":..,"until_ns":..|null}
A holding written again later (its end became known) repeats it with its until_ns.
Only sections whose shb_userappl names kubectl-netmon are read this way: names and comments of
other writers mean what they meant to them ("db.example" is no pod).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from kubectl_netmon import __version__
from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span, canonical_ip

APPLICATION = "kubectl-netmon"
USERAPPL = f"{APPLICATION} {__version__}"
HOLDER_TAG = f"{APPLICATION} holder "
SERVICE_SUFFIX = ".svc"
KINDS = ("pod", "service", "node")
_TEXT_FIELDS = ("kind", "ns", "name", "node", "node_ip")


def written_by_netmon(userappl: str) -> bool:
    """Whether a section's shb_userappl ("kubectl-netmon 0.2.0") says netmon wrote it."""
    return userappl.split(" ", 1)[0] == APPLICATION


def nrb_name(info: PodInfo) -> str | None:
    """The name an address gets in the capture; None for what has no namespace (a node)."""
    if not info.ns:
        return None
    suffix = SERVICE_SUFFIX if info.kind == "service" else ""
    return f"{info.name}.{info.ns}{suffix}"


def holder_comment(ip: str, span: Span) -> str:
    """The Name Resolution Block comment that carries one holding of ip."""
    info = span.info
    fields = {"ip": ip, "kind": info.kind, "ns": info.ns, "name": info.name, "node": info.node,
              "node_ip": info.node_ip, "since_ns": span.since_ns, "until_ns": span.until_ns}
    return HOLDER_TAG + json.dumps(fields, separators=(",", ":"))


def parse_holder_comment(text: str) -> tuple[str, Span] | None:
    """(canonical ip, holding) from a holder_comment(); None for any other or malformed text."""
    if not text.startswith(HOLDER_TAG):
        return None
    try:
        doc = json.loads(text[len(HOLDER_TAG):])
        ip = canonical_ip(doc["ip"])
        since, until = doc["since_ns"], doc["until_ns"]
        texts = [doc[k] for k in _TEXT_FIELDS]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (all(isinstance(t, str) for t in texts) and texts[0] in KINDS and _is_int(since)
            and (until is None or _is_int(until))):
        return None
    kind, ns, name, node, node_ip = texts
    return ip, Span(since, until, PodInfo(ns, name, node, node_ip, kind))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class RecordedPods(PodMap):
    """A PodMap over the holdings in a pcapng reader's `sections` (capture.pcapng.Section),
    which grow as the reader meets Name Resolution Blocks: each lookup() first takes in the
    comments read since. Sections netmon did not write are ignored."""

    def __init__(self, sections: Sequence) -> None:
        super().__init__()
        self._sections = sections
        self._read: list[int] = []  # per section: comments already loaded
        self._known: dict[tuple[str, int, PodInfo], int | None] = {}  # holding -> its until

    def lookup(self, ip: str, ts_ns: int) -> PodInfo | None:
        self._load()
        return super().lookup(ip, ts_ns)

    def _load(self) -> None:
        """Take in the comments that arrived since the last call."""
        read = self._read
        read.extend(0 for _ in range(len(self._sections) - len(read)))
        for i, section in enumerate(self._sections):
            comments = section.name_comments
            if read[i] == len(comments):
                continue
            new, read[i] = comments[read[i]:], len(comments)
            if written_by_netmon(section.userappl):
                for parsed in filter(None, map(parse_holder_comment, new)):
                    self._hold(*parsed)

    def _hold(self, ip: str, span: Span) -> None:
        """Add a holding, or set its end when it was written before without that end."""
        key = (ip, span.since_ns, span.info)
        if span.info.kind == "node":
            self.add_node(ip, span.info.name)
        elif key not in self._known:
            self.add(ip, span.info, span.since_ns, span.until_ns)
        elif self._known[key] != span.until_ns:
            self.close(ip, span.since_ns, span.info, span.until_ns)
        self._known[key] = span.until_ns
