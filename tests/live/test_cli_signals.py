"""Ctrl-C, SIGTERM and SIGKILL of the real CLI (`python -m kubectl_netmon`) against the lab's
log4shell scenario, at the moments a user presses them: while the capture pod starts, while
packets stream, twice in a row. Whatever the moment: the node capture pods are deleted, no
remote capture keeps running, a written pcapng reads in tshark, and no traceback is shown.
(tests/live/test_signals.py covers the capture session itself, through a small client.)
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path

from tests.live.cli_process import NetmonProcess, conns, kept, pod_exists, still_running
from tests.live.fixtures import RunningLab, log4shell_lab  # noqa: F401 - the fixture

SLOW_IMAGE = "slow.registry.test/netshoot"  # the lab's nodes take seconds to pull its tags


def _start(lab: RunningLab, *args: str) -> NetmonProcess:
    return NetmonProcess(lab.env(), *args)


def _streaming(run: NetmonProcess) -> set[int]:
    """Wait until the remote captures reported packets; their session ids."""
    run.wait_for("Capturing on")
    sids = run.capture_sessions()
    run.wait_for(": Packets: ")
    return sids


def _node_pods_left(lab: RunningLab, run: NetmonProcess) -> list[tuple[str, str]]:
    pods = run.node_pods()
    assert pods, "the run created no capture pod"
    return [p for p in pods if pod_exists(str(lab.kubeconfig), *p)]


def _tshark_reads(tshark: str, path: Path) -> int:
    """How many packets tshark reads from the file (it must read it without an error)."""
    read = subprocess.run([tshark, "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    return len(read.stdout.splitlines())


def test_ctrl_c_while_the_capture_pod_pulls_its_image_deletes_it_and_exits_130(
        log4shell_lab):  # noqa: F811
    image = f"{SLOW_IMAGE}:{uuid.uuid4().hex[:8]}"  # a tag no node holds yet
    with _start(log4shell_lab, "watch", "pod", "ldap", "-n", "demo", "--mode", "node",
                "--image", image, "-o", "json") as run:
        run.wait_for("pulling image")
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert _node_pods_left(log4shell_lab, run) == []


def test_ctrl_c_while_streaming_reports_the_flows_and_deletes_the_node_pod(
        log4shell_lab):  # noqa: F811
    with _start(log4shell_lab, "watch", "pod", "web", "-n", "demo", "--mode", "node",
                "-o", "json") as run:
        sids = _streaming(run)
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert conns(done.stdout) and " flows, " in done.stderr
    assert _node_pods_left(log4shell_lab, run) == []
    assert still_running(sids) == []


def test_a_second_ctrl_c_right_after_the_first_still_ends_with_a_summary_and_a_clean_cluster(
        log4shell_lab, tshark, tmp_path):  # noqa: F811
    out = tmp_path / "demo.pcapng"
    with _start(log4shell_lab, "capture", "--ns", "demo", "--mode", "node", "-w",
                str(out)) as run:
        sids = _streaming(run)
        run.send_signal(signal.SIGINT)
        time.sleep(0.05)  # two presses, not one signal delivered twice
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert _tshark_reads(tshark, out) == kept(done.stderr) > 0
    assert _node_pods_left(log4shell_lab, run) == []
    assert still_running(sids) == []


def test_sigterm_while_streaming_finishes_like_ctrl_c_with_the_packets_in_the_file(
        log4shell_lab, tshark, tmp_path):  # noqa: F811
    """As tcpdump takes it: a service manager's stop keeps the capture and says what it got."""
    out = tmp_path / "demo.pcapng"
    with _start(log4shell_lab, "capture", "--ns", "demo", "--mode", "node", "-w",
                str(out)) as run:
        sids = _streaming(run)
        run.send_signal(signal.SIGTERM)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert _tshark_reads(tshark, out) == kept(done.stderr) > 0
    assert _node_pods_left(log4shell_lab, run) == []
    assert still_running(sids) == []


def test_sigterm_while_the_capture_pod_pulls_its_image_deletes_it_and_exits_143(
        log4shell_lab):  # noqa: F811
    image = f"{SLOW_IMAGE}:{uuid.uuid4().hex[:8]}"
    with _start(log4shell_lab, "watch", "pod", "ldap", "-n", "demo", "--mode", "node",
                "--image", image, "-o", "json") as run:
        run.wait_for("pulling image")
        run.send_signal(signal.SIGTERM)
        done = run.finish()

    assert done.code == 143, done.stderr
    assert "Traceback" not in done.stderr
    assert _node_pods_left(log4shell_lab, run) == []


def test_sigkill_of_the_cli_stops_the_remote_captures(log4shell_lab):  # noqa: F811
    with _start(log4shell_lab, "capture", "--ns", "demo", "--mode", "ephemeral", "-w",
                "/dev/null") as run:
        sids = _streaming(run)
        run.proc.kill()
        run.finish()

    assert still_running(sids) == []
