"""Recording a merged capture with pod names, from real dumpcap streams in our own network
namespaces (no cluster): tshark shows the names; analyze reads them back. Needs root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.merge import MergedStreams, Source
from kubectl_netmon.enrich.capture_names import nrb_name, parse_nrb_name
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.recording import Recording
from tests.live.fixtures import POD_A, POD_B, REPO, dumpcap, local_node, ping

PINGS = 3
A = PodInfo("shop", "cart-7d9f", "node-1")
B = PodInfo("shop", "db-0", "node-1")

pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """Pings between two pods captured at both, merged and recorded with their names."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces; CI runs as root")
    pods = PodMap()
    pods.add(POD_A, A)
    pods.add(POD_B, B)
    path = tmp_path_factory.mktemp("rec") / "pods.pcapng"
    with local_node() as node, dumpcap(node.pod_a, "eth0", 2 * PINGS) as a, \
            dumpcap(node.pod_b, "eth0", 2 * PINGS) as b, open(path, "wb") as out:
        merged = MergedStreams([Source("shop/cart-7d9f", a, "pod shop/cart-7d9f"),
                                Source("shop/db-0", b, "pod shop/db-0")], duration_s=60)
        pinger = threading.Thread(target=ping, args=(node.pod_a, POD_B, PINGS))
        pinger.start()
        list(packets(Recording(merged, out, pods), DecodeStats()))
        pinger.join()
    return path


def tshark_fields(path: Path, *args: str) -> list[str]:
    return subprocess.run(["tshark", "-r", str(path), *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout.splitlines()


def test_tshark_names_the_pod_addresses(recorded, tshark):
    rows = tshark_fields(recorded, "-N", "n", "-T", "fields", "-e", "ip.src_host",
                         "-e", "ip.dst_host")

    assert set(rows) == {"cart-7d9f.shop\tdb-0.shop", "db-0.shop\tcart-7d9f.shop"}


def test_every_packet_carries_the_pods_of_both_sides_as_its_comment(recorded, tshark):
    comments = tshark_fields(recorded, "-T", "fields", "-e", "frame.comment")

    assert sorted(set(comments)) == ["shop/cart-7d9f -> shop/db-0", "shop/db-0 -> shop/cart-7d9f"]
    assert len(comments) == 2 * PINGS  # each seen at both pods, recorded once


def test_each_capture_point_is_an_interface_with_its_name_and_description(recorded, tshark):
    rows = tshark_fields(recorded, "-T", "fields", "-e", "frame.interface_name",
                         "-e", "frame.interface_description")

    assert set(rows) <= {"shop/cart-7d9f\tpod shop/cart-7d9f; captured on eth0",
                         "shop/db-0\tpod shop/db-0; captured on eth0"}


def test_analyze_reads_the_names_back_without_a_cluster(recorded):
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", "analyze", str(recorded),
                          "-o", "json"], capture_output=True, text=True, cwd=REPO, timeout=60)

    assert '"orig_pod.ns":"shop","orig_pod.name":"cart-7d9f"' in run.stdout
    assert '"resp_pod.name":"db-0"' in run.stdout


def test_names_round_trip_and_other_names_are_not_pods():
    service = PodInfo("shop", "db", kind="service")

    assert parse_nrb_name(nrb_name(A)) == PodInfo("shop", "cart-7d9f")
    assert parse_nrb_name(nrb_name(service)) == service
    assert parse_nrb_name("localhost") is None
    assert nrb_name(PodInfo("", "node-1", kind="node")) is None
