"""The shared capture flags, each through the command line against the lab's log4shell scenario
(web on node-1 calls ldap on node-2 at port 1389 every few seconds; client calls web often)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.live.fixtures import RunningLab, log4shell_lab  # noqa: F401 - the fixture


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


def test_a_container_flag_captures_next_to_that_container(log4shell_lab):  # noqa: F811
    found = conns(log4shell_lab.netmon("watch", "pod", "web", "-c", "web", "-n", "demo",
                                       "--duration", "5s", "-o", "json"))

    assert "web" in {c.get("resp_pod.name") for c in found}


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
