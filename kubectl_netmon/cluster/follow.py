"""A capture of a workload, -l or --ns follows its pods: which pods the pod watch shows starting
(Running, matching a target selector in the targets' namespace) and which captured pods ended.

The pod watch (cluster.podsource) passes every pod object it sees to `Follow.seen`; the pods
resolved at start are recognised on first sight and not captured twice. New pods wait until
`start()` gives them a handler (the capture session is connected by then).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from kubectl_netmon.cluster.targets import PodRef, Targets

_ENDED_PHASES = ("Succeeded", "Failed")
# A selector's terms are separated by commas outside parentheses ("a in (x,y),b").
_TERMS = re.compile(r",(?![^()]*\))")
_TERM = re.compile(r"(?P<absent>!)?\s*(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=|>|<)\s*"
                   r"(?P<value>[\w.-]*)|\s(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?")

_INT = re.compile(r"[+-]?[0-9]+")
Requirement = tuple[str, str, frozenset[str]]  # (key, operator, values)


def parse_selector(selector: str) -> list[Requirement] | None:
    """A label selector in -l syntax (=, ==, !=, in, notin, key, !key, and > or < an integer)
    as requirements; None for one this cannot read (the API server took it: its new pods are
    just not followed)."""
    reqs: list[Requirement] = []
    for term in filter(None, (t.strip() for t in _TERMS.split(selector))):
        m = _TERM.fullmatch(term)
        if m is None:
            return None
        if m["op"] in (">", "<"):
            if not _is_int(m["value"]):
                return None
            op, values = m["op"], frozenset([m["value"]])
        elif m["op"]:
            op, values = ("!=" if m["op"] == "!=" else "="), frozenset([m["value"]])
        elif m["set"]:
            op, values = m["set"], frozenset(v.strip() for v in m["values"].split(","))
        else:
            op, values = ("!" if m["absent"] else "exists"), frozenset()
        reqs.append((m["key"], op, values))
    return reqs


def matches(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    """Whether labels satisfy every requirement (as the API server decides it)."""
    for key, op, values in reqs:
        value = labels.get(key)
        if op in (">", "<"):  # the label must be an integer too (labels.Requirement.Matches)
            [bound] = values
            ok = _is_int(value) and (int(value) > int(bound) if op == ">" else
                                     int(value) < int(bound))
        else:
            ok = {"=": value in values, "in": value in values, "exists": value is not None,
                  "!=": value not in values, "notin": value not in values,
                  "!": value is None}[op]
        if not ok:
            return False
    return True


def _is_int(text: str | None) -> bool:
    """What Go's strconv.ParseInt(text, 10, 64) takes (no "_", no spaces, as int() would)."""
    return bool(text and _INT.fullmatch(text)) and -2**63 <= int(text) < 2**63


class Follow:
    """Decides, from the pod watch, which pods a running capture gains and which it lost."""

    def __init__(self, targets: Targets, container: str = "") -> None:
        self._namespace = targets.namespace
        self._selectors = [r for r in map(parse_selector, targets.selectors) if r is not None]
        self._container = container
        self._initial = set(targets.pods)  # captured from the start: known by uid once seen
        self._captured: dict[str, PodRef] = {}  # uid -> the pod, as captured
        self._ended: set[PodRef] = set()
        self._waiting: list[PodRef] = []
        self._on_new: Callable[[list[PodRef]], None] | None = None
        self._on_end: Callable[[PodRef], None] | None = None
        self._lock = threading.Lock()

    @property
    def following(self) -> bool:
        """Whether the targets can gain pods at all (a workload, -l or --ns)."""
        return bool(self._selectors)

    def start(self, on_new: Callable[[list[PodRef]], None],
              on_end: Callable[[PodRef], None] | None = None) -> None:
        """From now on new pods go to on_new, and captured pods that ended to on_end (from the
        watch's thread); the new pods seen so far now."""
        with self._lock:
            self._on_new, self._on_end = on_new, on_end
            waiting, self._waiting = self._waiting, []
        if waiting:
            on_new(waiting)

    def seen(self, pod: dict, deleted: bool = False) -> None:
        """A pod as the watch sent it (DELETED: deleted)."""
        meta, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
        uid = str(meta.get("uid") or "")
        ended = deleted or bool(meta.get("deletionTimestamp")) or \
            status.get("phase") in _ENDED_PHASES
        if ended:
            self._end(uid)
            return
        with self._lock:
            if uid in self._captured or not self._wanted(meta, spec, status):
                return
            ref = PodRef(meta["namespace"], meta["name"], spec["nodeName"], status["podIP"],
                         self._container)
            self._captured[uid] = ref
            if ref in self._initial:
                self._initial.discard(ref)
                return
            on_new = self._on_new
            if on_new is None:
                self._waiting.append(ref)
                return
        on_new([ref])

    def _end(self, uid: str) -> None:
        """A pod that ended: if captured, it is marked so and on_end told (once)."""
        with self._lock:
            ref = self._captured.get(uid)
            if ref is None or ref in self._ended:
                return
            self._ended.add(ref)
            on_end = self._on_end
        if on_end is not None:
            on_end(ref)

    def ended(self, pod: PodRef) -> bool:
        """Whether this captured pod was deleted or finished."""
        with self._lock:
            return pod in self._ended

    def _wanted(self, meta: dict, spec: dict, status: dict) -> bool:
        """A Running pod with an address on a node, in the namespace, matching a selector."""
        if status.get("phase") != "Running" or not status.get("podIP") or \
                not spec.get("nodeName") or meta.get("namespace") != self._namespace:
            return False
        labels = meta.get("labels") or {}
        return any(matches(reqs, labels) for reqs in self._selectors)
