"""The scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets and StatefulSets.

`kubectl scale` reads it and sends a JSON merge patch `{"spec":{"replicas":N}}` to it (a PUT
when given --current-replicas or --resource-version); the new count is written to the workload's
spec.replicas, and the controller brings the pods to it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from . import apps, objects
from .messages import Request, Response, ok
from .status import FieldError, bad_request, conflict, invalid, method_not_allowed

if TYPE_CHECKING:
    from .api import Api
    from .routing import RequestInfo


def handle(api: Api, req: Request, info: RequestInfo) -> Response:
    """GET, PUT or PATCH NAMESPACE/RESOURCE/NAME/scale."""
    if info.verb not in ("get", "update", "patch"):
        raise method_not_allowed(info.verb, f"{info.resource}/scale")
    obj = api.store.get(info.resource, info.namespace, info.name)
    current = to_scale(obj)
    if info.verb == "get":
        return ok(current)
    asked = objects.patched(req, info.resource, current) if info.verb == "patch" else req.json()
    if not isinstance(asked, dict):
        raise bad_request("the body must be a Scale object")
    replicas = (asked.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        detail = "must be greater than or equal to 0"
        error = FieldError("spec.replicas", "Invalid value", detail, replicas)
        raise invalid("Scale", info.name, [error], "autoscaling")
    expect = (asked.get("metadata") or {}).get("resourceVersion")
    if expect and expect != obj["metadata"]["resourceVersion"]:
        why = (
            "the object has been modified; please apply your changes to the latest version "
            "and try again"
        )
        raise conflict(info.resource, info.name, why, apps.GROUP)
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = replicas
    apps.validate_update(info.resource, obj, new)
    if objects.dry_run(req):
        return ok(to_scale(new))
    stored = api.store.update(info.resource, new, expect)
    api.apps.reconcile(info.resource, stored)
    return ok(to_scale(api.store.find(info.resource, info.namespace, info.name) or stored))


def to_scale(obj: dict) -> dict:
    """The Scale view of a workload: spec.replicas, and status with the selector as text."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": obj["spec"]["replicas"]},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": _selector_text(obj["spec"]["selector"]),
        },
    }


def _selector_text(selector: dict) -> str:
    """metav1.FormatLabelSelector: `k=v`, `k in (a,b)`, `k`, `!k` terms sorted by key."""
    terms = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin"}
    for expr in selector.get("matchExpressions") or []:
        key, op = expr["key"], expr["operator"]
        if op in ops:
            values = ",".join(sorted(expr.get("values") or []))
            terms.append((key, f"{key} {ops[op]} ({values})"))
        else:
            terms.append((key, key if op == "Exists" else f"!{key}"))
    return ",".join(text for _, text in sorted(terms))
