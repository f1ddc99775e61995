"""A recording carries the live pod map into the pcapng: `kubectl-netmon analyze` on the file,
without a cluster, names the same pod, node and node IP for each flow as the live map did at
the flow's time, also when a pod IP changes hands during the capture."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from kubectl_netmon.capture.pcapng_write import PcapngWriter
from kubectl_netmon.capture.reader import open_capture
from kubectl_netmon.enrich.capture_names import holder_comment, parse_holder_comment
from kubectl_netmon.enrich.podmap import PodInfo, PodMap, Span
from kubectl_netmon.output.recording import Recording
from tests.capture.captures_gen import LINKTYPE_ETHERNET, T0_NS, pcap_header, pcap_record, write
from tests.live.fixtures import REPO

S = 1_000_000_000
REUSED, DB, NODE_IP = "10.244.1.23", "10.244.2.7", "192.168.49.2"
CART = PodInfo("shop", "cart.v2-7d9f", "node-1", NODE_IP)  # pod names may contain dots
JOB = PodInfo("batch", "job-1", "node-2", "192.168.49.3")
DB_POD = PodInfo("shop", "db-0", "node-2", "192.168.49.3")
ELSEWHERE = ("10.244.9.9", PodInfo("other", "api-0", "node-3", "192.168.49.4"))  # no packets
# (seconds after T0, source address, source port): one UDP flow each, to DB port 53
FLOWS = [(0, REUSED, 1001), (6, REUSED, 1002), (10, REUSED, 1003), (11, NODE_IP, 1004)]
CART_ENDS_S, JOB_STARTS_S = 5, 8  # what the watch reports after the first packet


def live_map() -> PodMap:
    pods = PodMap()
    pods.add(REUSED, CART, T0_NS - 100 * S)
    pods.add(DB, DB_POD)
    pods.add(*ELSEWHERE)
    pods.add_node(NODE_IP, "node-1")
    return pods


def capture(path):
    frames = [bytes(Ether() / IP(src=src, dst=DB) / UDP(sport=port, dport=53) / b"q")
              for _, src, port in FLOWS]
    return write(path, pcap_header(LINKTYPE_ETHERNET) + b"".join(
        pcap_record(T0_NS + t * S, frame) for (t, _, _), frame in zip(FLOWS, frames)))


def analyze_json(path) -> dict[int, dict]:
    """analyze -o json without a cluster: the conn records by source port."""
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", "analyze", str(path), "-o",
                          "json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    conns = [json.loads(line) for line in run.stdout.splitlines()]
    return {c["id.orig_p"]: c for c in conns if c["_path"] == "conn"}


def pod_fields(conn: dict, side: str) -> tuple:
    return tuple(conn.get(f"{side}_pod.{k}") for k in ("ns", "name", "node", "node_ip"))


class OnePerBatch:
    """A reader's records one at a time, as a slow live stream hands them on."""

    def __init__(self, reader) -> None:
        self.interfaces = reader.interfaces
        self._reader = reader

    def batches(self):
        for rec in self._reader.records():
            yield [rec]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The capture recorded with the live map, which the watch changes after the first packet:
    cart is gone, job-1 took its IP."""
    tmp = tmp_path_factory.mktemp("ctx")
    pods = live_map()
    out = tmp / "rec.pcapng"
    with open_capture(str(capture(tmp / "in.pcap"))) as reader, open(out, "wb") as f:
        recording = Recording(OnePerBatch(reader), f, pods)
        for i, _ in enumerate(recording.batches()):
            if i == 0:
                pods.end(REUSED, T0_NS + CART_ENDS_S * S)
                pods.add(REUSED, JOB, T0_NS + JOB_STARTS_S * S)
    return out


@pytest.fixture(scope="module")
def conns(recorded) -> dict[int, dict]:
    """What analyze restores from the recording, by source port."""
    return analyze_json(recorded)


def test_each_flow_names_the_pod_node_and_node_ip_the_live_map_named(conns):
    assert pod_fields(conns[1001], "orig") == ("shop", "cart.v2-7d9f", "node-1", NODE_IP)
    assert pod_fields(conns[1001], "resp") == ("shop", "db-0", "node-2", "192.168.49.3")


def test_a_reused_ip_names_the_pod_that_held_it_at_each_flows_time(conns):
    assert [pod_fields(conns[port], "orig")[:2] for port in (1001, 1002, 1003)] == \
        [("shop", "cart.v2-7d9f"), (None, None), ("batch", "job-1")]


def test_a_node_address_names_its_node(conns):
    assert pod_fields(conns[1004], "orig") == (None, "node-1", "node-1", NODE_IP)  # no ns


def test_the_file_carries_only_the_addresses_its_packets_show(recorded):
    """Not the whole cluster's pods: the file stays small and tells only what it captured."""
    with open_capture(str(recorded)) as reader:
        list(reader)
    holders = {parse_holder_comment(c)[0] for c in reader.sections[0].name_comments}

    assert holders == {REUSED, DB, NODE_IP}


