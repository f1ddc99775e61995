"""Every link type decodes to the same 5-tuples and lengths as tshark reads from the file."""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import IPv6

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
