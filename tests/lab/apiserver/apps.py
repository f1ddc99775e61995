"""The apps/v1 group: Deployments, StatefulSets, DaemonSets, ReplicaSets.

Discovery documents, the registry's defaulting and validation (a selector that does not match the
template's labels is Invalid, as upstream), and a minimal controller: a Deployment gets a
ReplicaSet `NAME-HASH` owning `replicas` pods, a StatefulSet pods `NAME-0..N-1`, a DaemonSet one
pod per node (spec.nodeName set). Deleting a workload deletes its dependents (background
propagation, as the garbage collector does).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from . import events, pods, podsecurity
from .podstatus import now
from .status import ApiError, FieldError, invalid
from .store import Store

GROUP, VERSION = "apps", "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KINDS = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
}
SHORT = {"deployments": "deploy", "statefulsets": "sts", "daemonsets": "ds", "replicasets": "rs"}
_RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # rand.SafeEncodeString's alphabet


def _resource(name: str) -> dict[str, Any]:
    kind = KINDS[name]
    return {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": True,
        "kind": kind,
        "verbs": _RW,
        "shortNames": [SHORT[name]],
        "categories": ["all"],
        "storageVersionHash": hashlib.sha256(f"apps/{kind}".encode()).hexdigest()[:12],
    }


_GV = {"groupVersion": API_VERSION, "version": VERSION}
GROUP_DOC = {
    "kind": "APIGroup",
    "apiVersion": "v1",
    "name": GROUP,
    "versions": [_GV],
    "preferredVersion": _GV,
}
RESOURCES_DOC = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": API_VERSION,
    "resources": [_resource(r) for r in sorted(KINDS)],
}


# registry ----------------------------------------------------------------------------------------


class _GoMap:
    """A label map as Go's %#v prints it in a field error: map[string]string{"k":"v"}."""

    def __init__(self, labels: dict) -> None:
        self.labels = labels

    def __str__(self) -> str:
        inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(self.labels.items()))
        return f"map[string]string{{{inner}}}"


