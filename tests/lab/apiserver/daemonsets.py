"""The DaemonSet controller's sync, after pkg/controller/daemon (daemon_controller.go, update.go).

One pod per node that should run it (spec.nodeName set): a node whose labels match the
template's nodeSelector and whose NoSchedule and NoExecute taints the pod tolerates, with the
tolerations the controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations); a
pod goes on running where its nodeSelector matches and no NoExecute taint is untolerated
(nodeShouldRunDaemonPod), else it is deleted. A node without one gets a new pod once its old
one has stopped or is gone; a failed or extra pod is deleted. Each template is a revision
(revisions.py); a pod is up to date when its controller-revision-hash label is the revision's
hash or its pod-template-generation label is the DaemonSet's template generation.
RollingUpdate (maxSurge 0): out-of-date pods are deleted so that at most maxUnavailable nodes
are without an available pod (an unavailable old pod is replaced at once); OnDelete: only when
deleted. Nodes changing (labels, taints) sync every DaemonSet again (workloads.Controller).
Not done: maxSurge > 0 (rolled as if 0), minReadySeconds, node affinity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import revisions
from .apps import TEMPLATE_GENERATION, random_suffix, scaled
from .podstatus import has_ended, is_active, is_ready, is_terminating
from .taints import NO_EXECUTE, SCHEDULING, untolerated

if TYPE_CHECKING:
    from .workloads import Controller

HASH_LABEL, GENERATION_LABEL = revisions.HASH_LABEL, "pod-template-generation"
# what the controller adds to every daemon pod's tolerations (and network-unavailable with
# hostNetwork): daemons run on nodes under pressure, cordoned or not ready
DAEMON_TOLERATIONS = [
    *({"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": "NoExecute"}
      for key in ("not-ready", "unreachable")),
    *({"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": "NoSchedule"}
      for key in ("disk-pressure", "memory-pressure", "pid-pressure", "unschedulable")),
]
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


class _Revision:
    """The template's hash and generation, which mark a pod as up to date."""

    def __init__(self, ds: dict, revision: dict) -> None:
        self.hash = revision["metadata"]["labels"][HASH_LABEL]
        self.generation = ds["metadata"]["annotations"][TEMPLATE_GENERATION]

    def has(self, pod: dict) -> bool:
        """util.IsPodUpdated."""
        labels = pod["metadata"].get("labels") or {}
        return (
            labels.get(HASH_LABEL) == self.hash or labels.get(GENERATION_LABEL) == self.generation
        )


def sync(ctl: Controller, ds: dict) -> None:
    """manage, rollingUpdate, cleanupHistory, then the status (updateDaemonSetStatus)."""
    (nodes, staying), (current, history) = _placement(ctl, ds), revisions.current(ctl, ds)
    revision = _Revision(ds, current)
    _manage(ctl, ds, nodes, staying, revision)
    if ds["spec"]["updateStrategy"]["type"] == "RollingUpdate":
        _roll(ctl, ds, nodes, revision)
    hashes = {(p["metadata"].get("labels") or {}).get(HASH_LABEL) for p in ctl.owned("pods", ds)}
    live = {r["metadata"]["name"] for r in history if r["metadata"]["labels"][HASH_LABEL] in hashes}
    revisions.prune(ctl, ds, history, live | {current["metadata"]["name"]})
    _report(ctl, ds, nodes, revision)


def daemon_tolerations(spec: dict) -> list[dict]:
    """The template's tolerations with those the controller adds to every daemon pod."""
    own = list(spec.get("tolerations") or [])
    added = DAEMON_TOLERATIONS + ([HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    known = {(t.get("key"), t.get("effect")) for t in own}
    return own + [t for t in added if (t["key"], t["effect"]) not in known]


def _placement(ctl: Controller, ds: dict) -> tuple[list[str], set[str]]:
    """nodeShouldRunDaemonPod for every node: those where the pod should run, and those where
    one may go on running (its nodeSelector matches; NoExecute taints only)."""
    spec = ds["spec"]["template"].get("spec") or {}
    pod = {"spec": {"tolerations": daemon_tolerations(spec)}}
    selector = spec.get("nodeSelector") or {}
    run, staying = [], set()
    for node in ctl.nodes():
        labels = ((ctl.store.find("nodes", "", node) or {}).get("metadata") or {}).get("labels")
        if any((labels or {}).get(k) != v for k, v in selector.items()):
            continue
        if untolerated(ctl.store, node, pod, NO_EXECUTE) is None:
            staying.add(node)
            if untolerated(ctl.store, node, pod, SCHEDULING) is None:
                run.append(node)
    return run, staying


def _by_node(ctl: Controller, ds: dict) -> dict[str, list[dict]]:
    """getNodesToDaemonPods: the pods by node, oldest first; deleted ended pods left out."""
    groups: dict[str, list[dict]] = {}
    pods = sorted(
        ctl.owned("pods", ds),
        key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]),
    )
    for pod in pods:
        if not (is_terminating(pod) and has_ended(pod)):
            groups.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return groups


