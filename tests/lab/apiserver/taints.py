"""Node taints as the kubelet and the scheduler read them against a pod's tolerations
(k8s.io/api core/v1 Toleration.ToleratesTaint, FindMatchingUntoleratedTaint)."""

from __future__ import annotations

from collections.abc import Iterable

from .store import Store

NO_EXECUTE = ("NoExecute",)  # what the kubelet admits by (pkg/kubelet/lifecycle/predicate.go)
SCHEDULING = ("NoSchedule", "NoExecute")  # what the scheduler's TaintToleration filters by


def tolerates(toleration: dict, taint: dict) -> bool:
    """An empty effect or key matches any; Exists matches any value, Equal (or none) the same."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(store: Store, node: str, pod: dict, effects: Iterable[str]) -> dict | None:
    """The node's first taint with one of these effects that the pod does not tolerate."""
    obj = store.find("nodes", "", node) or {}
    tolerations = pod["spec"].get("tolerations") or []
    for taint in (obj.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None
