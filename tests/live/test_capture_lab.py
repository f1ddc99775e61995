"""`kubectl netmon capture` against the lab's log4shell scenario: one pcapng of every pod in
`demo` across three nodes, which tshark reads with pod names, each packet once, and from which
`analyze` restores, without the cluster, each pod's name, namespace, node and node IP.

One capture run, the issue's own command (no -o json: the packets are only recorded), is shared
by the tests of this module (it takes ten seconds of traffic).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

DEMO_PODS = ["demo/attacker", "demo/client", "demo/ldap", "demo/web"]
DEMO_NODES = ["node/node-1", "node/node-2", "node/node-3"]
POD_FIELDS = ("ns", "name", "node", "node_ip")


@pytest.fixture(scope="module")
def recorded(log4shell_lab: RunningLab, tmp_path_factory) -> tuple[Path, str]:  # noqa: F811
    """(pcapng path, stderr) of `capture --ns demo --duration 10s -w out.pcapng`."""
    out = tmp_path_factory.mktemp("capture") / "out.pcapng"
    run = log4shell_lab.netmon("capture", "--ns", "demo", "--duration", "10s", "-w", str(out))
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout == b""
    return out, run.stderr.decode()


def fields(tshark_bin: str, path: Path, *args: str) -> list[str]:
    """tshark's output lines for the file."""
    done = subprocess.run([tshark_bin, "-r", str(path), *args], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.splitlines()


def test_each_capture_point_is_an_interface_named_after_it(recorded, tshark):
    """One per pod (ephemeral mode) or per node (node mode: auto picks it here, since attacker
    and client share node-3)."""
    path, _ = recorded

    names = fields(tshark, path, "-T", "fields", "-e", "frame.interface_name")

    assert sorted(set(names)) in (DEMO_PODS, DEMO_NODES)


def test_ephemeral_mode_gives_each_pod_its_interface(log4shell_lab, tshark, tmp_path):  # noqa: F811
    out = tmp_path / "demo.pcapng"

    run = log4shell_lab.netmon("capture", "--ns", "demo", "--mode", "ephemeral", "--duration",
                               "5s", "-w", str(out), "-q")

    assert run.returncode == 0, run.stderr.decode()
    names = fields(tshark, out, "-T", "fields", "-e", "frame.interface_name")
    assert sorted(set(names)) == DEMO_PODS


def test_tshark_shows_pod_names_in_place_of_pod_ips(recorded, tshark):
    path, _ = recorded

    hosts = set(fields(tshark, path, "-N", "n", "-T", "fields", "-e", "ip.src_host"))

    assert {"web.demo", "attacker.demo", "ldap.demo", "client.demo"} <= hosts


def test_no_packet_is_counted_twice(recorded, tshark):
    """Pod-to-pod packets were captured at both pods; the file holds each once."""
    path, stderr = recorded
    identity = ["ip.src", "ip.dst", "ip.id", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
                "tcp.flags", "udp.length"]

    # IP packets: two ARP requests for one address are alike but not the same packet
    packets = fields(tshark, path, "-Y", "ip", "-T", "fields",
                     *[a for f in identity for a in ("-e", f)])

    assert [p for p, n in Counter(packets).items() if n > 1] == []
    dropped = int(stderr.split(" duplicates dropped")[0].rsplit("(", 1)[1])
    assert dropped > 0  # the pods did see each other's packets


def test_each_packet_comment_names_the_pods_on_both_sides(recorded, tshark):
    path, _ = recorded

    rows = fields(tshark, path, "-N", "n", "-Y", "ip", "-T", "fields", "-E", "separator=|",
                  "-e", "ip.src_host", "-e", "ip.dst_host", "-e", "frame.comment")

    def pod(host: str) -> str:  # "web.demo" -> "demo/web"
        name, ns = host.rsplit(".", 1)
        return f"{ns}/{name}"

    expected = {f"{pod(src)} -> {pod(dst)}|{src}|{dst}" for src, dst, _ in
                (row.split("|") for row in rows)}
    got = {f"{comment}|{src}|{dst}" for src, dst, comment in (row.split("|") for row in rows)}
    assert rows and got == expected
    assert any(row.endswith("|demo/attacker -> demo/web") for row in rows)


def pod_context(json_lines: str) -> dict[str, tuple]:
    """Address -> (ns, name, node, node_ip) as the conn records of a run name it."""
    found = {}
    for line in json_lines.splitlines():
        rec = json.loads(line)
        for side, host in (("orig", "id.orig_h"), ("resp", "id.resp_h")):
            if rec["_path"] == "conn" and f"{side}_pod.name" in rec:
                found[rec[host]] = tuple(rec.get(f"{side}_pod.{k}") for k in POD_FIELDS)
    return found


def cluster_context(lab: RunningLab) -> dict[str, tuple]:
    """Pod IP -> (ns, name, node, node_ip) of the demo pods, as the cluster has them."""
    api = config.new_client_from_config(config_file=str(lab.kubeconfig), context="lab")
    try:
        core = client.CoreV1Api(api)
        node_ips = {n.metadata.name: a.address for n in core.list_node().items
                    for a in n.status.addresses if a.type == "InternalIP"}
        return {p.status.pod_ip: ("demo", p.metadata.name, p.spec.node_name,
                                  node_ips[p.spec.node_name])
                for p in core.list_namespaced_pod("demo").items}
    finally:
        api.close()


def test_analyze_restores_each_pods_context_offline(recorded, log4shell_lab,  # noqa: F811
                                                    tmp_path):
    """Without a cluster (no kubeconfig at all): names, namespaces, nodes and node IPs."""
    path, _ = recorded

    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", "analyze", str(path), "-o",
                          "json"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                              "KUBECONFIG": str(tmp_path / "none")})

    assert run.returncode == 0, run.stderr
    pods = cluster_context(log4shell_lab)
    restored = {ip: pod for ip, pod in pod_context(run.stdout).items() if ip in pods}
    assert restored == {ip: pods[ip] for ip in restored}
    assert {name for _, name, _, _ in restored.values()} >= {"web", "attacker", "ldap"}


