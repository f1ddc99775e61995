"""How a pod object reads while netmon waits for its capture container (pure, no cluster)."""

from __future__ import annotations

import pytest

from kubectl_netmon.cluster.podwait import FAILED, RUNNING, WAITING, progress


def _pod(state: dict | None = None, node: str = "node-1", phase: str = "Pending",
         ephemeral: bool = False, **status) -> dict:
    key = "ephemeralContainerStatuses" if ephemeral else "containerStatuses"
    containers = [{"name": "netmon-abcde", "image": "reg.example/netshoot:1"}]
    spec = {"ephemeralContainers" if ephemeral else "containers": containers}
    if node:
        spec["nodeName"] = node
    st = {"phase": phase, "startTime": "2026-11-27T10:00:00Z", **status}
    if state is not None:
        st[key] = [{"name": "netmon-abcde", "state": state}]
    return {"metadata": {"namespace": "shop", "name": "web"}, "spec": spec, "status": st}


@pytest.mark.parametrize("ephemeral", [False, True])
def test_a_running_container_is_done_waiting(ephemeral):
    pod = _pod({"running": {"startedAt": "x"}}, phase="Running", ephemeral=ephemeral)
    assert progress(pod, "netmon-abcde", ephemeral)[0] == RUNNING


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_fails_with_the_kubelets_message(reason):
    pod = _pod({"waiting": {"reason": reason, "message": "no such host"}})
    assert progress(pod, "netmon-abcde", False) == (
        FAILED, 'pod "shop/web": cannot pull image "reg.example/netshoot:1": no such host; '
        "check the image name, or give --image a mirror that has it (and --image-pull-secret "
        "if it needs a login)")


def test_a_terminated_container_fails_with_its_reason():
    pod = _pod({"terminated": {"exitCode": 128, "reason": "StartError"}})
    assert progress(pod, "netmon-abcde", False) == (
        FAILED, 'pod "shop/web": container netmon-abcde terminated: StartError')


def test_a_finished_pod_fails_with_its_message():
    pod = _pod(None, phase="Failed", reason="DeadlineExceeded", message="deadline passed")
    assert progress(pod, "netmon-abcde", False) == (
        FAILED, 'pod "shop/web" ended (Failed): deadline passed')


def test_an_unscheduled_pod_waits_with_the_schedulers_message():
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/2 nodes are available"}
    pod = _pod(None, node="", conditions=[cond])
    assert progress(pod, "netmon-abcde", False) == (
        WAITING, 'pod "shop/web" not scheduled yet: 0/2 nodes are available')


def test_a_pod_its_node_has_not_started_waits_for_that_node():
    pod = _pod(None)
    del pod["status"]["startTime"]
    assert progress(pod, "netmon-abcde", False) == (
        WAITING, 'pod "shop/web": waiting for node node-1 to start it')


def test_a_creating_container_waits_and_names_the_image_being_pulled():
    pod = _pod({"waiting": {"reason": "ContainerCreating"}})
    state, note = progress(pod, "netmon-abcde", False)
    assert state == WAITING and 'pulling image "reg.example/netshoot:1" on node node-1' in note


def test_untrusted_text_from_the_cluster_is_escaped():
    pod = _pod({"waiting": {"reason": "ErrImagePull", "message": "bad\x1b[2Jhost"}})
    assert "bad\\x1b[2Jhost" in progress(pod, "netmon-abcde", False)[1]
