"""meta.k8s.io/v1 Table rendering, which kubectl get asks for (Accept: ...;as=Table;...).

Columns and cells follow the real printers (pkg/printers/internalversion/printers.go) for the
kinds the lab serves; priority-1 columns are the ones `-o wide` adds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_WIDE = [("Containers", 1), ("Images", 1)]
_COLUMNS = {
    "deployments": [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        *_WIDE,
        ("Selector", 1),
    ],
    "statefulsets": [("Name", 0), ("Ready", 0), ("Age", 0), *_WIDE],
    "daemonsets": [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Node Selector", 0),
        ("Age", 0),
        *_WIDE,
        ("Selector", 1),
    ],
    "replicasets": [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        *_WIDE,
        ("Selector", 1),
    ],
    "pods": [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ],
    "nodes": [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ],
    "namespaces": [("Name", 0), ("Status", 0), ("Age", 0)],
    "serviceaccounts": [("Name", 0), ("Secrets", 0), ("Age", 0)],
    "controllerrevisions": [("Name", 0), ("Controller", 0), ("Revision", 0), ("Age", 0)],
    "events": [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ],
    "services": [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ],
}


def table(resource: str, items: list[dict], rv: str, include: str) -> dict[str, Any]:
    """A Table of `items`; `include` is the includeObject parameter (None, Metadata, Object)."""
    cols = [
        {
            "name": n,
            "type": "string",
            "format": "name" if n == "Name" else "",
            "description": n,
            "priority": p,
        }
        for n, p in _COLUMNS[resource]
    ]
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": _CELLS[resource](obj)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": cols,
        "rows": rows,
    }


def age(timestamp: str | None) -> str:
    """duration.HumanDuration of the time since an RFC 3339 timestamp ("<unknown>" if unset)."""
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    s = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d{h % 24}h" if h < 192 and h % 24 else f"{h // 24}d"


def pod_status_reason(pod: dict) -> str:
    """The STATUS column: Terminating, Init:..., a container's waiting/terminated reason, phase."""
    status = pod.get("status", {})
    reason = _init_reason(pod) or status.get("reason") or status.get("phase", "")
    if not reason.startswith("Init:"):
        for cs in status.get("containerStatuses", []):
            state = cs.get("state", {})
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                reason = _terminated_reason(state["terminated"])
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return reason


def _terminated_reason(t: dict) -> str:
    if t.get("reason"):
        return t["reason"]
    return f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}"


def _init_reason(pod: dict) -> str:
    """Init:<reason> or Init:<done>/<total> while init containers have not all succeeded."""
    total = len(pod["spec"].get("initContainers", []))
    for i, cs in enumerate(pod.get("status", {}).get("initContainerStatuses", [])):
        state = cs.get("state", {})
        term, wait = state.get("terminated"), state.get("waiting", {}).get("reason")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            return "Init:" + _terminated_reason(term)
        if wait and wait != "PodInitializing":
            return "Init:" + wait
        return f"Init:{i}/{total}"
    return ""


def _pod(pod: dict) -> list[Any]:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses", [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    gates = pod["spec"].get("readinessGates")
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(pod['spec']['containers'])}",
        pod_status_reason(pod),
        str(restarts),
        age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        pod["spec"].get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _node(node: dict) -> list[Any]:
    status = node.get("status", {})
    ready = any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
    )
    addrs = {a["type"]: a["address"] for a in status.get("addresses", [])}
    roles = sorted(
        k.split("/", 1)[1]
        for k in node["metadata"].get("labels", {})
        if k.startswith("node-role.kubernetes.io/")
    )
    info = status.get("nodeInfo", {})
    return [
        node["metadata"]["name"],
        "Ready" if ready else "NotReady",
        ",".join(roles) or "<none>",
        age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"),
        addrs.get("ExternalIP", "<none>"),
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", ""),
    ]


def _namespace(ns: dict) -> list[Any]:
    return [
        ns["metadata"]["name"],
        ns.get("status", {}).get("phase", ""),
        age(ns["metadata"].get("creationTimestamp")),
    ]


def _serviceaccount(sa: dict) -> list[Any]:
    return [
        sa["metadata"]["name"],
        len(sa.get("secrets") or []),
        age(sa["metadata"].get("creationTimestamp")),
    ]


def _service(svc: dict) -> list[Any]:
    spec = svc["spec"]
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", ""),
        ",".join(spec.get("externalIPs", [])) or "<none>",
        ports or "<none>",
        age(svc["metadata"].get("creationTimestamp")),
        selector or "<none>",
    ]


def _event(ev: dict) -> list[Any]:
    obj, source = ev.get("involvedObject", {}), ev.get("source", {})
    origin = ", ".join(x for x in (source.get("component"), source.get("host")) if x)
    return [
        age(ev.get("lastTimestamp")),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{obj.get('kind', '').lower()}/{obj.get('name', '')}",
        obj.get("fieldPath", ""),
        origin,
        ev.get("message", ""),
        age(ev.get("firstTimestamp")),
        str(ev.get("count", 1)),
        ev["metadata"]["name"],
    ]


def _images(obj: dict) -> list[str]:
    containers = obj["spec"].get("template", {}).get("spec", {}).get("containers", [])
    return [
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    ]


def _selector(obj: dict) -> str:
    sel = obj["spec"].get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items()))


def _deployment(d: dict) -> list[Any]:
    st, want = d.get("status", {}), d["spec"].get("replicas", 1)
    return [
        d["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{want}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        age(d["metadata"].get("creationTimestamp")),
        *_images(d),
        _selector(d) or "<none>",
    ]


def _statefulset(s: dict) -> list[Any]:
    st = s.get("status", {})
    return [
        s["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{s['spec'].get('replicas', 1)}",
        age(s["metadata"].get("creationTimestamp")),
        *_images(s),
    ]


def _daemonset(d: dict) -> list[Any]:
    st = d.get("status", {})
    node_selector = d["spec"].get("template", {}).get("spec", {}).get("nodeSelector") or {}
    return [
        d["metadata"]["name"],
        st.get("desiredNumberScheduled", 0),
        st.get("currentNumberScheduled", 0),
        st.get("numberReady", 0),
        st.get("updatedNumberScheduled", 0),
        st.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>",
        age(d["metadata"].get("creationTimestamp")),
        *_images(d),
        _selector(d) or "<none>",
    ]


def _replicaset(r: dict) -> list[Any]:
    st = r.get("status", {})
    return [
        r["metadata"]["name"],
        r["spec"].get("replicas", 1),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        age(r["metadata"].get("creationTimestamp")),
        *_images(r),
        _selector(r) or "<none>",
    ]


def _controllerrevision(r: dict) -> list[Any]:
    refs = r["metadata"].get("ownerReferences") or []
    ref = next((o for o in refs if o.get("controller")), None)
    controller = "<none>"
    if ref is not None:
        group = ref["apiVersion"].rpartition("/")[0]
        controller = f"{ref['kind']}.{group}".lower().rstrip(".") + f"/{ref['name']}"
    return [
        r["metadata"]["name"],
        controller,
        r.get("revision", 0),
        age(r["metadata"].get("creationTimestamp")),
    ]


_CELLS = {
    "deployments": _deployment,
    "statefulsets": _statefulset,
    "daemonsets": _daemonset,
    "replicasets": _replicaset,
    "controllerrevisions": _controllerrevision,
    "pods": _pod,
    "nodes": _node,
    "namespaces": _namespace,
    "services": _service,
    "serviceaccounts": _serviceaccount,
    "events": _event,
}
