"""Ctrl-C of the real CLI at any moment of a run, not only at the ones a user sees announced: a
ladder of moments from the start (loading, looking the pod up, checking admission, creating the
capture pod or container, waiting for it, streaming). Whichever it hits: exit 0 (a summary) or
130, no traceback, no netmon pod left anywhere, and no remote capture of the run still running.
"""

from __future__ import annotations

import signal
import time

import pytest
from kubernetes import client, config

from kubectl_netmon.cluster.specs import MANAGED_SELECTOR
from tests.live.acquire_lab import capture_sessions
from tests.live.cli_process import NetmonProcess, still_running
from tests.live.fixtures import RunningLab, log4shell_lab  # noqa: F401 - the fixture

MOMENTS_S = [0.5, 1.0, 1.5, 2.5, 4.0]  # after the start of the process


def _netmon_pods(lab: RunningLab) -> list[str]:
    """Pods in any namespace that carry netmon's label (read as the admin)."""
    api = config.new_client_from_config(config_file=str(lab.kubeconfig), context="lab")
    try:
        pods = client.CoreV1Api(api).list_pod_for_all_namespaces(
            label_selector=MANAGED_SELECTOR).items
    finally:
        api.close()
    return [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods]


@pytest.mark.parametrize("mode", ["node", "ephemeral"])
@pytest.mark.parametrize("after", MOMENTS_S)
def test_ctrl_c_at_any_moment_leaves_no_pod_and_no_capture(log4shell_lab, mode,  # noqa: F811
                                                           after):
    before = capture_sessions("")  # every netmon capture running on the lab's nodes now
    with NetmonProcess(log4shell_lab.env(), "watch", "pod", "web", "-n", "demo", "--mode",
                       mode, "-o", "json") as run:
        time.sleep(after)
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code in (0, 130), done.stderr
    assert "Traceback" not in done.stderr
    assert _netmon_pods(log4shell_lab) == []
    assert still_running(capture_sessions("") - before) == []
