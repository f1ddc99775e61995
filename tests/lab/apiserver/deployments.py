"""The Deployment controller's sync, after pkg/controller/deployment (rolling.go, recreate.go,
sync.go) and its util: ReplicaSets scaled so that pods roll, and the status kubectl reads.

Each pod template has a ReplicaSet NAME-HASH (pod-template-hash label) whose revision annotation
is the highest so far; the Deployment carries it too. RollingUpdate: the new ReplicaSet grows
while all of them together stay within replicas + maxSurge, and the old ones shrink while the
available pods stay at least replicas - maxUnavailable (unavailable old pods go first).
Recreate: the old ReplicaSets go to 0, and the new one grows once their pods stopped.
Status: replicas, updated, ready, available and unavailable counts from the ReplicaSets.
Not done: conditions (Available, Progressing, progressDeadlineSeconds), paused, minReadySeconds,
revisionHistoryLimit, proportional scaling of several old ReplicaSets.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from .apps import API_VERSION, controller_ref, scaled, template_hash
from .podstatus import has_ended, now

if TYPE_CHECKING:
    from .workloads import Controller

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"


def sync(ctl: Controller, dep: dict) -> None:
    """One pass: find or create the new ReplicaSet, scale by the strategy, write the status."""
    owned = sorted(
        ctl.owned("replicasets", dep),
        key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]),
    )
    new = _new_replicaset(ctl, dep, owned)
    old = [rs for rs in owned if rs["metadata"]["uid"] != new["metadata"]["uid"]]
    if dep["spec"]["strategy"]["type"] == "Recreate":
        _recreate(ctl, dep, new, old)
    elif not _scale_up(ctl, dep, new, old):
        _scale_down(ctl, dep, new, old)
    _report(ctl, dep)


def _new_replicaset(ctl: Controller, dep: dict, owned: list[dict]) -> dict:
    """The ReplicaSet of the current template, created (with no pods yet) if missing; its
    revision annotation raised above every other one, and copied to the Deployment."""
    name = f"{dep['metadata']['name']}-{template_hash(dep['spec']['template'])}"
    top = max((_revision(rs) for rs in owned if rs["metadata"]["name"] != name), default=0)
    new = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
    if new is None:
        new = ctl.store.create("replicasets", _replicaset(dep, name, top + 1))
    elif _revision(new) <= top:
        new = ctl.update_replicaset(new, _annotate(REVISION, str(top + 1))) or new

    meta, revision = dep["metadata"], new["metadata"]["annotations"][REVISION]
    ctl.store.mutate("deployments", meta["namespace"], meta["name"], _annotate(REVISION, revision))
    return new


def _replicaset(dep: dict, name: str, revision: int) -> dict:
    spec, meta = dep["spec"], dep["metadata"]
    pod_hash = name.rsplit("-", 1)[1]
    rs_spec = {key: copy.deepcopy(spec[key]) for key in ("selector", "template")}
    rs_spec["replicas"] = 0
    rs_spec["minReadySeconds"] = spec.get("minReadySeconds", 0)
    rs_spec["selector"].setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
    template_meta = rs_spec["template"].setdefault("metadata", {})
    template_meta.setdefault("labels", {})["pod-template-hash"] = pod_hash
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
                DESIRED: str(spec["replicas"]),
                MAX: str(spec["replicas"] + _surge(dep)),
                REVISION: str(revision),
            },
            "ownerReferences": [controller_ref(dep)],
        },
        "spec": rs_spec,
        "status": {"replicas": 0},
    }


def _scale_up(ctl: Controller, dep: dict, new: dict, old: list[dict]) -> bool:
    """reconcileNewReplicaSet: toward replicas, within replicas + maxSurge pods in all."""
    want, have = dep["spec"]["replicas"], new["spec"]["replicas"]
    if have >= want:
        return have > want and _scale(ctl, dep, new, want)
    room = want + _surge(dep) - sum(rs["spec"]["replicas"] for rs in [new, *old])
    return room > 0 and _scale(ctl, dep, new, have + min(room, want - have))


def _scale_down(ctl: Controller, dep: dict, new: dict, old: list[dict]) -> None:
    """reconcileOldReplicaSets: old ReplicaSets shrink by their unavailable pods first
    (cleanupUnhealthyReplicas), then by available ones while enough stay available
    (scaleDownOldReplicaSetsForRollingUpdate); oldest ReplicaSet first."""
    if not sum(rs["spec"]["replicas"] for rs in old):
        return
    every = [new, *old]
    min_available = dep["spec"]["replicas"] - _unavailable(dep)
    new_unavailable = new["spec"]["replicas"] - _available(new)
    budget = sum(rs["spec"]["replicas"] for rs in every) - min_available - new_unavailable
    if budget <= 0:
        return
    for rs in old:
        unhealthy = rs["spec"]["replicas"] - _available(rs)
        cut = min(budget, unhealthy)
        if cut > 0:
            budget -= cut
            _scale(ctl, dep, rs, rs["spec"]["replicas"] - cut)
            rs["spec"]["replicas"] -= cut  # the scale below starts from here
    surplus = sum(_available(rs) for rs in every) - min_available
    for rs in old:
        cut = min(rs["spec"]["replicas"], surplus)
        if cut > 0:
            surplus -= cut
            _scale(ctl, dep, rs, rs["spec"]["replicas"] - cut)


def _recreate(ctl: Controller, dep: dict, new: dict, old: list[dict]) -> None:
    """rolloutRecreate: old ReplicaSets to 0; the new one to replicas once no old pod is left."""
    for rs in old:
        if rs["spec"]["replicas"]:
            _scale(ctl, dep, rs, 0)
    if all(has_ended(p) for rs in old for p in ctl.owned("pods", rs)):
        _scale(ctl, dep, new, dep["spec"]["replicas"])


def _report(ctl: Controller, dep: dict) -> None:
    """calculateStatus, from the ReplicaSets as they are now."""
    every = ctl.owned("replicasets", dep)
    name = f"{dep['metadata']['name']}-{template_hash(dep['spec']['template'])}"
    available = sum(_available(rs) for rs in every)
    status = {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": sum(rs["status"].get("replicas", 0) for rs in every),
        "updatedReplicas": sum(
            rs["status"].get("replicas", 0) for rs in every if rs["metadata"]["name"] == name
        ),
        "readyReplicas": sum(rs["status"].get("readyReplicas", 0) for rs in every),
        "availableReplicas": available,
        "unavailableReplicas": max(0, sum(rs["spec"]["replicas"] for rs in every) - available),
    }
    ctl.set_status("deployments", dep, {k: v for k, v in status.items() if v})  # omitempty


def _scale(ctl: Controller, dep: dict, rs: dict, replicas: int) -> bool:
    """scaleReplicaSetAndRecordEvent: spec.replicas and the desired/max annotations."""
    if rs["spec"]["replicas"] == replicas:
        return False

    def change(o: dict) -> None:
        o["spec"]["replicas"] = replicas
        _annotate(DESIRED, str(dep["spec"]["replicas"]))(o)
        _annotate(MAX, str(dep["spec"]["replicas"] + _surge(dep)))(o)

    return ctl.update_replicaset(rs, change) is not None


def _annotate(key: str, value: str) -> Callable[[dict], None]:
    """A change that sets one annotation."""

    def change(o: dict) -> None:
        o["metadata"].setdefault("annotations", {})[key] = value

    return change


def _surge(dep: dict) -> int:
    """MaxSurge: rounded up; 0 unless RollingUpdate."""
    rolling = dep["spec"]["strategy"].get("rollingUpdate")
    if rolling is None:
        return 0
    return scaled(rolling["maxSurge"], dep["spec"]["replicas"], round_up=True)


def _unavailable(dep: dict) -> int:
    """MaxUnavailable: rounded down; 1 when both it and maxSurge are 0; at most replicas."""
    rolling, replicas = dep["spec"]["strategy"]["rollingUpdate"], dep["spec"]["replicas"]
    value = scaled(rolling["maxUnavailable"], replicas, round_up=False)
    if value == 0 and _surge(dep) == 0:
        value = 1
    return min(value, replicas)


def _available(rs: dict) -> int:
    return rs.get("status", {}).get("availableReplicas", 0)


def _revision(rs: dict) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
