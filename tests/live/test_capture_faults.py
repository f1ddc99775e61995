"""Captures that go wrong on the cluster's side, against the lab: a remote dumpcap that never
starts writing, an exec into a netmon container that has exited (as API servers before and
after 1.30 report it), and one capture of several that dies while the others go on.

A misbehaving dumpcap is made the way an image with a broken dumpcap would have it: lab
containers run the node's binaries in a mount namespace of their own, so a script bound over
dumpcap inside netmon's (reused) ephemeral container is what that container's captures run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import websocket

from kubectl_netmon.cluster import specs
from kubectl_netmon.cluster.exec_stream import parse_status
from tests.lab import fixtures
from tests.lab.fixtures import Lab, ws_exec
from tests.live.acquire_lab import capture_sessions, pids_in, talker
from tests.live.cli_process import NetmonProcess, kept, still_running

lab, lab_ns = fixtures.lab, fixtures.lab_ns

GONE_S = 30.0  # for a remote capture to show up, or to go away
_ADDED = re.compile(r"added ephemeral container (\S+)$", re.M)
# Bound over dumpcap: a capture that hangs before it opens its output (a stuck node, a broken
# image); it ends only when the capture script stops it.
HANGING_DUMPCAP = b"#!/bin/sh\nexec sleep 600\n"


def _netmon(lab: Lab, *args: str) -> NetmonProcess:
    return NetmonProcess({**os.environ, "KUBECONFIG": str(lab.kubeconfig)}, *args)


def _netmon_container(lab: Lab, ns: str, pod: str) -> str:
    """Run a short watch of the pod; the ephemeral container it added (it lingers, and the
    next capture of the pod reuses it)."""
    with _netmon(lab, "watch", "pod", pod, "-n", ns, "--mode", "ephemeral", "--duration", "1s",
                 "-o", "json") as run:
        done = run.finish()
    assert done.code == 0, done.stderr
    return _added(run, f"{ns}/{pod}")


def _added(run: NetmonProcess, point: str) -> str:
    """The ephemeral container the run said it added for that capture point."""
    return next(m.group(1) for line in run.lines if line.startswith(f"{point}: ")
                and (m := _ADDED.search(line)))


def _bind_over_dumpcap(lab: Lab, ns: str, pod: str, container: str, script: bytes) -> None:
    """Make `script` the dumpcap of that container (its own mount namespace only)."""
    put = ('cat > /tmp/dumpcap && chmod +x /tmp/dumpcap && '
           'mount --bind /tmp/dumpcap "$(command -v dumpcap)"')
    done = ws_exec(lab, ns, pod, ["sh", "-c", put], stdin=script, container=container)
    assert done.status["status"] == "Success", done.channel(2)


def _sessions_of(container: str) -> set[int]:
    """The remote captures running in that container, once there is one."""
    deadline = time.monotonic() + GONE_S
    while not (sids := capture_sessions(specs.heartbeat_path(container))):
        assert time.monotonic() < deadline, f"no capture started in {container}"
        time.sleep(0.1)
    return sids


def test_a_capture_that_never_writes_fails_after_the_request_timeout_naming_where(lab,
                                                                                  lab_ns):
    web = lab.create_pod(lab_ns, talker("web"))
    container = _netmon_container(lab, lab_ns, "web")
    _bind_over_dumpcap(lab, lab_ns, "web", container, HANGING_DUMPCAP)

    with _netmon(lab, "watch", "pod", "web", "-n", lab_ns, "--request-timeout", "8s",
                 "-o", "json") as run:
        run.wait_for(f"reusing ephemeral container {container}")
        sids = _sessions_of(container)
        done = run.finish()

    error = done.stderr.splitlines()[-1]
    assert done.code == 1, done.stderr
    assert error == (
        f"error: {lab_ns}/web: the capture did not start within 8s: no output from dumpcap in "
        f"ephemeral container {container} in pod {lab_ns}/web on node "
        f"{web['spec']['nodeName']}; check the node's load and that dumpcap runs in the image "
        f"(kubectl exec -n {lab_ns} web -c {container} -- dumpcap -D); --request-timeout "
        "allows longer")
    assert still_running(sids) == []


def _pod_with_an_exited_container(lab: Lab, ns: str) -> None:
    """Pod `two`: container `app` runs, container `done` has exited (the pod stays Running)."""
    manifest = fixtures.pod("two", restartPolicy="Never")
    manifest["spec"]["containers"].append({"name": "done", "image": "busybox:1.36",
                                           "command": ["true"]})
    lab.create_pod(ns, manifest)
    lab.wait_for_pod(ns, "two", lambda p: any("terminated" in cs["state"]
                                              for cs in p["status"]["containerStatuses"]))


def test_exec_v5_into_an_exited_container_is_upgraded_then_refused_without_exit_code(lab,
                                                                                     lab_ns):
    """As a 1.30+ API server does: its stream translator accepts the WebSocket, then its SPDY
    dial to the kubelet is refused; the error comes as an InternalError Status on channel 3.
    (The session replaces a reused netmon container that ended like this.)"""
    _pod_with_an_exited_container(lab, lab_ns)

    done = ws_exec(lab, lab_ns, "two", ["true"], container="done")

    assert done.protocol == "v5.channel.k8s.io" and done.channel(1) == b""
    assert parse_status(done.channel(3)).code is None
    assert done.status["message"] == ("Internal error occurred: unable to upgrade connection: "
                                      'container not found ("done")')


def test_exec_v4_into_an_exited_container_is_refused_before_the_upgrade(lab, lab_ns):
    """Before 1.30 (and for v4 clients) the upgrade goes to the kubelet, which refuses it."""
    _pod_with_an_exited_container(lab, lab_ns)

    with pytest.raises(websocket.WebSocketBadStatusException, match="400"):
        ws_exec(lab, lab_ns, "two", ["true"], container="done",
                protocols=("v4.channel.k8s.io",))


def _talkers_on_both_nodes(lab: Lab, ns: str) -> None:
    for name, node in (("a", "node-1"), ("b", "node-2")):
        manifest = talker(name, nodeName=node)
        manifest["metadata"]["labels"] = {"app": "talk"}
        lab.create_pod(ns, manifest)


def _kill_dumpcap(sids: set[int]) -> None:
    """SIGKILL the dumpcap of these capture sessions (as the OOM killer would)."""
    for pid in pids_in(sids):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if f.read().startswith(b"dumpcap\0"):
                os.kill(pid, signal.SIGKILL)


def _packets_said(run: NetmonProcess, point: str) -> int:
    """The latest packet count the point's remote dumpcap reported so far."""
    said = [int(line.rsplit(" ", 1)[1]) for line in run.lines
            if line.startswith(f"{point}: Packets: ")]
    return said[-1] if said else 0


