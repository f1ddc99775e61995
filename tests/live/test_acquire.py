"""Ephemeral mode against the lab: a netmon container next to the pod, pcapng over exec."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from kubectl_netmon.cluster import specs
from kubectl_netmon.cluster.session import AcquireOptions, CaptureSession
from kubectl_netmon.cluster.targets import parse_targets, resolve
from tests.lab import fixtures
from tests.lab.node.procs import wait_exit
from tests.live import acquire_lab
from tests.live.acquire_lab import (
    capture_sessions,
    container_pids,
    ephemeral_state,
    pids_in,
    processes_in,
    read_all,
    talker,
    tshark_fields,
)

lab, lab_ns, api = fixtures.lab, fixtures.lab_ns, acquire_lab.api
STOP_BOUND_S = 30  # a stopped capture ends long before its 600 s limit


def _capture(api, ns: str, name: str, statuses: list[str] | Callable[[str], None] | None = None,
             **opts) -> tuple:
    """(points, their pcapng bytes) of one ephemeral capture; status lines into a list or a
    callback."""
    targets = resolve(api, parse_targets([name], ns))
    options = AcquireOptions(mode="ephemeral", **{"duration_s": 20, **opts})
    on_status = statuses.append if isinstance(statuses, list) else statuses or (lambda _: None)
    with CaptureSession(api, targets, options, on_status) as points:
        data = [read_all(p) for p in points]
    return points, data


def _netmon_containers(lab, ns: str, name: str) -> list[dict]:
    _, obj = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    return [c for c in obj["spec"].get("ephemeralContainers", [])
            if c["name"].startswith(specs.CONTAINER_PREFIX)]


def test_capture_streams_the_pods_packets_as_pcapng(lab, lab_ns, api, tshark, tmp_path):
    web = lab.create_pod(lab_ns, talker("web"))
    _, [data] = _capture(api, lab_ns, "web", count=5)
    lines = tshark_fields(tshark, data, tmp_path, "ip.src", "udp.dstport")
    assert lines == [f"{web['status']['podIP']}\t9"] * 5


def test_one_capture_point_per_pod_named_after_it(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    points, _ = _capture(api, lab_ns, "web", count=1)
    assert [p.name for p in points] == [f"{lab_ns}/web"]


def test_exit_status_from_channel_3_is_success_after_the_count(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    [point], _ = _capture(api, lab_ns, "web", count=2)
    assert point.stream.exit.code == 0 and "capture finished" in point.ended()


def test_the_container_gets_net_raw_and_net_admin_and_the_heartbeat_command(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    _capture(api, lab_ns, "web", count=1, linger_s=30)
    [container] = _netmon_containers(lab, lab_ns, "web")
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]
    assert container["command"] == specs.linger_command(container["name"], 30)


def test_a_second_capture_reuses_the_running_netmon_container(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    _capture(api, lab_ns, "web", count=1)
    statuses: list[str] = []
    _capture(api, lab_ns, "web", statuses, count=1)
    assert len(_netmon_containers(lab, lab_ns, "web")) == 1
    assert any("reusing ephemeral container" in s for s in statuses)


def test_a_reused_container_that_exits_before_the_exec_is_replaced_by_a_new_one(
        lab, lab_ns, api, tshark, tmp_path):
    """The container chosen for reuse dies between the status read and the exec (here: its
    process is killed once the session said it reuses it): a new container captures instead."""
    lab.create_pod(lab_ns, talker("web"))
    _capture(api, lab_ns, "web", count=1)
    [old] = _netmon_containers(lab, lab_ns, "web")
    statuses: list[str] = []

    def on_status(line: str) -> None:
        statuses.append(line)
        if "reusing ephemeral container" in line:
            for pid in container_pids(old["name"]):
                os.kill(pid, signal.SIGKILL)
            lab.wait_for_pod(lab_ns, "web",
                             lambda p: "terminated" in ephemeral_state(p, old["name"]))

    [point], [data] = _capture(api, lab_ns, "web", on_status, count=2)

    assert f"{lab_ns}/web: ephemeral container {old['name']} exited before the capture " \
        "started; adding a new one" in statuses
    assert point.container != old["name"] and len(_netmon_containers(lab, lab_ns, "web")) == 2
    assert len(tshark_fields(tshark, data, tmp_path, "frame.number")) == 2


def test_the_bpf_filter_is_applied_remotely(lab, lab_ns, api, tshark, tmp_path):
    lab.create_pod(lab_ns, talker("web"))
    _, [data] = _capture(api, lab_ns, "web", count=3, bpf_filter="arp or udp port 9")
    ports = tshark_fields(tshark, data, tmp_path, "udp.dstport")
    assert set(ports) <= {"9", ""} and len(ports) == 3


def test_snap_length_cuts_every_packet(lab, lab_ns, api, tshark, tmp_path):
    lab.create_pod(lab_ns, talker("web"))
    _, [data] = _capture(api, lab_ns, "web", count=3, snaplen=40, bpf_filter="udp")
    assert set(tshark_fields(tshark, data, tmp_path, "frame.cap_len")) == {"40"}


def test_remote_stderr_becomes_status_lines_of_the_point(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    statuses: list[str] = []
    _capture(api, lab_ns, "web", statuses, count=1)
    assert f"{lab_ns}/web: Capturing on 'eth0'" in statuses
    assert any(s.startswith(f"{lab_ns}/web: Packets received/dropped") for s in statuses)


def test_duration_limit_ends_the_capture(lab, lab_ns, api):
    lab.create_pod(lab_ns, fixtures.pod("quiet"))
    [point], [data] = _capture(api, lab_ns, "quiet", duration_s=1)
    assert point.stream.exit.code == 0 and data.startswith(b"\x0a\x0d\x0d\x0a")


def test_an_idle_netmon_container_exits_by_itself(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    _capture(api, lab_ns, "web", count=1, linger_s=2)
    [container] = _netmon_containers(lab, lab_ns, "web")
    done = lab.wait_for_pod(lab_ns, "web",
                            lambda p: "terminated" in ephemeral_state(p, container["name"]))
    assert ephemeral_state(done, container["name"])["terminated"]["exitCode"] == 0


def test_stop_lets_the_capture_finish_with_its_last_packets_and_exit_status(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    targets = resolve(api, parse_targets(["web"], lab_ns))
    session = CaptureSession(api, targets, AcquireOptions(mode="ephemeral", max_duration_s=600),
                             [].append)
    with session as [point]:
        reader = threading.Thread(target=read_all, args=(point,))
        reader.start()
        session.stop()
        reader.join(STOP_BOUND_S)
        finished = not reader.is_alive()
    assert finished
    assert point.stream.exit.code == 0


def test_the_hard_limit_ends_a_capture_nobody_stops(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    [point], _ = _capture(api, lab_ns, "web", duration_s=None, max_duration_s=1)
    assert point.stream.exit.code == 0


def test_a_bad_filter_is_reported_by_dumpcap_and_fails_the_point(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    statuses: list[str] = []
    [point], _ = _capture(api, lab_ns, "web", statuses, bpf_filter="no such filter")
    assert any("Invalid capture filter" in s for s in statuses)
    assert point.ended() == (
        f'{lab_ns}/web: capture failed: dumpcap: Invalid capture filter "no such filter" for '
        "interface 'eth0'. That string isn't a valid capture filter (can't parse filter "
        "expression: syntax error). (exit code 1, 0 bytes received)")


def test_leaving_the_session_stops_the_remote_capture(lab, lab_ns, api):
    lab.create_pod(lab_ns, talker("web"))
    targets = resolve(api, parse_targets(["web"], lab_ns))
    options = AcquireOptions(mode="ephemeral", max_duration_s=600, bpf_filter="udp port 7")
    with CaptureSession(api, targets, options, [].append) as [point]:
        sids = capture_sessions(specs.heartbeat_path(point.container))
    wait_exit(pids_in(sids), STOP_BOUND_S)
    assert sids and processes_in(sids) == []
