"""SIGINT, SIGTERM and SIGKILL of a capture client: no netmon pod and no capture process stays.

The client runs in its own process (tests/live/acquire_client.py). Capture processes are found
by the heartbeat file in their command line, so only this test's processes are looked at.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kubectl_netmon.cluster import specs
from kubectl_netmon.cluster.session import AcquireOptions, CaptureSession
from kubectl_netmon.cluster.targets import PodRef, Targets
from tests.lab import fixtures
from tests.lab.node.procs import wait_exit
from tests.live import acquire_lab
from tests.live.acquire_lab import (
    capture_sessions,
    ephemeral_state,
    pids_in,
    processes_in,
    talker,
)

lab, lab_ns, api = fixtures.lab, fixtures.lab_ns, acquire_lab.api
BOUND_S = 30  # how long a stopped capture may take to go away (its hard limit is far longer)
# Quiet captures (dumpcap never writes, so never dies of EPIPE) with limits far away: only the
# watchdogs can stop them.
LONG = {"max_duration_s": 600, "linger_s": 600, "bpf_filter": "udp port 7"}


@contextmanager
def client(lab, ns: str, options: dict, *words: str) -> Iterator[tuple[subprocess.Popen, list]]:
    """The capture client, once its capture points stream: (process, points)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.live.acquire_client", str(lab.kubeconfig), ns,
         json.dumps(options), *words],
        cwd=fixtures.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read().decode()
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def _captures(points: list[dict]) -> set[int]:
    sids = set()
    for point in points:
        sids |= capture_sessions(specs.heartbeat_path(point["container"]))
    assert sids, "no capture process found for the client's points"
    return sids


def _wait_gone(sids: set[int]) -> list[bytes]:
    """Wait (up to BOUND_S) for the capture processes to exit; those still alive."""
    wait_exit(pids_in(sids), BOUND_S)
    return processes_in(sids)


def _node_pod(lab, ns: str, name: str) -> int:
    code, _ = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    return code


def _node_client(lab, ns: str, **extra):
    lab.create_pod(ns, talker("web"))
    return client(lab, ns, {"mode": "node", "node_namespace": ns, **LONG, **extra}, "web")


def test_sigterm_deletes_the_node_pod_and_stops_the_capture(lab, lab_ns):
    with _node_client(lab, lab_ns) as (proc, points):
        sids = _captures(points)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    assert _node_pod(lab, lab_ns, points[0]["pod"]) == 404
    assert _wait_gone(sids) == []


def test_sigint_deletes_the_node_pod_and_stops_the_capture(lab, lab_ns):
    with _node_client(lab, lab_ns) as (proc, points):
        sids = _captures(points)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    assert _node_pod(lab, lab_ns, points[0]["pod"]) == 404
    assert _wait_gone(sids) == []


def test_sigint_stops_an_ephemeral_capture(lab, lab_ns):
    lab.create_pod(lab_ns, talker("web"))
    with client(lab, lab_ns, {"mode": "ephemeral", **LONG}, "web") as (proc, points):
        sids = _captures(points)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    assert _wait_gone(sids) == []


def test_sigkill_of_the_client_stops_the_node_capture_by_its_stdin_watchdog(lab, lab_ns):
    with _node_client(lab, lab_ns) as (proc, points):
        sids = _captures(points)
        proc.kill()
        proc.wait(timeout=60)
    assert _wait_gone(sids) == []


def test_sigkill_of_the_client_stops_the_ephemeral_capture_by_its_stdin_watchdog(lab, lab_ns):
    lab.create_pod(lab_ns, talker("web"))
    with client(lab, lab_ns, {"mode": "ephemeral", **LONG}, "web") as (proc, points):
        sids = _captures(points)
        proc.kill()
        proc.wait(timeout=60)
    assert _wait_gone(sids) == []


def test_after_sigkill_the_node_pod_ends_at_its_deadline(lab, lab_ns):
    short = {"timeout_s": 5, "max_duration_s": 5, "deadline_slack_s": 1}
    with _node_client(lab, lab_ns, **short) as (proc, points):
        proc.kill()
        proc.wait(timeout=60)
    ended = lab.wait_for_pod(lab_ns, points[0]["pod"],
                             lambda p: p["status"].get("phase") == "Failed")
    assert ended["status"]["reason"] == "DeadlineExceeded"


def test_after_sigkill_the_ephemeral_container_exits_once_idle(lab, lab_ns):
    lab.create_pod(lab_ns, talker("web"))
    options = {"mode": "ephemeral", "max_duration_s": 600, "linger_s": 2}
    with client(lab, lab_ns, options, "web") as (proc, points):
        proc.kill()
        proc.wait(timeout=60)
    name = points[0]["container"]
    done = lab.wait_for_pod(lab_ns, "web", lambda p: "terminated" in ephemeral_state(p, name))
    assert ephemeral_state(done, name)["terminated"]["exitCode"] == 0


def _signal_while_waiting(api, ns: str, sig: int) -> None:
    """A session whose node pod never starts (node-9 has no kubelet); `sig` arrives while it
    waits."""
    def on_status(line: str) -> None:
        if "waiting for node node-9" in line:
            os.kill(os.getpid(), sig)

    targets = Targets(pods=[PodRef(ns, "ghost", "node-9", "10.244.9.9")])
    options = AcquireOptions(mode="node", node_namespace=ns, timeout_s=60)
    with CaptureSession(api, targets, options, on_status):
        pass


def test_sigterm_while_waiting_for_the_pod_deletes_it(lab, lab_ns, api):
    with pytest.raises(SystemExit) as ended:
        _signal_while_waiting(api, lab_ns, signal.SIGTERM)
    assert ended.value.code == 143
    assert lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods")[1]["items"] == []


def test_sigint_while_waiting_for_the_pod_deletes_it(lab, lab_ns, api):
    with pytest.raises(KeyboardInterrupt):
        _signal_while_waiting(api, lab_ns, signal.SIGINT)
    assert lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods")[1]["items"] == []


def test_the_sigterm_handler_is_restored_after_the_session(lab, lab_ns, api):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit):
        _signal_while_waiting(api, lab_ns, signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
