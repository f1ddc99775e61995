"""A capture of a selector, a namespace or a workload follows its pods, against the lab: a pod
that starts during the capture is captured too (ephemeral mode: a container of its own; node
mode: one more capture in its node's capture pod), and a pod deleted meanwhile ends its own
capture, not the command. (Rollouts: tests/live/test_watch_workloads.py.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.lab import fixtures
from tests.lab.fixtures import Lab
from tests.live.acquire_lab import talker, tshark_fields
from tests.live.cli_process import NetmonProcess

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin


def _netmon(lab: Lab, *args: str) -> NetmonProcess:
    return NetmonProcess({**os.environ, "KUBECONFIG": str(lab.kubeconfig)}, *args)


def _talker(name: str, node: str) -> dict:
    manifest = talker(name, nodeName=node)
    manifest["metadata"]["labels"] = {"app": "talk"}
    return manifest


def _running(lab: Lab, ns: str) -> dict[str, str]:
    """Running pods not being deleted: name -> address."""
    _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in body["items"]
            if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")}


def _printed(run: NetmonProcess, *parts: str) -> list[str]:
    """The lines the run printed so far that hold every part."""
    return [line for line in list(run.lines) if all(p in line for p in parts)]


def _until(check, timeout: float = 60.0):
    """check()'s first truthy value, asked every 0.2 s (fails after timeout)."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value


@pytest.mark.parametrize(("flag", "mode", "node", "point"), [
    ("-l", "ephemeral", "node-1", "{ns}/late"),
    ("--ns", "node", "node-1", "{ns}/late"),  # one more capture in node-1's capture pod
    ("--ns", "node", "node-2", "node/node-2"),  # a capture pod for node-2, deleted at the end
])
def test_capture_records_a_matching_pod_that_starts_during_the_capture(
        lab, lab_ns, tshark, tmp_path: Path, flag, mode, node, point):
    lab.create_pod(lab_ns, _talker("first", "node-1"))
    out = tmp_path / "talk.pcapng"
    value = "app=talk" if flag == "-l" else lab_ns
    # --duration: a capture that misses the late pod ends by itself (and the test fails)
    with _netmon(lab, "capture", flag, value, "-n", lab_ns, "--mode", mode, "--duration", "40s",
                 "-w", str(out)) as run:
        run.wait_for("Capturing on")
        late = lab.create_pod(lab_ns, _talker("late", node))
        run.wait_for(f"{point.format(ns=lab_ns)}: Packets: ")  # the late pod's capture runs
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    sources = tshark_fields(tshark, out.read_bytes(), tmp_path, "ip.src")
    assert late["status"]["podIP"] in sources, done.stderr
    for ns, name in run.node_pods():
        assert lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")[0] == 404


def test_pods_starting_together_on_a_new_node_share_one_capture_pod(lab, lab_ns, tshark,
                                                                    tmp_path: Path):
    """Each pod joins from a thread of its own: the second must not create a capture pod of
    its own while the first one's still starts (one capture per node, never one per pod)."""
    lab.create_pod(lab_ns, _talker("first", "node-1"))
    out = tmp_path / "talk.pcapng"
    with _netmon(lab, "capture", "--ns", lab_ns, "--mode", "node", "--duration", "40s",
                 "-w", str(out)) as run:
        run.wait_for("Capturing on")
        for name in ("late-a", "late-b"):  # both at once: they start together
            code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                                     _talker(name, "node-2"))
            assert code == 201, body
        late = [lab.wait_for_pod(lab_ns, name, lambda p: p["status"].get("phase") == "Running")
                for name in ("late-a", "late-b")]
        # the first to join gets node-2's capture pod, the other one more capture in it
        _until(lambda: _printed(run, "node/node-2: Packets: ")
               and _printed(run, f"{lab_ns}/late-", ": Packets: "))
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert len(_printed(run, "node/node-2: created capture pod")) == 1, done.stderr
    sources = set(tshark_fields(tshark, out.read_bytes(), tmp_path, "ip.src"))
    assert {p["status"]["podIP"] for p in late} <= sources, done.stderr


def test_a_deleted_pods_own_capture_in_a_node_capture_pod_ends_with_it(lab, lab_ns):
    """Its filter holds the pod's address, which the next pod may get: it must not go on."""
    lab.create_pod(lab_ns, _talker("first", "node-1"))
    with _netmon(lab, "watch", "-l", "app=talk", "-n", lab_ns, "--mode", "node",
                 "--duration", "60s", "-o", "json") as run:
        run.wait_for("Capturing on")
        lab.create_pod(lab_ns, _talker("late", "node-1"))
        run.wait_for(f"{lab_ns}/late: Capturing on")  # one more capture in node-1's pod
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/late", {"gracePeriodSeconds": 0})
        run.wait_for(f"{lab_ns}/late: Packets received/dropped")  # dumpcap finished ...
        run.wait_for("node/node-1: Packets: ")  # ... while node-1's own capture goes on
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr


def test_a_pod_deleted_during_a_workload_watch_ends_its_capture_not_the_command(
        lab, lab_ns, kubectl_bin):
    manifest = fixtures.workload("Deployment", "web", 2)
    manifest["spec"]["template"]["spec"] = talker("x")["spec"]
    code, body = lab.request("POST", f"/apis/apps/v1/namespaces/{lab_ns}/deployments", manifest)
    assert code == 201, body
    before = _until(lambda: len(pods := _running(lab, lab_ns)) == 2 and pods)
    with _netmon(lab, "watch", "deploy/web", "-n", lab_ns, "--mode", "ephemeral",
                 "--duration", "40s", "-o", "json") as run:
        run.wait_for("Capturing on", times=2)
        scaled = lab.kubectl(kubectl_bin, "-n", lab_ns, "scale", "deploy/web", "--replicas=1")
        assert scaled.returncode == 0, scaled.stderr
        [gone] = _until(lambda: set(before) - set(_running(lab, lab_ns)))
        run.wait_for(f"{lab_ns}/{gone}: Packets received/dropped")  # its capture ended
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert f"{lab_ns}/{gone}: pod ended (" in done.stderr
