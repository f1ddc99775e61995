"""The lab's scheduler: bind each unscheduled pod to the node running the fewest pods, among those
whose NoSchedule and NoExecute taints it tolerates and whose labels match its nodeSelector. A
pod no node took is tried again whenever a node changes (its taints or labels, a new node), as
the scheduler moves its unschedulable pods back to the active queue on node events."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

from . import events
from .podstatus import condition
from .store import Store
from .taints import SCHEDULING, untolerated


def schedule(store: Store, nodes: Iterable[str], pod: dict) -> None:
    """Set spec.nodeName (the binding) and PodScheduled, unless someone bound it first; on a
    node that takes the pod (_refusal), else it stays Pending."""
    nodes = sorted(nodes)
    refusals = {node: _refusal(store, node, pod) for node in nodes}
    fit = [n for n in nodes if refusals[n] is None]
    if not fit:
        _unschedulable(store, pod, nodes, refusals)
        return
    items, _ = store.list("pods")
    load = dict.fromkeys(fit, 0)
    for p in items:
        if p["spec"].get("nodeName") in load:
            load[p["spec"]["nodeName"]] += 1
    node = min(load, key=load.__getitem__)
    uid = pod["metadata"]["uid"]

    def bind(p: dict) -> bool:
        if p["metadata"]["uid"] != uid or p["spec"].get("nodeName"):
            return False
        p["spec"]["nodeName"] = node
        condition(p, "PodScheduled", "True")
        return True

    meta = pod["metadata"]
    if store.mutate("pods", meta["namespace"], meta["name"], bind):
        events.record(
            store,
            pod,
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
            component="default-scheduler",
        )


def _refusal(store: Store, node: str, pod: dict) -> str | None:
    """Why the node does not take the pod, as the first filter that fails says it (the
    framework runs TaintToleration before NodeAffinity); None if it does."""
    taint = untolerated(store, node, pod, SCHEDULING)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    labels = ((store.find("nodes", "", node) or {}).get("metadata") or {}).get("labels") or {}
    selector = pod["spec"].get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return "node(s) didn't match Pod's node affinity/selector"
    return None


def _unschedulable(store: Store, pod: dict, nodes: list[str],
                   refusals: dict[str, str | None]) -> None:
    """PodScheduled False as the scheduler reports a pod no node takes: each reason with its
    count of nodes, sorted, as the framework's FitError says it."""
    reasons = Counter(r for r in refusals.values() if r)
    why = "".join(f"{count} {reason}, " for reason, count in sorted(reasons.items()))
    n = len(nodes)
    message = (f"0/{n} nodes are available: {why[:-2] + '. ' if why else ''}preemption: "
               f"0/{n} nodes are available: {n} Preemption is not helpful for scheduling.")
    uid, meta = pod["metadata"]["uid"], pod["metadata"]

    def pending(p: dict) -> bool:  # written once: the write is a pod event that calls us again
        if p["metadata"]["uid"] != uid or p["spec"].get("nodeName"):
            return False
        said = [c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        if said and said[0].get("message") == message:
            return False
        condition(p, "PodScheduled", "False", "Unschedulable")
        for c in p["status"]["conditions"]:
            if c["type"] == "PodScheduled":
                c["message"] = message
        return True

    if store.mutate("pods", meta["namespace"], meta["name"], pending):
        events.record(store, pod, "FailedScheduling", message, warning=True,
                      component="default-scheduler")


class Requeue:
    """Pods that no node took, scheduled again on every node event (added or changed)."""

    def __init__(self, store: Store, nodes: Callable[[], Iterable[str]]) -> None:
        self.store, self._nodes = store, nodes
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="scheduler-requeue", daemon=True)

    def start(self) -> None:
        self._since = int(self.store.resource_version)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        for event in self.store.watch("nodes", self._since, lambda: not self._stopping):
            if event is None or event.type == "DELETED":
                continue
            for pod in self.store.list("pods")[0]:
                if not pod["spec"].get("nodeName") and not pod["metadata"].get(
                        "deletionTimestamp"):
                    schedule(self.store, self._nodes(), pod)
