"""The lab process itself: it serves, and on SIGTERM stops every pod and removes its nodes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.lab.fixtures import REPO, pod, start_lab, stop_lab
from tests.lab.node.netns import NETNS_DIR


@pytest.fixture
def own_lab(root, tmp_path):
    """A lab of its own (not the session's), so the test may stop it."""
    proc, lab = start_lab(tmp_path / "state", nodes=1)
    yield proc, lab
    if proc.poll() is None:
        stop_lab(proc)


def _namespaces(lab) -> list[str]:
    prefix = json.loads((lab.state_dir / "server.json").read_text())["prefix"]
    return sorted(p.name for p in NETNS_DIR.glob(f"{prefix}-*"))


def test_a_running_pod_has_its_own_network_namespace(own_lab):
    _, lab = own_lab
    before = _namespaces(lab)
    lab.create_pod("default", pod("web"))
    assert len(_namespaces(lab)) == len(before) + 1


def test_sigterm_stops_the_pods_and_removes_every_namespace(own_lab):
    proc, lab = own_lab
    lab.create_pod("default", pod("web"))
    prefix = json.loads((lab.state_dir / "server.json").read_text())["prefix"]
    stop_lab(proc)
    assert (proc.returncode, list(NETNS_DIR.glob(f"{prefix}-*"))) == (0, [])


def test_sigterm_removes_server_json(own_lab):
    proc, lab = own_lab
    stop_lab(proc)
    assert not (lab.state_dir / "server.json").exists()


def test_a_second_server_on_the_same_state_dir_is_refused(own_lab):
    _, lab = own_lab
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.lab.server",
            "--state-dir",
            str(lab.state_dir),
            "--nodes",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr.startswith("lab server: a lab already runs with")) == (
        1,
        True,
    )
    assert lab.request("GET", "/version")[0] == 200


def test_an_unknown_scenario_is_refused_in_one_line(root, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.lab.server",
            "--state-dir",
            str(tmp_path / "state"),
            "--nodes",
            "1",
            "--scenario",
            "nope",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("lab server: unknown scenario 'nope'; known scenarios: ")
