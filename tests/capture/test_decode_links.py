"""Every link type decodes to the same 5-tuples and lengths as tshark reads from the file."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.model import Packet
from kubectl_netmon.capture.reader import open_capture
from tests.capture.captures_gen import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_SLL,
    LINKTYPE_SLL2,
    ether_frames,
    ip_packets,
    loopback_frame,
    pcap_bytes,
    sll_frame,
    vlan_frames,
    write,
)
from tests.capture.readers_oracle import our_rows, tshark_rows

V4 = [p for p in ip_packets() if not isinstance(p, IPv6)]


def _etype(raw_ip: bytes) -> int:
    return 0x86DD if raw_ip[0] >> 4 == 6 else 0x0800

V6 = [p for p in ip_packets() if isinstance(p, IPv6)]

CASES = {
    "ethernet": (LINKTYPE_ETHERNET, ether_frames),
    "linux-sll": (LINKTYPE_SLL, lambda: [sll_frame(p, 1) for p in ip_packets()]),
    "linux-sll2": (LINKTYPE_SLL2, lambda: [sll_frame(p, 2) for p in ip_packets()]),
    "raw-101": (LINKTYPE_RAW, lambda: [bytes(p) for p in ip_packets()]),
    "raw-12": (12, lambda: [bytes(p) for p in ip_packets()]),
    "ipv4-228": (LINKTYPE_IPV4, lambda: [bytes(p) for p in V4]),
    "ipv6-229": (LINKTYPE_IPV6, lambda: [bytes(p) for p in V6]),
    "null-little-endian": (LINKTYPE_NULL, lambda: [loopback_frame(p, "<") for p in ip_packets()]),
    "null-big-endian": (LINKTYPE_NULL, lambda: [loopback_frame(p, ">") for p in ip_packets()]),
    "loop-big-endian": (LINKTYPE_LOOP, lambda: [loopback_frame(p, ">") for p in ip_packets()]),
    "vlan-and-qinq": (LINKTYPE_ETHERNET, vlan_frames),
}


@pytest.mark.parametrize("case", CASES)
def test_link_type_decodes_like_tshark(tmp_path, tshark, case):
    linktype, frames = CASES[case]
    path = write(tmp_path / f"{case}.pcap", pcap_bytes(frames(), linktype=linktype))
    rows = our_rows(path)
    assert rows and rows == tshark_rows(tshark, path)


def test_loop_with_a_little_endian_family_decodes_like_network_order(tmp_path, tshark):
    """DLT_LOOP is specified in network byte order (tshark reads only that); some writers use
    host order, which we accept too."""
    def file(order: str):
        frames = [loopback_frame(p, order) for p in ip_packets()]
        return write(tmp_path / f"loop{order}.pcap", pcap_bytes(frames, linktype=LINKTYPE_LOOP))
    assert our_rows(file("<")) == tshark_rows(tshark, file(">"))


@pytest.mark.parametrize("family", [10, 24, 28, 30], ids=["linux", "netbsd", "freebsd", "darwin"])
def test_each_ipv6_address_family_of_loopback_headers_is_ipv6(tmp_path, family):
    frames = [loopback_frame(p, "<", family6=family) for p in V6]
    path = write(tmp_path / "null.pcap", pcap_bytes(frames, linktype=LINKTYPE_NULL))
    assert [r[0] for r in our_rows(path)] == ["fd00::5"] * len(V6)


def every_field(path) -> list[tuple]:
    with open_capture(str(path)) as reader:
        return [tuple(getattr(p, f) for f in Packet.__slots__ if f != "ts_ns")
                for p in packets(reader, DecodeStats())]


def test_fixed_size_link_headers_decode_every_field_like_the_general_path(tmp_path):
    """Ethernet, SLL and SLL2 frames take a one-unpack fast path for TCP/UDP; DLT_NULL frames
    take the general path. Both must give identical Packets, also for cut and padded frames."""
    raw = [bytes(p) for p in ip_packets()]
    raw += [r[:50] for r in raw] + [r + b"\0" * 6 for r in raw]
    general = every_field(write(tmp_path / "null.pcap", pcap_bytes(
        [struct.pack("<I", 30 if r[0] >> 4 == 6 else 2) + r for r in raw], LINKTYPE_NULL)))
    for linktype, header in ((LINKTYPE_ETHERNET, lambda r: bytes(Ether(type=_etype(r)))),
                             (LINKTYPE_SLL, lambda r: sll_frame(r, 1)[:16]),
                             (LINKTYPE_SLL2, lambda r: sll_frame(r, 2)[:20])):
        frames = [header(r) + r for r in raw]
        path = write(tmp_path / f"{linktype}.pcap", pcap_bytes(frames, linktype))
        assert every_field(path) == general, linktype
