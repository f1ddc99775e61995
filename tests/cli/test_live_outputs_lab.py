"""An output `capture` or `watch` cannot write is refused before anything is created in the
cluster: an ephemeral container can never be removed. The real CLI against the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.fixtures import pod
from tests.live.acquire_lab import netmon_left as netmon_containers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def web(lab, lab_ns) -> str:
    """A running pod `web` in a fresh namespace; the namespace."""
    lab.create_pod(lab_ns, pod("web"))
    return lab_ns


def netmon(lab, *args: str) -> tuple[int, list[str]]:
    """`kubectl-netmon ARGS` on the lab as kubectl runs it: (exit code, stderr lines)."""
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", *args], cwd=REPO,
                         capture_output=True, timeout=120,
                         env={**os.environ, "KUBECONFIG": str(lab.kubeconfig)})
    return run.returncode, run.stderr.decode().splitlines()


def test_capture_to_a_file_in_a_missing_directory_creates_nothing_in_the_cluster(lab, web):
    out = "/nonexistent-dir/web.pcapng"
    code, err = netmon(lab, "capture", "web", "-n", web, "--mode", "ephemeral", "-w", out,
                       "--duration", "2s")

    assert netmon_containers(lab, web) == []
    assert (code, err) == (2, [f"error: -w {out}: cannot write it (No such file or directory)"])


def test_capture_into_a_directory_creates_nothing_in_the_cluster(lab, web, tmp_path):
    code, err = netmon(lab, "capture", "web", "-n", web, "--mode", "ephemeral", "-w",
                       str(tmp_path), "--duration", "2s")

    assert netmon_containers(lab, web) == []
    assert (code, err) == (2, [f"error: -w {tmp_path}: cannot write it (Is a directory)"])


@pytest.mark.parametrize("command", [["capture", "web", "-w", "{tmp}/web.pcapng"],
                                     ["watch", "pod", "web", "-o", "json"]])
def test_a_zeek_dir_that_is_a_file_creates_nothing_in_the_cluster(lab, web, tmp_path, command):
    (tmp_path / "logs").write_text("not a directory\n")
    args = [word.format(tmp=tmp_path) for word in command]
    code, err = netmon(lab, *args, "-n", web, "--mode", "ephemeral", "--zeek-dir",
                       str(tmp_path / "logs"), "--duration", "2s")

    assert netmon_containers(lab, web) == []
    assert (code, err) == (2, [f"error: --zeek-dir {tmp_path / 'logs'}: a file, not a "
                               "directory; name a directory for the logs"])
    assert not (tmp_path / "web.pcapng").exists()
