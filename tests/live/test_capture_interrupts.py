"""Ctrl-C of the real `kubectl netmon capture` while an ephemeral container it added still waits
for its image: exit 130, no capture file, and no capture ever runs in that container (it cannot
be removed; it starts, idles and exits by itself).
"""

from __future__ import annotations

import os
import signal
import uuid

from kubectl_netmon.cluster import specs
from tests.lab import fixtures
from tests.lab.fixtures import pod
from tests.live.acquire_lab import capture_sessions, container_pids
from tests.live.cli_process import NetmonProcess

lab, lab_ns = fixtures.lab, fixtures.lab_ns

SLOW_IMAGE = "slow.registry.test/netshoot"  # a node takes seconds to pull each new tag


def _running(lab, ns: str, container: str) -> dict:
    """The pod once its ephemeral container runs."""
    def runs(p: dict) -> bool:
        return any(s["name"] == container and "running" in s["state"]
                   for s in p["status"].get("ephemeralContainerStatuses") or [])
    return lab.wait_for_pod(ns, "web", runs)


def test_ctrl_c_while_the_ephemeral_container_pulls_exits_130_and_never_captures(
        lab, lab_ns, tmp_path):
    lab.create_pod(lab_ns, pod("web"))
    out = tmp_path / "web.pcapng"
    image = f"{SLOW_IMAGE}:{uuid.uuid4().hex[:8]}"  # a tag no node holds yet
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig)}
    with NetmonProcess(env, "capture", "web", "-n", lab_ns, "--mode", "ephemeral", "--image",
                       image, "-w", str(out)) as run:
        added = run.wait_for("added ephemeral container").rsplit(" ", 1)[1]
        run.wait_for("pulling image")
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    _running(lab, lab_ns, added)  # the pull ends after the run did
    assert container_pids(added)  # its idle loop runs ...
    assert capture_sessions(specs.heartbeat_path(added)) == set()  # ... and no capture
