"""Idle expiry through the whole `analyze` program, on captures written with scapy: a flow idle
past its protocol's inactivity timeout (Zeek's tcp_inactivity_timeout 300 s,
icmp_inactivity_timeout 60 s) ends, and a later packet starts a new connection; a flow idle a
little less goes on."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from tests.cli.test_analyze import analyze, records

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

T0 = 1_700_000_000.0
CLIENT, SERVER = "10.244.1.23", "10.244.1.24"


def tcp_talk_then_one_more_segment(path: Path, idle_s: float) -> Path:
    """A handshake and a request, then after idle_s seconds of silence one more segment from the
    client (the connection was never closed)."""
    c, s, cs, ss = (CLIENT, 40000), (SERVER, 80), 1000, 5000
    request = b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"

    def seg(src, dst, flags, seq, ack, data=b""):
        return Ether() / IP(src=src[0], dst=dst[0]) / TCP(
            sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack) / data

    pkts = [seg(c, s, "S", cs, 0), seg(s, c, "SA", ss, cs + 1), seg(c, s, "A", cs + 1, ss + 1),
            seg(c, s, "PA", cs + 1, ss + 1, request),
            seg(s, c, "A", ss + 1, cs + 1 + len(request))]
    for i, p in enumerate(pkts):
        p.time = T0 + i / 100
    late = seg(c, s, "PA", cs + 1 + len(request), ss + 1, b"more")
    late.time = pkts[-1].time + idle_s
    wrpcap(str(path), [*pkts, late])
    return path


def pings(path: Path, idle_s: float) -> Path:
    """An echo request and its reply, then after idle_s seconds another request and reply."""
    pkts = []
    for seq, start in ((1, T0), (2, T0 + 0.001 + idle_s)):
        request = Ether() / IP(src=CLIENT, dst=SERVER) / ICMP(type=8, id=7, seq=seq) / b"ping"
        reply = Ether() / IP(src=SERVER, dst=CLIENT) / ICMP(type=0, id=7, seq=seq) / b"ping"
        request.time, reply.time = start, start + 0.001
        pkts += [request, reply]
    wrpcap(str(path), pkts)
    return path


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def conns(path: Path) -> list[dict]:
    proc = analyze(path, "-o", "json", "--no-detect")
    assert proc.returncode == 0
    return [r for r in records(proc.stdout) if r["_path"] == "conn"]


def test_a_tcp_flow_idle_for_longer_than_300_s_ends_and_the_next_segment_starts_a_new_one(
        tmp_path):
    first, second = sorted(conns(tcp_talk_then_one_more_segment(tmp_path / "t.pcap", 301)),
                           key=lambda r: r["ts"])
    assert first["uid"] != second["uid"]
    assert (first["orig_pkts"], first["resp_pkts"], first["history"]) == (3, 2, "ShADa")
    assert (second["orig_pkts"], second["history"]) == (1, "D")
    assert second["ts"] == iso(T0 + 0.04 + 301)  # the late segment's time


def test_a_tcp_flow_idle_for_less_than_300_s_goes_on(tmp_path):
    [conn] = conns(tcp_talk_then_one_more_segment(tmp_path / "t.pcap", 299))
    assert (conn["orig_pkts"], conn["resp_pkts"], conn["orig_bytes"]) == (4, 2, 33)


@pytest.mark.parametrize(("idle_s", "flows"), [(59, 1), (61, 2)])
def test_an_icmp_flow_ends_after_60_s_idle(tmp_path, idle_s, flows):
    found = conns(pings(tmp_path / "p.pcap", idle_s))
    assert len(found) == flows
    assert len({c["uid"] for c in found}) == flows
    assert sum(c["orig_pkts"] for c in found) == sum(c["resp_pkts"] for c in found) == 2
    assert {(c["proto"], c["id.orig_p"], c["id.resp_p"]) for c in found} == {("icmp", 8, 0)}
