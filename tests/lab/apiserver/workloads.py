"""The lab's apps/v1 controller manager: brings each workload's dependents to its spec.

The API server calls `reconcile` after a workload is created or updated (also through its scale
subresource) and `deleted` after it is deleted; a watch on pods reconciles the workload that
controls a pod whenever the pod changes (so it is replaced, or a rollout proceeds once it is
Ready), and a ReplicaSet's Deployment after it, as the real controllers' informers do. One lock
serialises all of it.
- Deployment: deployments.py (a ReplicaSet per template, rolled by maxSurge/maxUnavailable).
- ReplicaSet: creates or deletes pods (not-ready and newest first) until spec.replicas are
  active; a Ready pod counts as available (no minReadySeconds).
- StatefulSet: statefulsets.py (ordered start, rolling update by revision).
- DaemonSet: daemonsets.py (one pod per node, rolling update per node).
Deleting a workload deletes its dependents (background propagation, as the garbage collector
does).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable
from typing import Any

from . import daemonsets, deployments, events, objects, pods, podsecurity, statefulsets
from .apps import controller_ref, random_suffix
from .podstatus import is_active, is_ready, now
from .status import ApiError
from .store import Store

OWNERS = {
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}  # which pods a ReplicaSet deletes first


class Controller:
    """Creates and deletes a workload's ReplicaSets and pods to match its spec."""

    def __init__(
        self, store: Store, nodes: Callable[[], list[str]], delete_pod: Callable[[dict], Any]
    ) -> None:
        self.store, self.nodes, self._delete_pod = store, nodes, delete_pod
        self._lock = threading.Lock()

    def start(self) -> None:
        """Watch pods and nodes from now on, until the store closes."""
        since = int(self.store.resource_version)
        for watch in (self._watch_pods, self._watch_nodes):
            threading.Thread(target=watch, args=(since,), daemon=True).start()

    def _watch_nodes(self, since: int) -> None:
        """A node added or changed (labels, taints): every DaemonSet is synced again."""
        for event in self.store.watch("nodes", since, lambda: True):
            if event is None or event.type == "DELETED":
                continue
            for ds in self.store.list("daemonsets")[0]:
                try:
                    self.reconcile("daemonsets", ds)
                except Exception as e:  # logged, as a real controller does
                    print(f"workloads: daemonset {ds['metadata']['name']}: {e!r}", flush=True)

    def _watch_pods(self, since: int) -> None:
        for event in self.store.watch("pods", since, lambda: True):
            if event is None:
                continue
            try:
                self._pod_changed(event.obj)
            except Exception as e:  # a controller logs and keeps going, as a real one does
                print(f"workloads: pod {event.obj['metadata']['name']}: {e!r}", flush=True)

    def _pod_changed(self, pod: dict) -> None:
        """Reconcile the workload controlling a pod that was added, changed or deleted, then
        the one controlling that workload (a ReplicaSet's Deployment)."""
        obj = pod
        while (ref := _controller(obj)) and ref["kind"] in OWNERS:
            obj = self._reconcile(OWNERS[ref["kind"]], pod["metadata"]["namespace"], ref)
            if obj is None:
                return

    def reconcile(self, resource: str, obj: dict) -> None:
        """Create or delete obj's dependents so that they match its spec; then report status."""
        self._reconcile(resource, obj["metadata"]["namespace"], obj["metadata"])

    def _reconcile(self, resource: str, ns: str, ref: dict) -> dict | None:
        """Sync the workload as stored now, if it is still the object ref names (name, uid);
        the object synced, or None."""
        with self._lock:
            obj = self.store.find(resource, ns, ref["name"])
            if obj is None or obj["metadata"]["uid"] != ref["uid"]:
                return None
            {
                "deployments": deployments.sync,
                "replicasets": _replicaset,
                "statefulsets": statefulsets.sync,
                "daemonsets": daemonsets.sync,
            }[resource](self, obj)
            return obj

    def deleted(self, obj: dict) -> None:
        """Delete what the object owns, recursively (ReplicaSets and ControllerRevisions, then
        pods)."""
        with self._lock:
            self._delete_dependents(obj)

    # shared by the controllers of each kind -------------------------------------------------------

    def owned(self, resource: str, owner: dict) -> list[dict]:
        """The objects of a resource in owner's namespace that name it as an owner."""
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.store.list(resource, owner["metadata"]["namespace"])[0]
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def delete(self, pod: dict) -> None:
        """Delete a pod gracefully (a no-op if it is gone already)."""
        with contextlib.suppress(ApiError):  # gone meanwhile
            self._delete_pod(pod)

    def create_pod(
        self,
        owner: dict,
        pod_name: str,
        template: dict,
        labels: dict,
        spec_extra: dict | None = None,
    ) -> None:
        """Create a pod from a template, controlled by owner; FailedCreate event if refused."""
        kind = owner["kind"]
        template = copy.deepcopy(template)
        tmeta = template.get("metadata") or {}
        ns = owner["metadata"]["namespace"]
        pod = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": pod_name,
                "namespace": ns,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now(),
                "labels": {**(tmeta.get("labels") or {}), **labels},
                "ownerReferences": [controller_ref(owner)],
            },
            "spec": {**template.get("spec", {}), **(spec_extra or {})},
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        if kind != "StatefulSet":
            pod["metadata"]["generateName"] = pod_name.rsplit("-", 1)[0] + "-"
        pods.default_pod(pod)
        try:
            namespace = objects.check_namespace(self.store, "pods", pod_name, ns)
        except ApiError:  # a terminating namespace takes no new pods, nor events about them
            return
        try:
            pods.validate_pod(pod)
            podsecurity.check(namespace, pod)
            self.store.create("pods", pod)
        except ApiError as e:  # the controller records FailedCreate and carries on
            events.record(
                self.store,
                pod,
                "FailedCreate",
                e.message,
                warning=True,
                component=f"{kind.lower()}-controller",
            )

    def set_status(self, resource: str, obj: dict, status: dict) -> None:
        """Replace obj's status (no write, no watch event, when it is unchanged)."""
        meta = obj["metadata"]

        def change(o: dict) -> None:
            o["status"] = status

        self.store.mutate(resource, meta["namespace"], meta["name"], change)

    def update_replicaset(self, rs: dict, change: Callable[[dict], Any]) -> dict | None:
        """Change a ReplicaSet (a new spec is a new generation) and sync it; None if gone."""

        def apply(o: dict) -> None:
            spec = copy.deepcopy(o["spec"])
            change(o)
            o["metadata"]["generation"] += o["spec"] != spec

        meta = rs["metadata"]
        updated = self.store.mutate("replicasets", meta["namespace"], meta["name"], apply)
        if updated is not None:
            _replicaset(self, updated)
        return updated

    def _delete_dependents(self, obj: dict) -> None:
        for resource in ("replicasets", "controllerrevisions", "pods"):
            for dep in self.owned(resource, obj):
                if resource == "pods":
                    self.delete(dep)
                    continue
                with contextlib.suppress(ApiError):  # gone meanwhile
                    meta = dep["metadata"]
                    self.store.delete(resource, meta["namespace"], meta["name"])
                    self._delete_dependents(dep)


