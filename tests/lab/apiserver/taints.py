"""Node taints as the kubelet, the scheduler and the taint-eviction controller read them against a
pod's tolerations (k8s.io/api core/v1 Toleration.ToleratesTaint, FindMatchingUntoleratedTaint)."""

from __future__ import annotations

import contextlib
import threading
import time
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
    for tolerationSeconds are deleted once that time passed, also a pod bound to a node tainted
    so already. One eviction timer per pod: a later check keeps it when it fires sooner
    (upstream's processPodOnNode). A pod bound to a node with a NoExecute taint it does not
    tolerate is the kubelet's to reject."""

    def __init__(self, store: Store, delete_pod: Callable[[dict], object]) -> None:
        self.store, self._delete_pod = store, delete_pod
        self._stopping = False
        self._timers: dict[str, tuple[float, threading.Timer]] = {}  # pod uid -> (when, timer)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(resource, handle),
                                          name=f"taint-eviction-{resource}", daemon=True)
                         for resource, handle in (("nodes", self._node), ("pods", self._pod))]

    def start(self) -> None:
        self._since = int(self.store.resource_version)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            timers, self._timers = self._timers, {}
        for _, timer in timers.values():
            timer.cancel()

    def _run(self, resource: str, handle: Callable[[dict], None]) -> None:
        for event in self.store.watch(resource, self._since, lambda: not self._stopping):
            if event is not None and event.type != "DELETED":
                handle(event.obj)

    def _node(self, node: dict) -> None:
        name = node["metadata"]["name"]
        for pod in self.store.list("pods")[0]:
            if pod["spec"].get("nodeName") == name and _live(pod):
                if untolerated(self.store, name, pod, NO_EXECUTE) is not None:
                    self._evict(pod)
                else:
                    self._time(pod, name)

    def _pod(self, pod: dict) -> None:
        node = pod["spec"].get("nodeName")
        if node and _live(pod) and untolerated(self.store, node, pod, NO_EXECUTE) is None:
            self._time(pod, node)

    def _time(self, pod: dict, node: str) -> None:
        """Evict the pod once its tolerationSeconds of the node's NoExecute taints passed."""
        seconds = _toleration_seconds(self.store, node, pod)
        if seconds is None:
            return
        uid, when = pod["metadata"]["uid"], time.monotonic() + seconds
        with self._lock:
            if self._stopping or uid in self._timers and self._timers[uid][0] <= when:
                return
            if uid in self._timers:
                self._timers[uid][1].cancel()
            timer = threading.Timer(seconds, self._check_again, (pod, node))
            timer.daemon = True
            self._timers[uid] = (when, timer)
        timer.start()

    def _check_again(self, pod: dict, node: str) -> None:
        """tolerationSeconds passed: evict if the pod and the taint are both still there."""
        meta = pod["metadata"]
        with self._lock:
            self._timers.pop(meta["uid"], None)
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


def _live(pod: dict) -> bool:
    """Not being deleted and not ended."""
    return not pod["metadata"].get("deletionTimestamp") and pod["status"].get("phase") not in (
        "Succeeded", "Failed")


def _toleration_seconds(store: Store, node: str, pod: dict) -> float | None:
    """The shortest tolerationSeconds among the tolerations of the node's NoExecute taints
    (None: none limited)."""
    obj = store.find("nodes", "", node) or {}
    limits = [t["tolerationSeconds"] for taint in (obj.get("spec") or {}).get("taints") or []
              if taint.get("effect") in NO_EXECUTE
              for t in pod["spec"].get("tolerations") or []
              if tolerates(t, taint) and t.get("tolerationSeconds") is not None]
    return max(0, min(limits)) if limits else None
