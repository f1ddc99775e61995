"""`analyze -o json` keeps constant memory in the number of packets (issue 2: "It streams"):
the whole program (reader, engine, L7 parsers, detectors, JSON output) on N and on 4N packets
over the same fixed set of flows peaks at the same Python heap, give or take a small bound.

The peak is tracemalloc's, taken in a fresh interpreter around the CLI's main(): it counts every
Python allocation (the process RSS has a floor from startup that hides growth under it).
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from tests.capture.captures_gen import (
    CLIENT4,
    LINKTYPE_ETHERNET,
    MAC_A,
    MAC_B,
    SERVER4,
    pcap_header,
    synthetic_pcap,
)

REPO = Path(__file__).resolve().parents[2]
PACKETS, FLOWS = 25_000, 500
BOUND = 512 * 1024  # bytes the 3N more packets may add to the peak (7 per packet)
PEAK_OF_ANALYZE = """
import os, sys, tracemalloc
from kubectl_netmon.cli.main import main
sys.stdout = open(os.devnull, "w")
tracemalloc.start()
try:
    main(["analyze", "-o", "json", sys.argv[1]])
finally:
    print("peak", tracemalloc.get_traced_memory()[1], file=sys.stderr)
"""
RECORD = struct.Struct("<IIII")
TCP_PORTS_SEQ_ACK = struct.Struct("!HHII")  # at byte 34 of an Ethernet/IPv4 frame
UDP_PORTS = struct.Struct("!HH")
DNS_ID = struct.Struct("!H")  # at byte 42: after the 8-byte UDP header
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: web.shop\r\nUser-Agent: probe/1.0\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
NAME = "web.shop.svc.cluster.local"


def exchanges(path: Path, count: int, flows: int, client: bytes, server: bytes,
              patch: Callable[[bytearray, bool, int, int], None]) -> Path:
    """A pcap of `count` packets: each of `flows` client ports takes turns sending `client`
    and getting `server` back; patch(frame, from_client, port, exchange) makes each frame
    right. One packet per microsecond; written as it goes."""
    frames = {True: bytearray(client), False: bytearray(server)}
    with open(path, "wb") as f:
        f.write(pcap_header(LINKTYPE_ETHERNET))
        for i in range(count):
            nth = i // flows
            frame = frames[nth % 2 == 0]
            patch(frame, nth % 2 == 0, 1024 + i % flows, nth // 2)
            f.write(RECORD.pack(1_700_000_000 + i // 1_000_000, i % 1_000_000, len(frame),
                                len(frame)))
            f.write(frame)
    return path


def http_keep_alive(path: Path, count: int) -> Path:
    """Each flow one kept-alive HTTP connection: request, response, request, ..."""
    def patch(frame: bytearray, from_client: bool, port: int, n: int) -> None:
        sent, got = n * len(REQUEST), n * len(RESPONSE)
        if from_client:
            TCP_PORTS_SEQ_ACK.pack_into(frame, 34, port, 80, 1 + sent, 1 + got)
        else:
            TCP_PORTS_SEQ_ACK.pack_into(frame, 34, 80, port, 1 + got, 1 + sent + len(REQUEST))

    client = Ether(src=MAC_A, dst=MAC_B) / IP(src=CLIENT4, dst=SERVER4) / TCP(flags="PA") / REQUEST
    server = Ether(src=MAC_B, dst=MAC_A) / IP(src=SERVER4, dst=CLIENT4) / TCP(flags="PA") / RESPONSE
    return exchanges(path, count, FLOWS, bytes(client), bytes(server), patch)


def dns_over_one_socket(path: Path, count: int) -> Path:
    """Each flow one client socket asking the resolver again and again (as a caching forwarder
    does upstream): query, answer, query, ..."""
    def patch(frame: bytearray, from_client: bool, port: int, n: int) -> None:
        UDP_PORTS.pack_into(frame, 34, *((port, 53) if from_client else (53, port)))
        frame[40:42] = b"\0\0"  # no UDP checksum
        DNS_ID.pack_into(frame, 42, n & 0xFFFF)

    question = DNSQR(qname=NAME)
    client = Ether(src=MAC_A, dst=MAC_B) / IP(src=CLIENT4, dst=SERVER4) / UDP(dport=53) / DNS(
        rd=1, qd=question)
    server = Ether(src=MAC_B, dst=MAC_A) / IP(src=SERVER4, dst=CLIENT4) / UDP(sport=53) / DNS(
        qr=1, qd=question, an=DNSRR(rrname=NAME, rdata="10.96.0.7"))
    return exchanges(path, count, FLOWS, bytes(client), bytes(server), patch)


def tcp_payload(path: Path, count: int) -> Path:
    """Each flow one TCP connection sending 64-byte segments (no L7 service)."""
    return synthetic_pcap(path, count, flows=FLOWS)


def peak(path: Path) -> int:
    proc = subprocess.run([sys.executable, "-c", PEAK_OF_ANALYZE, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{FLOWS} flows" in proc.stderr
    return int(proc.stderr.split("peak ")[-1])


@pytest.mark.parametrize("traffic", [tcp_payload, http_keep_alive, dns_over_one_socket])
def test_four_times_the_packets_over_the_same_flows_take_no_more_memory(tmp_path, traffic):
    few = peak(traffic(tmp_path / "few.pcap", PACKETS))
    many = peak(traffic(tmp_path / "many.pcap", 4 * PACKETS))
    assert many - few < BOUND, (few, many)
