"""`kubectl-netmon zeek-table` end to end against the lab: the table, the script, --watch."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import parsezeeklogs
import zeekscript

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures
REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds for --watch to report a change before the test fails


def env_for(lab, tmp_path: Path) -> dict:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": str(tmp_path),
            "KUBECONFIG": str(lab.kubeconfig)}


def zeek_table(lab, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "kubectl_netmon", "zeek-table", *args],
                          env=env_for(lab, tmp_path), capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def rows(table: Path) -> dict[str, dict]:
    return {r["ip"]: r for r in parsezeeklogs.ZeekLog(table)}


def test_the_table_holds_every_pod_and_node_address(lab, lab_ns, tmp_path):
    web = lab.create_pod(lab_ns, pod("web"))
    proc = zeek_table(lab, tmp_path, "-w", str(tmp_path / "pods.tsv"))
    assert proc.returncode == 0
    table = rows(tmp_path / "pods.tsv")
    assert table[web["status"]["podIP"]] == {
        "ip": web["status"]["podIP"], "ns": lab_ns, "name": "web",
        "node": web["spec"]["nodeName"], "node_ip": web["status"]["hostIP"]}
    assert {r["name"] for r in table.values() if r["ns"] is None} == {"node-1", "node-2"}


def test_the_script_parses_with_zeekscript_and_reads_the_table_written(lab, tmp_path):
    table, script = tmp_path / "pods.tsv", tmp_path / "netmon-pods.zeek"
    proc = zeek_table(lab, tmp_path, "-w", str(table), "--script", str(script))
    assert proc.returncode == 0
    parsed = zeekscript.Script(script)
    parsed.parse()
    assert not parsed.has_error(), parsed.get_error()
    assert f'const table_path = "{table}" &redef;' in script.read_text()


def test_without_a_cluster_configuration_the_error_is_one_line(tmp_path):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "kubectl_netmon", "zeek-table", "-w",
                           str(tmp_path / "t.tsv")], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "error: no kubeconfig found (~/.kube/config) and not running in a pod; pass "
        "--kubeconfig FILE or set KUBECONFIG"]


class Watcher:
    """`zeek-table --watch` as a process; each table rewrite is one line on its stderr."""

    def __init__(self, lab, tmp_path: Path, table: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubectl_netmon", "zeek-table", "-w", str(table), "--watch"],
            env=env_for(lab, tmp_path), stderr=subprocess.PIPE,
            bufsize=0)  # unbuffered: a line read ahead would hide from select()
        self.table = table

    def next_rewrite(self) -> dict[str, dict]:
        """Wait for the next "N addresses" line, then read the table."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], deadline - time.monotonic())
            line = self.proc.stderr.readline().decode() if ready else ""
            assert ready and line, f"--watch ended or stayed silent: {line!r}"
            if " addresses in " in line:
                return rows(self.table)
        raise AssertionError("--watch did not rewrite the table in time")

    def until(self, done) -> dict[str, dict]:
        while not done(table := self.next_rewrite()):
            pass
        return table

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def test_watch_keeps_the_table_current_as_pods_come_and_go(lab, lab_ns, tmp_path):
    table = tmp_path / "pods.tsv"
    watcher = Watcher(lab, tmp_path, table)
    try:
        watcher.next_rewrite()
        first_inode = table.stat().st_ino
        web = lab.create_pod(lab_ns, pod("web"))
        ip = web["status"]["podIP"]
        assert watcher.until(lambda t: ip in t)[ip]["name"] == "web"
        assert table.stat().st_ino != first_inode  # replaced, not rewritten in place
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/web")
        watcher.until(lambda t: ip not in t)
    finally:
        code = watcher.stop()
    assert code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pods.tsv"]  # no temporary files left
