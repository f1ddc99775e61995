"""The lab's DaemonSet rolling update counts a node with no pod as unavailable, as
updatedDesiredNodeCounts does, so a node whose old pod went away between the controller's
create pass and its roll pass never lets a second node's pod go at the same time."""

from __future__ import annotations

from tests.lab.apiserver import daemonsets
from tests.lab.apiserver.apps import TEMPLATE_GENERATION
from tests.lab.apiserver.revisions import HASH_LABEL


class _Controller:
    """The DaemonSet's pods as the store holds them at one moment; records deletions."""

    def __init__(self, pods: list[dict]) -> None:
        self.pods, self.deleted = pods, []

    def owned(self, resource: str, owner: dict) -> list[dict]:
        return self.pods

    def delete(self, pod: dict) -> None:
        self.deleted.append(pod["metadata"]["name"])


def _old_ready_pod(name: str, node: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {HASH_LABEL: "old", "pod-template-generation": "1"},
        },
        "spec": {"nodeName": node},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _daemonset() -> dict:
    rolling = {"maxUnavailable": 1, "maxSurge": 0}
    return {
        "metadata": {"annotations": {TEMPLATE_GENERATION: "2"}},
        "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}},
    }


def test_a_node_left_without_a_pod_keeps_the_next_nodes_old_pod():
    ctl = _Controller([_old_ready_pod("agent-b", "node-2")])
    revision = daemonsets._Revision(_daemonset(), {"metadata": {"labels": {HASH_LABEL: "new"}}})

    daemonsets._roll(ctl, _daemonset(), ["node-1", "node-2"], revision)

    assert ctl.deleted == []


def test_with_every_node_served_one_old_pod_is_replaced():
    ctl = _Controller([_old_ready_pod("agent-a", "node-1"), _old_ready_pod("agent-b", "node-2")])
    revision = daemonsets._Revision(_daemonset(), {"metadata": {"labels": {HASH_LABEL: "new"}}})

    daemonsets._roll(ctl, _daemonset(), ["node-1", "node-2"], revision)

    assert ctl.deleted == ["agent-a"]
