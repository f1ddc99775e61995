"""Recording a merged capture with pod names, from real dumpcap streams in our own network
namespaces (no cluster): tshark shows the names; analyze reads them back; a packet cut at the
snap length keeps its length on the wire. Needs root (the streams of other byte orders not)."""

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
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.recording import Recording
from tests.capture.captures_gen import LINKTYPE_ETHERNET, T0_NS, epb, ether_frames, idb, shb
from tests.live.fixtures import POD_A, POD_B, REPO, dumpcap, local_node, ping

PINGS = 3
SNAPLEN = 40  # shorter than a ping (52 bytes on the wire)
A = PodInfo("shop", "cart-7d9f", "node-1")
B = PodInfo("shop", "db-0", "node-1")

pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")


def record_pings(path: Path, snaplen: int = 0) -> Path:
    """Pings between two pods captured at both, merged and recorded with their names."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces; CI runs as root")
    pods = PodMap()
    pods.add(POD_A, A)
    pods.add(POD_B, B)
    with local_node() as node, dumpcap(node.pod_a, "eth0", 2 * PINGS, snaplen=snaplen) as a, \
            dumpcap(node.pod_b, "eth0", 2 * PINGS, snaplen=snaplen) as b, \
            open(path, "wb") as out:
        merged = MergedStreams([Source("shop/cart-7d9f", a, "pod shop/cart-7d9f"),
                                Source("shop/db-0", b, "pod shop/db-0")], duration_s=60)
        pinger = threading.Thread(target=ping, args=(node.pod_a, POD_B, PINGS))
        pinger.start()
        list(packets(Recording(merged, out, pods), DecodeStats()))
        pinger.join()
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return record_pings(tmp_path_factory.mktemp("rec") / "pods.pcapng")


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


def analyze_json(path: Path) -> str:
    """`kubectl-netmon analyze -o json` of the file, without a cluster: its stdout."""
    return subprocess.run([sys.executable, "-m", "kubectl_netmon", "analyze", str(path), "-o",
                           "json"], capture_output=True, text=True, cwd=REPO, timeout=60).stdout


def test_analyze_reads_the_names_back_without_a_cluster(recorded):
    out = analyze_json(recorded)

    assert '"orig_pod.ns":"shop","orig_pod.name":"cart-7d9f"' in out
    assert '"resp_pod.name":"db-0"' in out


def test_analyze_restores_the_node_of_each_pod_without_a_cluster(recorded):
    assert '"orig_pod.name":"cart-7d9f","orig_pod.node":"node-1"' in analyze_json(recorded)


def test_a_packet_cut_at_the_snap_length_keeps_its_length_on_the_wire(tmp_path, tshark):
    path = record_pings(tmp_path / "snapped.pcapng", snaplen=SNAPLEN)

    rows = tshark_fields(path, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len")

    assert set(rows) == {f"52\t{SNAPLEN}"} and len(rows) == 2 * PINGS


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_a_streams_byte_order_does_not_change_the_length_on_the_wire(tmp_path, tshark, order):
    """A remote capture in the other byte order (an s390x node) merged and recorded."""
    frame = ether_frames()[2]
    stream = shb(order) + idb(LINKTYPE_ETHERNET, order, snaplen=SNAPLEN) + epb(
        0, T0_NS // 1000, frame[:SNAPLEN], order, wirelen=len(frame))
    path = tmp_path / "order.pcapng"
    with open(path, "wb") as out:
        list(Recording(MergedStreams([Source("node/s390x", [stream])]), out, None).records())

    rows = tshark_fields(path, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len")

    assert rows == [f"{len(frame)}\t{SNAPLEN}"]
