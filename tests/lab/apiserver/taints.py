"""Node taints as the kubelet, the scheduler and the taint-eviction controller read them against a
pod's tolerations (k8s.io/api core/v1 Toleration.ToleratesTaint, FindMatchingUntoleratedTaint)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable

from . import events
from .status import ApiError
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


class TaintEviction:
    """The taint-eviction controller: when a node gets a NoExecute taint, its pods that do not
    tolerate it are deleted (gracefully, with a TaintManagerEviction event), and those that do
    for tolerationSeconds are deleted once that time passed. Node changes only (a pod bound to
    an already tainted node is the kubelet's to reject)."""

    def __init__(self, store: Store, delete_pod: Callable[[dict], object]) -> None:
        self.store, self._delete_pod = store, delete_pod
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="taint-eviction", daemon=True)

    def start(self) -> None:
        self._since = int(self.store.resource_version)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        for event in self.store.watch("nodes", self._since, lambda: not self._stopping):
            if event is not None and event.type != "DELETED":
                self._check_pods(event.obj["metadata"]["name"])

    def _check_pods(self, node: str) -> None:
        for pod in self.store.list("pods")[0]:
            if (pod["spec"].get("nodeName") != node or pod["metadata"].get("deletionTimestamp")
                    or pod["status"].get("phase") in ("Succeeded", "Failed")):
                continue
            taint = untolerated(self.store, node, pod, NO_EXECUTE)
            if taint is not None:
                self._evict(pod)
                continue
            seconds = _toleration_seconds(self.store, node, pod)
            if seconds is not None:
                threading.Timer(seconds, self._check_again, (pod, node)).start()

    def _check_again(self, pod: dict, node: str) -> None:
        """tolerationSeconds passed: evict if the pod and the taint are both still there."""
        meta = pod["metadata"]
        current = self.store.find("pods", meta["namespace"], meta["name"])
        if current is not None and current["metadata"]["uid"] == meta["uid"] and \
                _toleration_seconds(self.store, node, current) is not None:
            self._evict(current)

    def _evict(self, pod: dict) -> None:
        meta = pod["metadata"]
        events.record(self.store, pod, "TaintManagerEviction",
                      f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
                      component="taint-eviction-controller")
        with contextlib.suppress(ApiError):  # gone meanwhile
            self._delete_pod(pod)


def _toleration_seconds(store: Store, node: str, pod: dict) -> float | None:
    """The shortest tolerationSeconds among the tolerations of the node's NoExecute taints
    (None: none limited)."""
    obj = store.find("nodes", "", node) or {}
    limits = [t["tolerationSeconds"] for taint in (obj.get("spec") or {}).get("taints") or []
              if taint.get("effect") in NO_EXECUTE
              for t in pod["spec"].get("tolerations") or []
              if tolerates(t, taint) and t.get("tolerationSeconds") is not None]
    return max(0, min(limits)) if limits else None