def test_a_snapped_capture_keeps_each_packets_length_on_the_wire(log4shell_lab, tshark,  # noqa: F811
                                                                  tmp_path):
    out = tmp_path / "snapped.pcapng"

    run = log4shell_lab.netmon("capture", "web", "-n", "demo", "--snaplen", "64", "--duration",
                               "6s", "-w", str(out), "-q")

    assert run.returncode == 0, run.stderr.decode()
    rows = [tuple(map(int, row.split())) for row in
            fields(tshark, out, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len")]
    assert all(cap == min(wire, 64) for wire, cap in rows)
    assert any(wire > 64 for wire, _ in rows)  # the HTTP exchanges are longer


def test_capture_to_stdout_streams_pcapng_into_a_live_reader(log4shell_lab, tshark):  # noqa: F811
    """As `capture ... -w - | wireshark -k -i -`: tshark reads the pipe as a live interface."""
    netmon = subprocess.Popen(
        [sys.executable, "-m", "kubectl_netmon", "capture", "web", "-n", "demo", "--duration",
         "6s", "-w", "-", "-q"], cwd=REPO, stdout=subprocess.PIPE, env=log4shell_lab.env())
    reader = subprocess.run([tshark, "-i", "-", "-N", "n", "-T", "fields", "-e", "ip.dst_host"],
                            stdin=netmon.stdout, capture_output=True, text=True, timeout=120)
    netmon.stdout.close()

    assert netmon.wait(timeout=60) == 0
    assert "web.demo" in reader.stdout.split()


def test_a_reader_that_stops_early_ends_the_capture_quietly_and_cleanly(log4shell_lab):  # noqa: F811
    """As `capture --ns demo -w - | head -c 2000`: netmon ends long before its duration, like
    cat on a closed pipe (exit 0, nothing said), and its capture pods are gone."""
    netmon = subprocess.Popen(
        [sys.executable, "-m", "kubectl_netmon", "capture", "--ns", "demo", "--duration", "90s",
         "-w", "-", "-q"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=log4shell_lab.env())
    head = netmon.stdout.read(2000)
    netmon.stdout.close()

    assert netmon.wait(timeout=45) == 0
    assert netmon.stderr.read() == b""
    assert head[:4] == b"\x0a\x0d\x0d\x0a"  # a section header block first
    config.load_kube_config(str(log4shell_lab.kubeconfig))
    left = client.CoreV1Api().list_pod_for_all_namespaces(
        label_selector="app.kubernetes.io/managed-by=kubectl-netmon").items
    assert [p.metadata.name for p in left if p.metadata.deletion_timestamp is None] == []


def test_capture_also_writes_json_lines_and_zeek_logs_when_asked(log4shell_lab, tmp_path):  # noqa: F811
    out, logs = tmp_path / "web.pcapng", tmp_path / "zeek"

    run = log4shell_lab.netmon("capture", "web", "-n", "demo", "--duration", "6s", "-w",
                               str(out), "-o", "json", "--zeek-dir", str(logs), "-q")

    assert run.returncode == 0, run.stderr.decode()
    conns = [json.loads(line) for line in run.stdout.splitlines()]
    assert {c["resp_pod.name"] for c in conns if c["_path"] == "conn"} >= {"web"}
    assert (logs / "conn.log").read_text().count("\n") == sum(c["_path"] == "conn" for c in conns)
    assert out.stat().st_size > 0
