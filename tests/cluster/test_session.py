"""Session parts that need no cluster: options arithmetic, status lines, how a point ended."""

from __future__ import annotations

import pytest
from kubernetes.client import Configuration

from kubectl_netmon.cluster.exec_stream import ExecStream, ExitStatus
from kubectl_netmon.cluster.session import AcquireOptions, CapturePoint, StderrLines


@pytest.mark.parametrize("duration, limit", [(None, 3600), (30, 30), (7200, 7200)])
def test_a_capture_runs_its_duration_else_up_to_the_hard_limit(duration, limit):
    """A --duration beyond the hard bound is what the user asked for: it is kept."""
    assert AcquireOptions(duration_s=duration, max_duration_s=3600).limit_s() == limit


def test_the_node_pod_deadline_covers_start_up_capture_and_slack():
    options = AcquireOptions(duration_s=30, timeout_s=120, deadline_slack_s=60)
    assert options.node_deadline_s() == 210


def test_stderr_chunks_become_whole_status_lines():
    lines: list[str] = []
    feed = StderrLines("shop/web", lines.append)
    for chunk in (b"Capturing on 'et", b"h0'\nFile: -\rPackets: 3 ", b"\n"):
        feed(chunk)
    assert lines == ["shop/web: Capturing on 'eth0'", "shop/web: Packets: 3"]  # not "File: -"


def test_status_lines_are_escaped():
    lines: list[str] = []
    StderrLines("shop/web", lines.append)(b"evil \x1b[2J\n")
    assert lines == ["shop/web: evil \\x1b[2J"]


def _point(status: ExitStatus | None, received: int = 100) -> CapturePoint:
    cfg = Configuration()
    cfg.host = "https://127.0.0.1:6443"
    stream = ExecStream(cfg, "shop", "web", ["true"])
    stream.exit, stream.bytes_received = status, received
    return CapturePoint("shop/web", "node-1", "test", stream, iter(()))


@pytest.mark.parametrize(
    "status, ended",
    [
        (ExitStatus(0), "shop/web: capture finished (100 bytes received)"),
        (ExitStatus(2, "command terminated ..."),
         "shop/web: capture failed, exit code 2 (100 bytes received)"),
        (ExitStatus(137), "shop/web: capture failed, exit code 137 (dumpcap killed by SIGKILL) "
                          "(100 bytes received)"),
        (ExitStatus(127), "shop/web: capture failed: the image has no dumpcap; use an --image "
                          "that has dumpcap/tshark (100 bytes received)"),
        (ExitStatus(None, "Internal error occurred: no sh"),
         "shop/web: capture failed: Internal error occurred: no sh (100 bytes received)"),
        (None, "shop/web: stream ended without an exit status (100 bytes received)"),
    ],
)
def test_how_a_point_ended_in_one_line(status, ended):
    assert _point(status).ended() == ended


def test_a_failed_capture_says_what_dumpcap_complained_of():
    point = _point(ExitStatus(1), received=0)
    point.stderr = StderrLines(point.name, lambda line: None)
    point.stderr(b"Capturing on 'eth0'\ndumpcap: Invalid capture filter \"tcp port\" for interface"
                 b" 'eth0'.\n\nThat string isn't a valid capture filter (syntax error).\nSee the "
                 b"User's Guide for a description of the capture filter syntax.\n")

    assert point.ended() == (
        'shop/web: capture failed: dumpcap: Invalid capture filter "tcp port" for interface '
        "'eth0'. That string isn't a valid capture filter (syntax error). (exit code 1, 0 bytes "
        "received)")
