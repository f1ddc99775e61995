"""scripts/lab up, status and down against the lab server (needs root)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.node import netns

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "scripts" / "lab"

pytestmark = pytest.mark.skipif(
    not (REPO / "tests" / "lab" / "server.py").exists(), reason="tests/lab/server.py not there yet"
)


class Lab:
    """One lab under test: its own state dir and namespace prefix, so it never meets .lab."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.prefix = f"nmsl-{secrets.token_hex(3)}"

    def run(
        self, *args: str, as_nobody: bool = False, python: str | None = None
    ) -> subprocess.CompletedProcess:
        cmd = [str(LAB), "--state-dir", str(self.dir), *args]
        if python:
            cmd.insert(0, python)
        if as_nobody:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)

    def up(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("up", "--prefix", self.prefix, "--nodes", "2", *args)

    def namespaces(self) -> list[str]:
        return [p.name for p in netns.NETNS_DIR.glob(f"{self.prefix}-*")]

    def server_pid(self) -> int:
        return int((self.dir / "server.pid").read_text())


@pytest.fixture
def lab(root, tmp_path):
    lab = Lab(tmp_path / "lab")
    yield lab
    lab.run("down")


def test_up_prints_the_kubeconfig_export_line(lab):
    result = lab.up()
    assert (result.returncode, result.stdout) == (0, f"export KUBECONFIG={lab.dir}/kubeconfig\n")


def test_up_from_a_python_without_the_packages_runs_under_the_virtualenv(lab):
    bare = str(Path(sys.base_prefix) / "bin" / "python3")
    if not subprocess.run([bare, "-c", "import kubernetes"], capture_output=True).returncode:
        pytest.skip(f"{bare} has the kubernetes package: nothing to show")
    result = lab.run("up", "--prefix", lab.prefix, "--nodes", "1", python=bare)
    assert (result.returncode, result.stdout) == (0, f"export KUBECONFIG={lab.dir}/kubeconfig\n")


def test_up_leaves_an_api_that_answers_with_the_kubeconfig(lab):
    from kubernetes import client, config

    lab.up()
    api = config.new_client_from_config(config_file=str(lab.dir / "kubeconfig"))
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")


def test_up_refuses_while_a_lab_runs(lab):
    lab.up()
    result = lab.up()
    assert result.returncode == 1
    assert "a lab is already running" in result.stderr


def test_status_names_the_server_and_the_nodes(lab):
    lab.up()
    out = lab.run("status").stdout
    assert f"server: pid {lab.server_pid()}" in out
    assert "node node-1: 172.31.0.11, pods 10.244.1.0/24" in out
    assert "node node-2: 172.31.0.12, pods 10.244.2.0/24" in out


def test_up_starts_two_nodes_by_default(lab):
    lab.run("up", "--prefix", lab.prefix)
    out = lab.run("status").stdout
    assert "node node-2:" in out and "node node-3:" not in out


def test_status_says_when_nothing_runs(lab):
    assert lab.run("status").stdout == "lab: not running\n"


def test_down_stops_the_server_and_removes_every_namespace(lab):
    lab.up()
    pid = lab.server_pid()
    result = lab.run("down")
    assert (result.returncode, result.stdout) == (0, f"stopped the lab server (pid {pid})\n")
    assert not _running(pid)
    assert lab.namespaces() == []


def test_down_after_the_lab_crashed_removes_what_it_left(lab):
    lab.up()
    assert lab.namespaces()
    os.kill(lab.server_pid(), signal.SIGKILL)
    result = lab.run("down")
    assert result.returncode == 0
    assert result.stdout.startswith("removed ")
    assert lab.namespaces() == []


@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv (util-linux) not installed")
def test_up_without_root_says_so_in_one_line(lab):
    result = lab.run("up", as_nobody=True)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "scripts/lab: needs root (network namespaces); run it with sudo\n"


@pytest.mark.skipif(not shutil.which("java"), reason="needs java (openjdk-17-jdk-headless)")
def test_up_with_the_log4shell_scenario_runs_its_pods(lab):
    result = lab.run("up", "--prefix", lab.prefix, "--nodes", "3", "--scenario", "log4shell")
    assert result.returncode == 0, result.stderr
    out = lab.run("status").stdout
    assert "pod demo/web: " in out and "10.244.1.2 on node-1" in out
    assert "pod demo/ldap: " in out and "10.244.2.2 on node-2" in out


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie's reaping is up to whichever process adopted it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"