def _times_by_interface(tshark: str, path: Path) -> dict[str, list[float]]:
    """The capture times of the file's packets per interface name (tshark must read it)."""
    read = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e",
                           "frame.interface_name", "-e", "frame.time_epoch"],
                          capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    times: dict[str, list[float]] = {}
    for line in read.stdout.splitlines():
        name, ts = line.split("\t")
        times.setdefault(name, []).append(float(ts))
    return times


def test_one_capture_dying_leaves_the_others_streaming_and_fails_the_run(lab, lab_ns, tshark,
                                                                        tmp_path: Path):
    """Pod a on node-1 and pod b on node-2 each send 10 datagrams a second; a's remote dumpcap
    is killed once it delivered packets, b's goes on until Ctrl-C."""
    _talkers_on_both_nodes(lab, lab_ns)
    a, b = f"{lab_ns}/a", f"{lab_ns}/b"
    out = tmp_path / "talk.pcapng"
    with _netmon(lab, "capture", "-l", "app=talk", "-n", lab_ns, "--mode", "ephemeral",
                 "-w", str(out)) as run:
        run.wait_for(f"{a}: Packets: ")
        sids = _sessions_of(_added(run, a))
        _kill_dumpcap(sids)
        assert still_running(sids) == []
        more = _packets_said(run, b) + 10  # b captures that many after a died
        while _packets_said(run, b) < more:
            run.wait_for(f"{b}: Packets: ")
        run.send_signal(signal.SIGINT)
        done = run.finish()

    times = _times_by_interface(tshark, out)
    assert done.code == 1, done.stderr
    assert f"{b}: capture finished" in done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        f"error: {a}: capture failed, exit code 137 (dumpcap killed by SIGKILL) (")
    assert sum(map(len, times.values())) == kept(done.stderr)
    assert times[a] and sum(t > max(times[a]) for t in times[b]) >= 10
