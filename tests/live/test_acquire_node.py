"""Node mode against the lab: one hostNetwork capture pod per node, deleted on every exit."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from kubectl_netmon.cluster import specs
from kubectl_netmon.cluster.session import AcquireOptions, CaptureSession
from kubectl_netmon.cluster.targets import PodRef, Targets, parse_targets, resolve
from kubectl_netmon.errors import ClusterError
from tests.lab import fixtures
from tests.live import acquire_lab
from tests.live.acquire_lab import read_all, talker, tshark_fields

lab, lab_ns, api, kubectl_bin = fixtures.lab, fixtures.lab_ns, acquire_lab.api, fixtures.kubectl_bin


def _netmon_pods(lab, ns: str) -> list[dict]:
    _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector="
                          f"{specs.MANAGED_BY}%3D{specs.MANAGER}")
    return body["items"]


def _start_and_stop(api, targets: Targets, options: AcquireOptions) -> None:
    with CaptureSession(api, targets, options, [].append):
        pass


def _options(ns: str, **kw) -> AcquireOptions:
    """Node mode with capture pods in the test's namespace; 20 s at most if packets are late."""
    return AcquireOptions(mode="node", node_namespace=ns, **{"duration_s": 20, **kw})


def test_many_pods_on_one_node_share_one_capture_filtered_to_them(lab, lab_ns, api, tshark,
                                                                  tmp_path):
    lab.create_pod(lab_ns, talker("a", nodeName="node-1"))
    lab.create_pod(lab_ns, talker("b", nodeName="node-1"))
    lab.create_pod(lab_ns, talker("other", nodeName="node-1"))
    targets = resolve(api, parse_targets(["a", "b"], lab_ns))
    options = _options(lab_ns, count=20, bpf_filter="udp")
    with CaptureSession(api, targets, options, [].append) as points:
        data = [read_all(p) for p in points]
    [point] = points
    sources = set(tshark_fields(tshark, data[0], tmp_path, "ip.src"))
    assert point.name == "node/node-1" and sorted(p.name for p in point.pods) == ["a", "b"]
    assert sources == {p.ip for p in targets.pods}


def test_a_whole_node_is_captured_on_any_interface(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("talk", nodeName="node-2"))
    targets = Targets(nodes=["node-2"])
    with CaptureSession(api, targets, _options(lab_ns, count=1), [].append) as points:
        read_all(points[0])
    assert (points[0].name, points[0].interface) == ("node/node-2", "any")


def test_a_node_tainted_no_execute_is_captured_all_the_same(lab, lab_ns, api, kubectl_bin):
    """The kubelet rejects pods that do not tolerate a NoExecute taint
    (tests/lab/test_scheduling.py): the capture pod tolerates every taint."""
    lab.create_pod(lab_ns, talker("talk", nodeName="node-2"))
    taint = ("taint", "nodes", "node-2", "netmon-test/dedicated=infra:NoExecute")
    assert lab.kubectl(kubectl_bin, *taint).returncode == 0
    try:
        with CaptureSession(api, Targets(nodes=["node-2"]), _options(lab_ns, count=1),
                            [].append) as points:
            assert read_all(points[0])
    finally:
        lab.kubectl(kubectl_bin, *taint[:-1], taint[-1] + "-")
    assert _netmon_pods(lab, lab_ns) == []


def test_a_no_execute_taint_added_mid_capture_does_not_evict_the_capture_pod(
        lab, lab_ns, api, kubectl_bin):
    """The taint-eviction controller deletes what does not tolerate it (tests/lab/
    test_scheduling.py); the capture pod tolerates every taint and goes on."""
    lab.create_pod(lab_ns, talker("talk", nodeName="node-2", tolerations=[
        {"operator": "Exists"}]))
    taint = ("taint", "nodes", "node-2", "netmon-test/drain=now:NoExecute")
    with CaptureSession(api, Targets(nodes=["node-2"]), _options(lab_ns, duration_s=4),
                        [].append) as points:
        assert lab.kubectl(kubectl_bin, *taint).returncode == 0
        try:
            data = read_all(points[0])
            [capture_pod] = _netmon_pods(lab, lab_ns)
        finally:
            lab.kubectl(kubectl_bin, *taint[:-1], taint[-1] + "-")
    assert not capture_pod["metadata"].get("deletionTimestamp")
    assert points[0].ended().endswith(f"capture finished ({len(data)} bytes received)")


