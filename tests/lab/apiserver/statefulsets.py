"""The StatefulSet controller's sync, after pkg/controller/statefulset (stateful_set_control.go).

Pods are NAME-0..N-1. With podManagementPolicy OrderedReady (the default) pod i+1 is created
only once pod i is Running and Ready, nothing proceeds past a terminating or unready pod, and a
scale-down deletes the highest ordinal first, one at a time; Parallel creates and deletes
without waiting. Each pod template is a revision (revisions.py); a pod's
controller-revision-hash label names it. RollingUpdate: once every pod is Running and Ready,
the highest-ordinal pod not at the update revision is deleted (and recreated at it), one at a
time, down to the partition; pods below the partition are recreated at the current revision.
OnDelete: a pod gets the new template only when it is deleted. currentRevision becomes
updateRevision once every pod is updated and ready. Not done: minReadySeconds (a Ready pod
counts as available), maxUnavailable, volumeClaimTemplates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import revisions
from .podstatus import has_ended, is_ready, is_terminating

if TYPE_CHECKING:
    from .workloads import Controller

ROLLING = "RollingUpdate"
REVISION_LABEL = revisions.HASH_LABEL  # on pods: the revision's name


def sync(ctl: Controller, sts: dict) -> None:
    """One pass of the controller: create, delete or replace at most what the policy allows,
    then prune the history and write the status."""
    spec = sts["spec"]
    update, history = revisions.current(ctl, sts)
    named = {r["metadata"]["name"]: r for r in history}
    current = named.get(sts.get("status", {}).get("currentRevision", ""), update)
    replicas: dict[int, dict] = {}
    condemned: list[dict] = []
    for pod in ctl.owned("pods", sts):
        ordinal = _ordinal(pod)
        if 0 <= ordinal < spec["replicas"]:
            replicas[ordinal] = pod
        elif ordinal >= 0:
            condemned.append(pod)
    condemned.sort(key=_ordinal, reverse=True)
    monotonic = spec["podManagementPolicy"] != "Parallel"
    if (
        not _replicas(ctl, sts, replicas, current, update, monotonic)
        and not _condemned(ctl, condemned, monotonic)
        and spec["updateStrategy"]["type"] == ROLLING
    ):
        _roll(ctl, sts, replicas, update["metadata"]["name"])
    status = _status(ctl, sts, current["metadata"]["name"], update["metadata"]["name"])
    live = {status["currentRevision"], status["updateRevision"]}
    revisions.prune(ctl, sts, history, live | {_revision(p) for p in ctl.owned("pods", sts)})
    ctl.set_status("statefulsets", sts, status)


def _replicas(
    ctl: Controller, sts: dict, replicas: dict, current: dict, update: dict, monotonic: bool
) -> bool:
    """processReplica for ordinals 0..N-1 in order; True when an ordered set must wait."""
    for ordinal in range(sts["spec"]["replicas"]):
        pod = replicas.get(ordinal)
        if pod is None:
            _create(ctl, sts, ordinal, current, update)
            if monotonic:
                return True
        elif has_ended(pod):
            if not is_terminating(pod):  # recreated once it is gone
                ctl.delete(pod)
            if monotonic:
                return True
        elif monotonic and not _healthy(pod):
            return True
    return False


def _condemned(ctl: Controller, condemned: list[dict], monotonic: bool) -> bool:
    """processCondemned, highest ordinal first; True when an ordered set must wait. An ordered
    set deletes one pod per pass, and only a healthy one or its lowest unhealthy one."""
    first_unhealthy = next((p for p in reversed(condemned) if not _healthy(p)), None)
    for pod in condemned:
        if is_terminating(pod):
            if monotonic:
                return True
            continue
        if monotonic and not _healthy(pod) and pod is not first_unhealthy:
            return True
        ctl.delete(pod)
        if monotonic:
            return True
    return False


def _roll(ctl: Controller, sts: dict, replicas: dict, update: str) -> None:
    """Delete the highest-ordinal pod not at the update revision, down to the partition,
    unless a pod above it is not yet healthy."""
    rolling = sts["spec"]["updateStrategy"].get("rollingUpdate")
    partition = rolling["partition"] if rolling is not None else 0
    for ordinal in range(sts["spec"]["replicas"] - 1, partition - 1, -1):
        pod = replicas.get(ordinal)
        if pod is None:  # created in this pass: not healthy yet
            return
        if _revision(pod) != update and not is_terminating(pod):
            ctl.delete(pod)
            return
        if not _healthy(pod):
            return


def _create(ctl: Controller, sts: dict, ordinal: int, current: dict, update: dict) -> None:
    """newVersionedStatefulSetPod: below the partition (or, without rollingUpdate, below
    status.currentReplicas) a pod gets the current revision, else the update revision."""
    spec, name = sts["spec"], f"{sts['metadata']['name']}-{ordinal}"
    strategy = spec["updateStrategy"]
    rolling = strategy.get("rollingUpdate")
    if rolling is None:
        below = ordinal < sts.get("status", {}).get("currentReplicas", 0)
    else:
        below = ordinal < rolling["partition"]
    revision = current if strategy["type"] == ROLLING and below else update
    labels = {
        REVISION_LABEL: revision["metadata"]["name"],
        "apps.kubernetes.io/pod-index": str(ordinal),
        "statefulset.kubernetes.io/pod-name": name,
    }
    identity = {"hostname": name}
    if spec.get("serviceName"):
        identity["subdomain"] = spec["serviceName"]
    ctl.create_pod(sts, name, revisions.template(revision), labels, identity)


def _status(ctl: Controller, sts: dict, current: str, update: str) -> dict:
    """updateStatus and completeRollingUpdate: the status, from the pods as they are now."""
    spec = sts["spec"]
    pods = [p for p in ctl.owned("pods", sts) if _ordinal(p) >= 0 and p["status"].get("phase")]
    live = [p for p in pods if not is_terminating(p)]
    ready = sum(p["status"]["phase"] == "Running" and is_ready(p) for p in pods)
    current_count = sum(_revision(p) == current for p in live)
    updated = sum(_revision(p) == update for p in live)
    if (
        spec["updateStrategy"]["type"] == ROLLING
        and updated == ready == len(pods) == spec["replicas"]
    ):
        current, current_count = update, updated
    status = {
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": current_count,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": 0,
        "availableReplicas": ready,
    }
    omitted_when_zero = ("readyReplicas", "currentReplicas", "updatedReplicas")
    for key in omitted_when_zero:
        if not status[key]:
            del status[key]
    return status


def _healthy(pod: dict) -> bool:
    """isHealthy: Running, Ready and not terminating."""
    return pod["status"].get("phase") == "Running" and is_ready(pod) and not is_terminating(pod)


def _revision(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


def _ordinal(pod: dict) -> int:
    """The number after the last '-' of the pod's name; -1 when there is none."""
    suffix = pod["metadata"]["name"].rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1
