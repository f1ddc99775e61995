"""The shared capture flags, each through the command line against the lab's log4shell scenario
(web on node-1 calls ldap on node-2 at port 1389 every few seconds; client calls web often)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.live.cli_process import pod_exists
from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

WAIT_S = 90.0  # a guard for a record to come out, not a timing check


def conns(run: subprocess.CompletedProcess) -> list[dict]:
    assert run.returncode == 0, run.stderr.decode()
    return [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == "conn"]


def test_a_capture_filter_keeps_only_the_matching_traffic(log4shell_lab):  # noqa: F811
    found = conns(log4shell_lab.netmon("watch", "pod", "web", "-n", "demo", "-f",
                                       "tcp port 1389", "--duration", "8s", "-o", "json"))

    assert found and all(1389 in (c["id.orig_p"], c["id.resp_p"]) for c in found)


def test_count_ends_the_watch_after_that_many_packets(log4shell_lab):  # noqa: F811
    found = conns(log4shell_lab.netmon("watch", "pod", "web", "-n", "demo", "--count", "12",
                                       "-o", "json"))

    assert 0 < sum(c["orig_pkts"] + c["resp_pkts"] for c in found) <= 12


def test_node_capture_pods_go_to_the_namespace_given(log4shell_lab):  # noqa: F811
    run = log4shell_lab.netmon("watch", "node", "node-2", "--mode", "node", "--node-namespace",
                               "kube-system", "--duration", "4s", "-o", "json")

    assert conns(run) and "capture pod kube-system/netmon-" in run.stderr.decode()


def test_a_selector_records_the_matching_pods_into_one_file(log4shell_lab, tshark,  # noqa: F811
                                                            tmp_path: Path):
    out = tmp_path / "ldap.pcapng"
    run = log4shell_lab.netmon("capture", "-l", "app=ldap", "-n", "demo", "--duration", "6s",
                               "-w", str(out))
    assert run.returncode == 0, run.stderr.decode()

    hosts = subprocess.run([tshark, "-r", str(out), "-N", "n", "-T", "fields", "-e",
                            "ip.dst_host"], capture_output=True, text=True, check=True).stdout
    assert "ldap.demo" in hosts.split()


def test_capture_of_two_named_pods_records_both_into_one_file(log4shell_lab, tshark,  # noqa: F811
                                                              tmp_path: Path):
    out = tmp_path / "two.pcapng"
    run = log4shell_lab.netmon("capture", "ldap", "client", "-n", "demo", "--duration", "6s",
                               "-w", str(out))
    assert run.returncode == 0, run.stderr.decode()

    hosts = set(subprocess.run([tshark, "-r", str(out), "-N", "n", "-T", "fields", "-e",
                                "ip.src_host", "-e", "ip.dst_host"], capture_output=True,
                               text=True, check=True).stdout.split())
    assert {"ldap.demo", "client.demo"} <= hosts
    assert "attacker.demo" not in hosts  # it talks to web only: not a target, not recorded


def test_quiet_leaves_stderr_empty_when_all_goes_well(log4shell_lab):  # noqa: F811
    run = log4shell_lab.netmon("watch", "pod", "web", "-n", "demo", "--duration", "4s", "-o",
                               "json", "-q")

    assert conns(run) and run.stderr == b""


def test_a_reader_that_stops_reading_ends_the_watch_cleanly(log4shell_lab,  # noqa: F811
                                                            tmp_path):
    """`watch ... -o json | head -1`: exit 0, nothing on stderr but progress, the node capture
    pod deleted."""
    err = tmp_path / "err"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web",
                                 "-n", "demo", "--mode", "node", "-o", "json"], cwd=REPO,
                                env=log4shell_lab.env(), stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert json.loads(proc.stdout.readline())["_path"] in ("conn", "notice", "http")
        proc.stdout.close()  # head has its line; the next record finds no reader
        code = proc.wait(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    lines = err.read_text().splitlines()
    assert code == 0, lines
    assert not [line for line in lines if "error" in line or "Traceback" in line]
    (created,) = [line.rsplit(" ", 1)[1] for line in lines if "created capture pod" in line]
    assert not pod_exists(str(log4shell_lab.kubeconfig), *created.split("/"))


def _watch_records(lab: RunningLab, until: Callable[[dict], bool], err: Path) -> list[dict]:
    """Start `watch pod web -n demo -o json` with stdout a pipe, as a user's shell does (no
    PYTHONUNBUFFERED); its records as they come, up to the first `until` accepts, checked to
    arrive while the watch still runs. Ctrl-C ends it."""
    env = {k: v for k, v in lab.env().items() if k != "PYTHONUNBUFFERED"}
    with open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web",
                                 "-n", "demo", "-o", "json"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=stderr)
    try:
        records, pending = [], b""
        deadline = time.monotonic() + WAIT_S
        while True:
            assert time.monotonic() < deadline, f"no such record in {WAIT_S}s: {records}"
            if not select.select([proc.stdout], [], [], 1)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "the watch ended:\n" + err.read_text()
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                records.append(json.loads(line))
                if until(records[-1]):
                    assert proc.poll() is None, "the record came only when the watch ended"
                    return records
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_a_watch_writes_each_flow_while_it_runs(log4shell_lab, tmp_path):  # noqa: F811
    """The client calls web every second: its finished connections come out one by one, for
    jq or a log shipper reading the pipe live, not when the watch ends."""
    records = _watch_records(log4shell_lab, lambda r: r["_path"] == "conn", tmp_path / "err")

    assert "web" in (records[-1]["orig_pod.name"], records[-1]["resp_pod.name"])


def test_a_watch_writes_a_log4shell_alert_while_it_runs(log4shell_lab, tmp_path):  # noqa: F811
    """The attacker tries every few seconds: the alert is out while the attack goes on."""
    records = _watch_records(log4shell_lab, lambda r: r["_path"] == "notice", tmp_path / "err")

    assert records[-1]["note"].startswith("CVE_2021_44228::")
    assert "web" in (records[-1]["orig_pod.name"], records[-1]["resp_pod.name"])
