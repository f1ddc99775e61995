"""Events the scheduler and kubelet record about pods (what `kubectl describe` lists)."""

from __future__ import annotations

import time
import uuid

from .podstatus import now
from .store import Store

FIELD_PATHS = {
    "containerStatuses": "spec.containers",
    "initContainerStatuses": "spec.initContainers",
    "ephemeralContainerStatuses": "spec.ephemeralContainers",
}


def record(
    store: Store,
    pod: dict,
    reason: str,
    message: str,
    *,
    warning: bool = False,
    container: tuple[str, str] | None = None,
    component: str = "kubelet",
) -> None:
    """Store a core/v1 Event about `pod`; container is (status list key, container name)."""
    meta = pod["metadata"]
    ts = now()
    involved = {
        "kind": "Pod",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if container:
        involved["fieldPath"] = f"{FIELD_PATHS[container[0]]}{{{container[1]}}}"
    host = pod["spec"].get("nodeName", "") if component == "kubelet" else ""
    source = {"component": component, **({"host": host} if host else {})}
    store.create(
        "events",
        {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": f"{meta['name']}.{time.time_ns():x}",  # sorts by time, as upstream
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "creationTimestamp": ts,
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": "Warning" if warning else "Normal",
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        },
    )
