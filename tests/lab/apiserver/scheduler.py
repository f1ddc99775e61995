"""The lab's scheduler: bind each unscheduled pod to the node running the fewest pods."""

from __future__ import annotations

from collections.abc import Iterable

from . import events
from .podstatus import condition
from .store import Store


def schedule(store: Store, nodes: Iterable[str], pod: dict) -> None:
    """Set spec.nodeName (the binding) and PodScheduled, unless someone bound it first."""
    items, _ = store.list("pods")
    load = dict.fromkeys(sorted(nodes), 0)
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
