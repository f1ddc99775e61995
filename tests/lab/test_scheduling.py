"""Where pods run in the lab, as in a cluster: the scheduler places a pod only on a node whose
NoSchedule and NoExecute taints it tolerates and whose labels match its nodeSelector, else it
stays Pending until a node change lets it in; the kubelet rejects a pod bound to its node that
does not tolerate a NoExecute taint (Failed, reason TaintToleration); the taint-eviction
controller deletes the pods a NoExecute taint is not tolerated by, and those tolerating it for
tolerationSeconds after that time; DaemonSets leave out nodes they may not run on. Taints and
labels are set with the real `kubectl taint` and `kubectl label`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.lab import fixtures
from tests.lab.apiserver.taints import tolerates
from tests.lab.fixtures import Lab, pod

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin
TAINT = "netmon-test/dedicated=infra"
REJECTED = ("Pod was rejected: Predicate TaintToleration failed: node(s) had taints that the "
            "pod didn't tolerate")


def _taint(lab: Lab, kubectl_bin, node: str, taint: str) -> None:
    done = lab.kubectl(kubectl_bin, "taint", "nodes", node, taint)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def no_execute_node(lab, kubectl_bin) -> Iterator[str]:
    """node-2 with a NoExecute taint, removed afterwards."""
    _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute")
    yield "node-2"
    _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute-")


@pytest.fixture
def every_node_no_schedule(lab, kubectl_bin) -> Iterator[None]:
    """Both nodes with a NoSchedule taint, removed afterwards."""
    for node in ("node-1", "node-2"):
        _taint(lab, kubectl_bin, node, f"{TAINT}:NoSchedule")
    yield
    for node in ("node-1", "node-2"):
        _taint(lab, kubectl_bin, node, f"{TAINT}:NoSchedule-")


def _failed_or_running(p: dict) -> bool:
    return p["status"].get("phase") in ("Failed", "Running")


def test_the_kubelet_rejects_a_pod_that_does_not_tolerate_its_no_execute_taint(
        lab, lab_ns, no_execute_node):
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                             pod("web", nodeName=no_execute_node))
    assert code == 201, body
    status = lab.wait_for_pod(lab_ns, "web", _failed_or_running)["status"]
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed", "TaintToleration", REJECTED)


@pytest.mark.parametrize("toleration", [
    {"operator": "Exists"},  # what netmon's node pods carry: every taint
    {"key": "netmon-test/dedicated", "operator": "Equal", "value": "infra",
     "effect": "NoExecute"},
])
def test_a_pod_that_tolerates_the_no_execute_taint_runs(lab, lab_ns, no_execute_node,
                                                         toleration):
    lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                pod("web", nodeName=no_execute_node, tolerations=[toleration]))
    assert lab.wait_for_pod(lab_ns, "web", _failed_or_running)["status"]["phase"] == "Running"


def test_no_node_takes_a_pod_that_tolerates_none_of_their_taints(lab, lab_ns,
                                                                  every_node_no_schedule):
    lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
    scheduled = lab.wait_for_pod(lab_ns, "web", lambda p: any(
        c["type"] == "PodScheduled" for c in p["status"].get("conditions", [])))
    [cond] = [c for c in scheduled["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert "2 node(s) had untolerated taint {netmon-test/dedicated: infra}" in cond["message"]
    assert not scheduled["spec"].get("nodeName")


@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"operator": "Exists"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"},
     {"key": "k", "effect": "NoSchedule"}, False),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoExecute"}, False),
])
def test_tolerations_match_taints_as_the_api_defines(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


def test_a_no_execute_taint_evicts_the_running_pods_that_do_not_tolerate_it(lab, lab_ns,
                                                                            kubectl_bin):
    lab.create_pod(lab_ns, pod("plain", nodeName="node-2"))
    lab.create_pod(lab_ns, pod("tolerant", nodeName="node-2",
                               tolerations=[{"operator": "Exists"}]))
    _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute")
    try:
        deadline = time.monotonic() + 30
        while not _being_deleted(lab, lab_ns, "plain"):
            assert time.monotonic() < deadline, "the untolerating pod was not evicted"
            time.sleep(0.1)
        code, tolerant = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods/tolerant")
    finally:
        _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute-")
    assert code == 200 and not tolerant["metadata"].get("deletionTimestamp")
    assert tolerant["status"]["phase"] == "Running"


def _being_deleted(lab: Lab, ns: str, name: str) -> bool:
    code, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    return code == 404 or bool(body["metadata"].get("deletionTimestamp"))


def test_the_scheduler_counts_the_nodes_of_each_taint_it_was_refused_by(lab, lab_ns,
                                                                          kubectl_bin):
    taints = {"node-1": "netmon-test/a=x:NoSchedule", "node-2": "netmon-test/b=y:NoExecute"}
    for node, taint in taints.items():
        _taint(lab, kubectl_bin, node, taint)
    try:
        lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
        scheduled = lab.wait_for_pod(lab_ns, "web", lambda p: any(
            c["type"] == "PodScheduled" for c in p["status"].get("conditions", [])))
    finally:
        for node, taint in taints.items():
            _taint(lab, kubectl_bin, node, taint + "-")
    [cond] = [c for c in scheduled["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond["message"].startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint {netmon-test/a: x}, "
        "1 node(s) had untolerated taint {netmon-test/b: y}. preemption: ")


def test_a_pending_pod_is_scheduled_once_the_taint_that_kept_it_out_is_removed(lab, lab_ns,
                                                                                kubectl_bin):
    tainted = {"node-1", "node-2"}
    for node in tainted:
        _taint(lab, kubectl_bin, node, f"{TAINT}:NoSchedule")
    try:
        lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
        lab.wait_for_pod(lab_ns, "web", lambda p: any(
            c["type"] == "PodScheduled" and c["status"] == "False"
            for c in p["status"].get("conditions", [])))
        _taint(lab, kubectl_bin, "node-1", f"{TAINT}:NoSchedule-")
        tainted.discard("node-1")
        running = lab.wait_for_pod(lab_ns, "web", _failed_or_running)
    finally:
        for node in tainted:
            _taint(lab, kubectl_bin, node, f"{TAINT}:NoSchedule-")
    assert (running["spec"]["nodeName"], running["status"]["phase"]) == ("node-1", "Running")


def test_a_pod_bound_to_a_tainted_node_is_evicted_after_its_toleration_seconds(
        lab, lab_ns, no_execute_node):
    limited = {"key": "netmon-test/dedicated", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 3}
    lab.create_pod(lab_ns, pod("web", nodeName=no_execute_node, tolerations=[limited]))
    assert not _being_deleted(lab, lab_ns, "web")
    deadline = time.monotonic() + 30
    while not _being_deleted(lab, lab_ns, "web"):
        assert time.monotonic() < deadline, "the pod outlived its tolerationSeconds"
        time.sleep(0.1)


def test_a_daemonset_leaves_out_a_node_whose_taint_it_does_not_tolerate_until_it_goes(
        lab, lab_ns, kubectl_bin):
    _taint(lab, kubectl_bin, "node-1", f"{TAINT}:NoSchedule")
    try:
        lab.request("POST", f"/apis/apps/v1/namespaces/{lab_ns}/daemonsets",
                    fixtures.workload("DaemonSet", "agent", None))
        assert _daemon_nodes(lab, lab_ns, want=1) == ["node-2"]
    finally:
        _taint(lab, kubectl_bin, "node-1", f"{TAINT}:NoSchedule-")
    assert _daemon_nodes(lab, lab_ns, want=2) == ["node-1", "node-2"]


def _daemon_nodes(lab: Lab, ns: str, want: int) -> list[str]:
    """The nodes of the namespace's running pods, once there are `want` (and a second on)."""
    deadline = time.monotonic() + 30
    while True:
        _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
        running = sorted(p["spec"]["nodeName"] for p in body["items"]
                         if p["status"].get("phase") == "Running"
                         and not p["metadata"].get("deletionTimestamp"))
        if len(running) == want:
            time.sleep(1)  # no more come
            _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
            live = [p["metadata"]["name"] for p in body["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            assert len(live) == want, live
            return running
        assert time.monotonic() < deadline, running
        time.sleep(0.2)


def test_the_scheduler_places_pods_only_where_their_node_selector_matches(lab, lab_ns):
    """Two of them: spreading by load alone would put one on each node."""
    for name in ("web-a", "web-b"):
        lab.create_pod(lab_ns, pod(name, nodeSelector={"kubernetes.io/hostname": "node-2"}))
    _, placed = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods")

    assert [p["spec"]["nodeName"] for p in placed["items"]] == ["node-2", "node-2"]


def test_a_pod_no_node_label_matches_waits_until_a_node_is_labelled(lab, lab_ns, kubectl_bin):
    lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                pod("web", nodeSelector={"netmon-test/pool": "capture"}))
    pending = lab.wait_for_pod(lab_ns, "web", lambda p: any(
        c["type"] == "PodScheduled" for c in p["status"].get("conditions", [])))
    [cond] = [c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond["message"].startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. ")
    done = lab.kubectl(kubectl_bin, "label", "nodes", "node-1", "netmon-test/pool=capture")
    assert done.returncode == 0, done.stderr
    try:
        running = lab.wait_for_pod(lab_ns, "web", _failed_or_running)
    finally:
        lab.kubectl(kubectl_bin, "label", "nodes", "node-1", "netmon-test/pool-")
    assert (running["spec"]["nodeName"], running["status"]["phase"]) == ("node-1", "Running")


def test_a_daemon_pod_stays_when_its_node_gets_a_no_schedule_taint(lab, lab_ns, kubectl_bin):
    lab.request("POST", f"/apis/apps/v1/namespaces/{lab_ns}/daemonsets",
                fixtures.workload("DaemonSet", "agent", None))
    assert _daemon_nodes(lab, lab_ns, want=2) == ["node-1", "node-2"]
    _taint(lab, kubectl_bin, "node-1", f"{TAINT}:NoSchedule")
    try:
        assert _daemon_nodes(lab, lab_ns, want=2) == ["node-1", "node-2"]
    finally:
        _taint(lab, kubectl_bin, "node-1", f"{TAINT}:NoSchedule-")


def test_a_no_execute_taint_takes_the_daemon_pod_off_its_node_for_good(lab, lab_ns,
                                                                      kubectl_bin):
    lab.request("POST", f"/apis/apps/v1/namespaces/{lab_ns}/daemonsets",
                fixtures.workload("DaemonSet", "agent", None))
    assert _daemon_nodes(lab, lab_ns, want=2) == ["node-1", "node-2"]
    _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute")
    try:
        time.sleep(2)  # evicted, and no new pod there meanwhile
        assert _daemon_nodes(lab, lab_ns, want=1) == ["node-1"]
    finally:
        _taint(lab, kubectl_bin, "node-2", f"{TAINT}:NoExecute-")