def _matches(selector: dict, labels: dict) -> bool:
    """LabelSelectorAsSelector(selector).Matches(labels)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return True


def default_and_validate(resource: str, obj: dict) -> None:
    """SetDefaults_* and Validate* for a new workload; Invalid with upstream's field errors."""
    kind, name = KINDS[resource], obj["metadata"]["name"]
    spec = obj.setdefault("spec", {})
    if resource != "daemonsets":
        spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if resource == "deployments":
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
        )
        spec.setdefault("progressDeadlineSeconds", 600)
    elif resource == "statefulsets":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
    elif resource == "daemonsets":
        spec.setdefault(
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        )
    errs: list[FieldError] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        errs.append(FieldError("spec.selector", "Required value"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.append(
            FieldError(
                "spec.selector", "Invalid value", "empty selector is invalid for deployment", "{}"
            )
        )
    elif not _matches(selector, labels):
        errs.append(
            FieldError(
                "spec.template.metadata.labels",
                "Invalid value",
                "`selector` does not match template `labels`",
                _GoMap(labels),
            )
        )
    if not isinstance(spec.get("replicas", 0), int) or spec.get("replicas", 0) < 0:
        errs.append(
            FieldError(
                "spec.replicas",
                "Invalid value",
                "must be greater than or equal to 0",
                spec.get("replicas"),
            )
        )
    if not (template.get("spec") or {}).get("containers"):
        errs.append(FieldError("spec.template.spec.containers", "Required value"))
    if errs:
        raise invalid(kind, name, errs, GROUP)
    obj["metadata"]["generation"] = 1
    obj["status"] = {"observedGeneration": 1}


def template_hash(template: dict) -> str:
    """A stable short hash of the pod template (pod-template-hash, controller-revision-hash)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


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


# controller --------------------------------------------------------------------------------------


class Controller:
    """Creates a workload's dependents on create and deletes them with it."""

    def __init__(
        self, store: Store, nodes: Callable[[], list[str]], delete_pod: Callable[[dict], Any]
    ) -> None:
        self.store, self._nodes, self._delete_pod = store, nodes, delete_pod

    def created(self, resource: str, obj: dict) -> None:
        """Create the pods (and for a Deployment, the ReplicaSet) a new workload asks for."""
        spec = obj["spec"]
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        revision = template_hash(spec["template"])
        if resource == "deployments":
            rs_name = f"{name}-{revision}"
            rs_spec = copy.deepcopy(spec)
            rs_spec["selector"].setdefault("matchLabels", {})["pod-template-hash"] = revision
            rs_spec["template"].setdefault("metadata", {}).setdefault("labels", {})[
                "pod-template-hash"
            ] = revision
            for key in ("strategy", "revisionHistoryLimit", "progressDeadlineSeconds", "paused"):
                rs_spec.pop(key, None)
            rs = {
                "kind": "ReplicaSet",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": rs_name,
                    "namespace": ns,
                    "uid": _uid(),
                    "creationTimestamp": now(),
                    "generation": 1,
                    "labels": dict(rs_spec["template"]["metadata"]["labels"]),
                    "annotations": {
                        "deployment.kubernetes.io/desired-replicas": str(spec["replicas"]),
                        "deployment.kubernetes.io/max-replicas": str(spec["replicas"] + 1),
                        "deployment.kubernetes.io/revision": "1",
                    },
                    "ownerReferences": [_owner(obj, "Deployment")],
                },
                "spec": rs_spec,
                "status": {"replicas": 0, "observedGeneration": 1},
            }
            with contextlib.suppress(ApiError):
                self.store.create("replicasets", rs)
            self.created("replicasets", rs)
            self._status(resource, ns, name, spec["replicas"])
            return
        if resource == "replicasets":
            prefix = f"{name}-"
            for _ in range(spec["replicas"]):
                self._pod(obj, "ReplicaSet", prefix + _suffix(), {})
        elif resource == "statefulsets":
            for i in range(spec["replicas"]):
                extra = {
                    "controller-revision-hash": f"{name}-{revision}",
                    "apps.kubernetes.io/pod-index": str(i),
                    "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                }
                hostname = {"hostname": f"{name}-{i}"}
                if spec.get("serviceName"):
                    hostname["subdomain"] = spec["serviceName"]
                self._pod(obj, "StatefulSet", f"{name}-{i}", extra, hostname)
        elif resource == "daemonsets":
            nodes = self._nodes()
            for node in nodes:
                extra = {"controller-revision-hash": revision, "pod-template-generation": "1"}
                self._pod(obj, "DaemonSet", f"{name}-{_suffix()}", extra, {"nodeName": node})
            self._status(resource, ns, name, len(nodes))
            return
        self._status(resource, ns, name, spec["replicas"])

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
                "uid": _uid(),
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
        namespace = self.store.find("namespaces", "", ns)
        try:
            pods.validate_pod(pod)
            if namespace is not None:
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

    def _status(self, resource: str, ns: str, name: str, replicas: int) -> None:
        def change(o: dict) -> None:
            status = o.setdefault("status", {})
            status["observedGeneration"] = 1
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

        self.store.mutate(resource, ns, name, change)

    def deleted(self, obj: dict) -> None:
        """Delete what the object owns, recursively (ReplicaSets, then their pods)."""
        uid, ns = obj["metadata"]["uid"], obj["metadata"]["namespace"]
        for resource in ("replicasets", "pods"):
            for dep in self.store.list(resource, ns)[0]:
                owners = dep["metadata"].get("ownerReferences") or []
                if not any(o.get("uid") == uid for o in owners):
                    continue
                with contextlib.suppress(ApiError):  # gone meanwhile
                    if resource == "pods":
                        self._delete_pod(dep)
                    else:
                        self.store.delete(resource, ns, dep["metadata"]["name"])
                        self.deleted(dep)


def _uid() -> str:
    return str(uuid.uuid4())


def _suffix() -> str:
    return "".join(secrets.choice(_SAFE) for _ in range(5))