def _manage(ctl: Controller, ds: dict, nodes: list[str], staying: set[str],
            revision: _Revision) -> None:
    """podsShouldBeOnNode (no surge): create where a node that should run the pod has none at
    all, not even a terminating one; where one may go on running, delete ended pods and all but
    the oldest running one; elsewhere, every pod."""
    groups = _by_node(ctl, ds)
    tolerations = daemon_tolerations(ds["spec"]["template"].get("spec") or {})
    for node in nodes:
        if node not in groups:
            labels = {HASH_LABEL: revision.hash, GENERATION_LABEL: revision.generation}
            name = f"{ds['metadata']['name']}-{random_suffix()}"
            ctl.create_pod(ds, name, ds["spec"]["template"], labels,
                           {"nodeName": node, "tolerations": tolerations})
    for node, pods in groups.items():
        if node not in staying:
            doomed = pods
        else:
            doomed = [p for p in pods if has_ended(p)] + [p for p in pods if is_active(p)][1:]
        for pod in doomed:
            if not is_terminating(pod):
                ctl.delete(pod)


def _roll(ctl: Controller, ds: dict, nodes: list[str], revision: _Revision) -> None:
    """rollingUpdate without surge: an unavailable old pod is replaced at once; available old
    pods only while fewer than maxUnavailable nodes lack an available pod. A node without a pod
    counts as unavailable (updatedDesiredNodeCounts), also when its old pod went away after
    _manage looked."""
    rolling, desired = ds["spec"]["updateStrategy"]["rollingUpdate"], len(nodes)
    max_unavailable = scaled(rolling["maxUnavailable"], desired, round_up=True)
    if max_unavailable == 0 and scaled(rolling["maxSurge"], desired, round_up=True) == 0:
        max_unavailable = 1
    unavailable, replace, candidates = 0, [], []
    groups = _by_node(ctl, ds)
    for pods in (groups.get(node, []) for node in sorted(nodes)):
        live = [p for p in pods if not is_terminating(p)]
        new = [p for p in live if revision.has(p)]
        old = [p for p in live if not revision.has(p)]
        if len(new) > 1 or len(old) > 1 or len(new) == len(old):
            unavailable += 1  # manage() is still creating or pruning here
        elif new:
            unavailable += not is_ready(new[0])
        elif not is_ready(old[0]):
            replace.append(old[0])
            unavailable += 1
        elif unavailable < max_unavailable:
            candidates.append(old[0])
    room = max(0, max_unavailable - unavailable)
    for pod in replace + candidates[:room]:
        ctl.delete(pod)


def _report(ctl: Controller, ds: dict, nodes: list[str], revision: _Revision) -> None:
    """updateDaemonSetStatus: each node's oldest pod counts."""
    groups = _by_node(ctl, ds)
    oldest = [groups[node][0] for node in nodes if node in groups]
    ready = sum(is_ready(p) for p in oldest)
    status = {
        "currentNumberScheduled": len(oldest),
        "numberMisscheduled": sum(node not in nodes for node in groups),
        "desiredNumberScheduled": len(nodes),
        "numberReady": ready,
        "observedGeneration": ds["metadata"]["generation"],
        "updatedNumberScheduled": sum(revision.has(p) for p in oldest),
        "numberAvailable": ready,
        "numberUnavailable": len(nodes) - ready,
    }
    for key in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
        if not status[key]:  # omitempty
            del status[key]
    ctl.set_status("daemonsets", ds, status)