def _replicaset(ctl: Controller, rs: dict) -> None:
    """syncReplicaSet: create or delete pods until spec.replicas are active; then the status."""
    active = [p for p in ctl.owned("pods", rs) if is_active(p)]
    want = rs["spec"]["replicas"]
    for _ in range(want - len(active)):
        name = f"{rs['metadata']['name']}-{random_suffix()}"
        ctl.create_pod(rs, name, rs["spec"]["template"], {})
    for pod in _deletion_order(active)[: max(0, len(active) - want)]:
        ctl.delete(pod)
    active = [p for p in ctl.owned("pods", rs) if is_active(p)]
    ready = sum(is_ready(p) for p in active)
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": len(active),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"],
    }
    ctl.set_status("replicasets", rs, {k: v for k, v in status.items() if v or k == "replicas"})


def _deletion_order(active: list[dict]) -> list[dict]:
    """getPodsToDelete's ranking: unscheduled, then pending, not ready, and newest first."""
    newest_first = sorted(active, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
    return sorted(
        newest_first,
        key=lambda p: (
            bool(p["spec"].get("nodeName")),
            _PHASE_RANK.get(p["status"].get("phase", ""), 0),
            is_ready(p),
        ),
    )


def _controller(obj: dict) -> dict | None:
    """The ownerReference marked controller, if any."""
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)