def test_a_recording_cut_off_after_a_pod_ended_still_says_when_it_ended(tmp_path):
    """A run killed outright (SIGKILL) never writes its last holdings: the file says what the
    map changed as of the next packet a second or more later."""
    pods, out = live_map(), tmp_path / "cut.pcapng"
    with open_capture(str(capture(tmp_path / "in.pcap"))) as reader, open(out, "wb") as f:
        batches = Recording(OnePerBatch(reader), f, pods).batches()
        next(batches)
        pods.end(REUSED, T0_NS + CART_ENDS_S * S)
        next(batches)  # the packet 6 s later; then the run dies
    with open_capture(str(out)) as reader:
        list(reader)
    holdings = [parse_holder_comment(c) for c in reader.sections[0].name_comments]
    assert (REUSED, Span(T0_NS - 100 * S, T0_NS + CART_ENDS_S * S, CART)) in holdings


def test_a_file_netmon_did_not_write_names_no_pods(tmp_path):
    """Another tool's names ("cart.shop" could be any host) and comments mean nothing to us."""
    path = tmp_path / "foreign.pcapng"
    frames = capture(tmp_path / "in.pcap")
    with open_capture(str(frames)) as reader, open(path, "wb") as f:
        w = PcapngWriter(f, "Dumpcap (Wireshark) 4.0.17")
        w.add_names([(REUSED, "cart.shop"), (DB, "db.example")],
                    [holder_comment(REUSED, Span(0, None, CART))])
        iface = w.add_interface(LINKTYPE_ETHERNET)
        for ts, _, data in reader:
            w.write_packet(iface, ts, data)

    conns = analyze_json(path)

    assert conns and not any(key.endswith(("_pod.ns", "_pod.name")) for c in conns.values()
                             for key in c)


def test_a_pod_the_watch_reports_mid_second_is_named_from_the_next_packet_on(tmp_path, tshark):
    """Comments are cached per address pair, but not past a change of the pod map."""
    newcomer = "10.244.1.99"
    frames = [bytes(Ether() / IP(src=newcomer, dst=DB) / UDP(sport=1000 + i, dport=53) / b"q")
              for i in range(2)]
    path = write(tmp_path / "in.pcap", pcap_header(LINKTYPE_ETHERNET) + b"".join(
        pcap_record(T0_NS + i * 1_000_000, frame) for i, frame in enumerate(frames)))
    pods, out = live_map(), tmp_path / "rec.pcapng"
    with open_capture(str(path)) as reader, open(out, "wb") as f:
        for i, _ in enumerate(Recording(OnePerBatch(reader), f, pods).batches()):
            if i == 0:  # the watch saw the new pod start before the first packet
                pods.add(newcomer, JOB, T0_NS - S)

    comments = subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e", "frame.comment"],
                              capture_output=True, text=True, check=True).stdout.splitlines()
    assert comments == ["10.244.1.99 -> shop/db-0", "batch/job-1 -> shop/db-0"]
