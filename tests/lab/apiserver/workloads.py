"""A minimal apps/v1 controller: brings a workload's dependents to what its spec asks for.

The API server calls `reconcile` after a workload is created or updated (also through its scale
subresource) and `deleted` after it is deleted; a watch on pods reconciles the owner of a pod
that is being deleted or is gone, so that it is replaced. One lock serialises all of it.
- Deployment: a ReplicaSet `NAME-HASH` per pod template; the current one gets spec.replicas and
  the older ones 0 (the pods are swapped at once, not rolled one by one).
- ReplicaSet: creates or deletes pods (the newest first) until it owns spec.replicas.
- StatefulSet: pods `NAME-0..N-1` (all at once), scaled down from the highest ordinal.
- DaemonSet: one pod per node (spec.nodeName set).
Deleting a workload deletes its dependents (background propagation, as the garbage collector
does). Not done: rolling a StatefulSet's or DaemonSet's pods to a new template.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable
from typing import Any

from . import events, objects, pods, podsecurity
from .apps import API_VERSION, random_suffix, template_hash
from .podstatus import now
from .status import ApiError
from .store import Store

REVISION = "deployment.kubernetes.io/revision"
POD_OWNERS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


class Controller:
    """Creates and deletes a workload's ReplicaSets and pods to match its spec."""

    def __init__(
        self, store: Store, nodes: Callable[[], list[str]], delete_pod: Callable[[dict], Any]
    ) -> None:
        self.store, self._nodes, self._delete_pod = store, nodes, delete_pod
        self._lock = threading.Lock()

    def start(self) -> None:
        """Watch pods from now on, until the store closes."""
        since = int(self.store.resource_version)
        watcher = threading.Thread(target=self._watch_pods, args=(since,), daemon=True)
        watcher.start()

    def _watch_pods(self, since: int) -> None:
        for event in self.store.watch("pods", since, lambda: True):
            gone = event is not None and (
                event.type == "DELETED" or event.obj["metadata"].get("deletionTimestamp")
            )
            if not gone:
                continue
            try:
                self._pod_gone(event.obj)
            except Exception as e:  # a controller logs and keeps going, as a real one does
                print(f"workloads: pod {event.obj['metadata']['name']}: {e!r}", flush=True)

    def _pod_gone(self, pod: dict) -> None:
        """Reconcile the workload controlling a pod that is going or gone (it may replace it)."""
        for ref in pod["metadata"].get("ownerReferences") or []:
            resource = POD_OWNERS.get(ref.get("kind", ""))
            if not (ref.get("controller") and resource):
                continue
            owner = self.store.find(resource, pod["metadata"]["namespace"], ref["name"])
            if owner and owner["metadata"]["uid"] == ref["uid"]:
                self.reconcile(resource, owner)

    def reconcile(self, resource: str, obj: dict) -> None:
        """Create or delete dependents so that they match obj's spec; then report status."""
        with self._lock:
            {
                "deployments": self._deployment,
                "replicasets": self._replicaset,
                "statefulsets": self._statefulset,
                "daemonsets": self._daemonset,
            }[resource](obj)

    def deleted(self, obj: dict) -> None:
        """Delete what the object owns, recursively (ReplicaSets, then their pods)."""
        with self._lock:
            self._delete_dependents(obj)

    # one function per kind -----------------------------------------------------------------------

    def _deployment(self, dep: dict) -> None:
        spec = dep["spec"]
        name = f"{dep['metadata']['name']}-{template_hash(spec['template'])}"
        owned = self._owned("replicasets", dep)
        for rs in owned:
            if rs["metadata"]["name"] != name and rs["spec"]["replicas"]:
                self._scale_replicaset(rs, 0)
        current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        if current is None:
            revision = 1 + max((_revision(rs) for rs in owned), default=0)
            current = self._new_replicaset(dep, name, revision)
            with contextlib.suppress(ApiError):
                self.store.create("replicasets", current)
            self._replicaset(current)
        elif current["spec"]["replicas"] != spec["replicas"]:
            self._scale_replicaset(current, spec["replicas"])
        self._status("deployments", dep, spec["replicas"])

    def _new_replicaset(self, dep: dict, name: str, revision: int) -> dict:
        spec, meta = dep["spec"], dep["metadata"]
        pod_hash = name.rsplit("-", 1)[1]
        rs_spec = copy.deepcopy(spec)
        rs_spec["selector"].setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        template_meta = rs_spec["template"].setdefault("metadata", {})
        template_meta.setdefault("labels", {})["pod-template-hash"] = pod_hash
        for key in ("strategy", "revisionHistoryLimit", "progressDeadlineSeconds", "paused"):
            rs_spec.pop(key, None)
        return {
            "kind": "ReplicaSet",
            "apiVersion": API_VERSION,
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now(),
                "generation": 1,
                "labels": dict(template_meta["labels"]),
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(spec["replicas"]),
                    "deployment.kubernetes.io/max-replicas": str(spec["replicas"] + 1),
                    REVISION: str(revision),
                },
                "ownerReferences": [_owner(dep, "Deployment")],
            },
            "spec": rs_spec,
            "status": {"replicas": 0, "observedGeneration": 1},
        }

    def _scale_replicaset(self, rs: dict, replicas: int) -> None:
        def change(o: dict) -> None:
            o["spec"]["replicas"] = replicas
            o["metadata"]["generation"] = o["metadata"].get("generation", 1) + 1
            o["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
                replicas
            )

        meta = rs["metadata"]
        scaled = self.store.mutate("replicasets", meta["namespace"], meta["name"], change)
        if scaled is not None:  # else deleted meanwhile
            self._replicaset(scaled)

    def _replicaset(self, rs: dict) -> None:
        live = self._live_pods(rs)
        want = rs["spec"]["replicas"]
        for _ in range(want - len(live)):
            self._pod(rs, "ReplicaSet", f"{rs['metadata']['name']}-{random_suffix()}", {})
        newest_first = sorted(live, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
        for pod in newest_first[: max(0, len(live) - want)]:
            self._delete(pod)
        self._status("replicasets", rs, want)

    def _statefulset(self, sts: dict) -> None:
        name, spec = sts["metadata"]["name"], sts["spec"]
        existing = {p["metadata"]["name"] for p in self._owned("pods", sts)}
        live = {p["metadata"]["name"]: p for p in self._live_pods(sts)}
        revision = f"{name}-{template_hash(spec['template'])}"
        for i in range(spec["replicas"]):
            if f"{name}-{i}" in existing:  # a terminating one is replaced once it is gone
                continue
            labels = {
                "controller-revision-hash": revision,
                "apps.kubernetes.io/pod-index": str(i),
                "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
            }
            hostname = {"hostname": f"{name}-{i}"}
            if spec.get("serviceName"):
                hostname["subdomain"] = spec["serviceName"]
            self._pod(sts, "StatefulSet", f"{name}-{i}", labels, hostname)
        for pod_name in sorted(live, key=_ordinal, reverse=True):
            if _ordinal(pod_name) >= spec["replicas"]:
                self._delete(live[pod_name])
        self._status("statefulsets", sts, spec["replicas"])

    def _daemonset(self, ds: dict) -> None:
        nodes = self._nodes()
        live = self._live_pods(ds)
        placed = {p["spec"].get("nodeName") for p in live}
        labels = {
            "controller-revision-hash": template_hash(ds["spec"]["template"]),
            "pod-template-generation": str(ds["metadata"].get("generation", 1)),
        }
        for node in nodes:
            if node not in placed:
                name = f"{ds['metadata']['name']}-{random_suffix()}"
                self._pod(ds, "DaemonSet", name, labels, {"nodeName": node})
        for pod in live:
            if pod["spec"].get("nodeName") not in nodes:
                self._delete(pod)
        self._status("daemonsets", ds, len(nodes))

    # shared --------------------------------------------------------------------------------------

    def _owned(self, resource: str, owner: dict) -> list[dict]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.store.list(resource, owner["metadata"]["namespace"])[0]
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def _live_pods(self, owner: dict) -> list[dict]:
        """The owner's pods that are not being deleted."""
        return [p for p in self._owned("pods", owner) if not p["metadata"].get("deletionTimestamp")]

    def _delete(self, pod: dict) -> None:
        with contextlib.suppress(ApiError):  # gone meanwhile
            self._delete_pod(pod)

    def _pod(
        self, owner: dict, kind: str, pod_name: str, labels: dict, spec_extra: dict | None = None
    ) -> None:
        template = copy.deepcopy(owner["spec"]["template"])
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
                "ownerReferences": [_owner(owner, kind)],
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

    def _status(self, resource: str, obj: dict, replicas: int) -> None:
        meta = obj["metadata"]

        def change(o: dict) -> None:
            status = o.setdefault("status", {})
            status["observedGeneration"] = o["metadata"].get("generation", 1)
            if resource == "daemonsets":
                status.update(
                    currentNumberScheduled=replicas,
                    desiredNumberScheduled=replicas,
                    numberMisscheduled=0,
                    numberReady=0,
                    updatedNumberScheduled=replicas,
                )
            else:
                status.update(replicas=replicas)
                if resource != "replicasets":
                    status["updatedReplicas"] = replicas

        self.store.mutate(resource, meta["namespace"], meta["name"], change)

    def _delete_dependents(self, obj: dict) -> None:
        for resource in ("replicasets", "pods"):
            for dep in self._owned(resource, obj):
                if resource == "pods":
                    self._delete(dep)
                    continue
                with contextlib.suppress(ApiError):  # gone meanwhile
                    meta = dep["metadata"]
                    self.store.delete(resource, meta["namespace"], meta["name"])
                    self._delete_dependents(dep)


def _owner(obj: dict, kind: str) -> dict:
    meta = obj["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _revision(rs: dict) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))


def _ordinal(pod_name: str) -> int:
    return int(pod_name.rsplit("-", 1)[1])
