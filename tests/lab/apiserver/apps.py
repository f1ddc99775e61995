"""The apps/v1 group: Deployments, StatefulSets, DaemonSets, ReplicaSets (and the
ControllerRevisions their controllers keep).

Discovery documents (with the scale subresource of the scalable kinds) and the registry's
defaulting and validation (a selector that does not match the template's labels is Invalid, and
an update may not change it, as upstream); helpers the controllers share (owner references,
template hashes, int-or-percent values). The controllers are in workloads.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import secrets
from typing import Any

from .status import FieldError, invalid

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
# A DaemonSet's spec.templateGeneration (internal API) as apps/v1 carries it; +1 per new template.
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
# A new workload's status before its controller saw it (the fields Go serialises when zero).
_EMPTY_STATUS = {
    "statefulsets": {"replicas": 0, "availableReplicas": 0},
    "daemonsets": {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
}


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
SCALABLE = ("deployments", "replicasets", "statefulsets")  # those with a scale subresource


def _scale(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }


_REVISIONS = {  # the history StatefulSets and DaemonSets keep (revisions.py); no short name
    "name": "controllerrevisions",
    "singularName": "controllerrevision",
    "namespaced": True,
    "kind": "ControllerRevision",
    "verbs": _RW,
    "storageVersionHash": hashlib.sha256(b"apps/ControllerRevision").hexdigest()[:12],
}
RESOURCES_DOC = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": API_VERSION,
    "resources": [
        _REVISIONS,
        *(
            doc
            for r in sorted(KINDS)
            for doc in ([_resource(r), _scale(r)] if r in SCALABLE else [_resource(r)])
        ),
    ],
}


# registry ----------------------------------------------------------------------------------------


class _GoMap:
    """A label map as Go's %#v prints it in a field error: map[string]string{"k":"v"}."""

    def __init__(self, labels: dict) -> None:
        self.labels = labels

    def __str__(self) -> str:
        inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(self.labels.items()))
        return f"map[string]string{{{inner}}}"


class _GoSelector:
    """A LabelSelector as Go's %#v prints it in a field error (field.Error derefs the pointer)."""

    def __init__(self, selector: dict) -> None:
        self.selector = selector

    def __str__(self) -> str:
        labels = self.selector.get("matchLabels")
        exprs = self.selector.get("matchExpressions")
        shown_labels = str(_GoMap(labels)) if labels is not None else "map[string]string(nil)"
        shown_exprs = "[]v1.LabelSelectorRequirement(nil)"
        if exprs is not None:
            items = ", ".join(
                f'v1.LabelSelectorRequirement{{Key:"{e.get("key", "")}", '
                f'Operator:"{e.get("operator", "")}", Values:{_go_strings(e.get("values"))}}}'
                for e in exprs
            )
            shown_exprs = f"[]v1.LabelSelectorRequirement{{{items}}}"
        return f"v1.LabelSelector{{MatchLabels:{shown_labels}, MatchExpressions:{shown_exprs}}}"


def _go_strings(values: list[str] | None) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


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
    _default(resource, obj.setdefault("spec", {}))
    _validate(resource, obj, [])
    obj["metadata"]["generation"] = 1
    if resource == "daemonsets":
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
    obj["status"] = copy.deepcopy(_EMPTY_STATUS.get(resource, {}))


def validate_update(resource: str, old: dict, new: dict) -> None:
    """Defaults and validation for an update: the selector is immutable; a spec change bumps
    metadata.generation (which the controller reports back as status.observedGeneration)."""
    _default(resource, new.setdefault("spec", {}))
    errs: list[FieldError] = []
    if new["spec"].get("selector") != old["spec"].get("selector"):
        errs.append(
            FieldError(
                "spec.selector",
                "Invalid value",
                "field is immutable",
                _GoSelector(new["spec"].get("selector") or {}),
            )
        )
    _validate(resource, new, errs)
    generation = old["metadata"].get("generation", 1)
    new["metadata"]["generation"] = generation + (new["spec"] != old["spec"])
    if resource == "daemonsets":
        template_generation = int(old["metadata"]["annotations"][TEMPLATE_GENERATION])
        changed = new["spec"]["template"] != old["spec"]["template"]
        new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = str(
            template_generation + changed
        )


def _default(resource: str, spec: dict) -> None:
    """SetDefaults_* of apps/v1 (an explicit RollingUpdate sts strategy keeps rollingUpdate nil)."""
    if resource != "daemonsets":
        spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if resource == "deployments":
        strategy = spec.setdefault("strategy", {})
        strategy["type"] = strategy.get("type") or "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.get("rollingUpdate") or {}
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
            strategy["rollingUpdate"] = rolling
        spec.setdefault("progressDeadlineSeconds", 600)
    elif resource == "statefulsets":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            strategy.setdefault("rollingUpdate", {})
        if strategy["type"] == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
            strategy["rollingUpdate"].setdefault("partition", 0)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
    elif resource == "daemonsets":
        strategy = spec.setdefault("updateStrategy", {})
        strategy["type"] = strategy.get("type") or "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.get("rollingUpdate") or {}
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
            strategy["rollingUpdate"] = rolling


def _validate(resource: str, obj: dict, errs: list[FieldError]) -> None:
    """Validate*: raise Invalid with errs and the spec's own field errors, if any."""
    spec = obj["spec"]
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
    if resource == "statefulsets":
        errs += _statefulset_errors(spec)
    if errs:
        raise invalid(KINDS[resource], obj["metadata"]["name"], errs, GROUP)


def _statefulset_errors(spec: dict) -> list[FieldError]:
    """ValidateStatefulSetSpec's checks of the fields the controller acts on."""
    errs = []
    policy = spec["podManagementPolicy"]
    if policy not in ("OrderedReady", "Parallel"):
        detail = "must be 'OrderedReady' or 'Parallel'"
        errs.append(FieldError("spec.podManagementPolicy", "Invalid value", detail, policy))
    partition = (spec["updateStrategy"].get("rollingUpdate") or {}).get("partition", 0)
    if not isinstance(partition, int) or partition < 0:
        detail = "must be greater than or equal to 0"
        field = "spec.updateStrategy.rollingUpdate.partition"
        errs.append(FieldError(field, "Invalid value", detail, partition))
    return errs


def controller_ref(owner: dict) -> dict:
    """The ownerReference a controller puts on what it creates (metav1.NewControllerRef)."""
    meta = owner["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def scaled(value: int | str, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded."""
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def template_hash(template: dict) -> str:
    """A stable short hash of the pod template (pod-template-hash, controller-revision-hash)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def random_suffix() -> str:
    """The five random characters of a generated name (rand.String)."""
    return "".join(secrets.choice(_SAFE) for _ in range(5))