def test_the_capture_pod_runs_on_the_node_with_host_network(lab, lab_ns, api):
    targets = Targets(nodes=["node-2"])
    with CaptureSession(api, targets, _options(lab_ns, duration_s=1), [].append):
        [capture_pod] = _netmon_pods(lab, lab_ns)
    assert capture_pod["spec"]["nodeName"] == "node-2" and capture_pod["spec"]["hostNetwork"]


def test_the_capture_pod_is_deleted_on_a_normal_exit(lab, lab_ns, api):
    options = _options(lab_ns, duration_s=1)
    with CaptureSession(api, Targets(nodes=["node-1"]), options, [].append) as points:
        read_all(points[0])
    assert _netmon_pods(lab, lab_ns) == []


def test_the_capture_pod_is_deleted_when_the_consumer_fails(lab, lab_ns, api):
    with pytest.raises(RuntimeError), CaptureSession(api, Targets(nodes=["node-1"]),
                                                     _options(lab_ns), [].append):
        raise RuntimeError("the consumer failed")
    assert _netmon_pods(lab, lab_ns) == []


def test_a_pod_that_never_schedules_times_out_and_is_deleted(lab, lab_ns, api):
    targets = Targets(pods=[PodRef(lab_ns, "ghost", "node-9", "10.244.9.9")])
    with pytest.raises(ClusterError, match="timed out after 2s: .* waiting for node node-9 .*; "
                       f"its events say why: kubectl describe pod -n {lab_ns} netmon-"):
        _start_and_stop(api, targets, _options(lab_ns, timeout_s=2))
    assert _netmon_pods(lab, lab_ns) == []


def test_an_image_that_cannot_be_pulled_ends_with_the_pull_error_and_cleanup(lab, lab_ns, api):
    options = _options(lab_ns, image="registry.invalid/netshoot:v0.13")
    with pytest.raises(ClusterError, match='cannot pull image "registry.invalid/netshoot:v0.13"'):
        _start_and_stop(api, Targets(nodes=["node-1"]), options)
    assert _netmon_pods(lab, lab_ns) == []


def test_progress_is_reported_while_the_pod_starts(lab, lab_ns, api):
    statuses: list[str] = []
    with CaptureSession(api, Targets(nodes=["node-1"]), _options(lab_ns, duration_s=1),
                        statuses.append) as points:
        read_all(points[0])
    assert any("created capture pod" in s for s in statuses)


def test_a_capture_killed_remotely_reports_its_exit_status(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web", nodeName="node-1"))
    with CaptureSession(api, Targets(nodes=["node-1"]), _options(lab_ns), [].append) as [point]:
        chunks = point.output
        next(chunks)  # the capture runs
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/{point.pod}?gracePeriodSeconds=0")
        b"".join(chunks)
    assert point.ended().startswith("node/node-1: capture failed, exit code 137")


def test_pods_on_two_nodes_get_one_capture_each(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("a", nodeName="node-1"))
    lab.create_pod(lab_ns, talker("b", nodeName="node-2"))
    targets = resolve(api, parse_targets(["a", "b"], lab_ns))
    with CaptureSession(api, targets, _options(lab_ns, count=1), [].append) as points:
        names = sorted(p.name for p in points)
    assert names == ["node/node-1", "node/node-2"]


def test_a_whole_node_and_a_pod_on_it_share_one_unfiltered_capture(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("a", nodeName="node-1"))
    targets = resolve(api, parse_targets(["pod/a", "node/node-1"], lab_ns))
    with CaptureSession(api, targets, _options(lab_ns, count=1), [].append) as [point]:
        pass
    argv = parse_qs(urlparse(point.stream.url).query)["command"]
    assert [p.name for p in point.pods] == ["a"] and "-f" not in argv
