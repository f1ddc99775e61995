"""IP and transport decoding: extension headers, fragments, ICMP, TCP fields, captured vs. wire
lengths, and malformed layers counted per cause instead of raising."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.model import ACK, PSH
from kubectl_netmon.capture.reader import open_capture
from tests.capture.captures_gen import (
    CLIENT4,
    CLIENT6,
    LINKTYPE_RAW,
    MAC_A,
    MAC_B,
    SERVER4,
    SERVER6,
    ether_frames,
    fragmented_packets,
    ip_packets,
    ipv6_ext_packets,
    pcap_bytes,
    write,
)
from tests.capture.readers_oracle import our_rows, tshark_rows


def decode(tmp_path, frames: list[bytes], linktype: int = 1, snaplen: int = 65535):
    """(packets, stats) for a pcap of `frames`."""
    path = write(tmp_path / "x.pcap", pcap_bytes(frames, linktype=linktype, snaplen=snaplen))
    stats = DecodeStats()
    with open_capture(str(path)) as reader:
        return list(packets(reader, stats)), stats


def eth(*pkts) -> list[bytes]:
    return [bytes(Ether(src=MAC_A, dst=MAC_B) / p) for p in pkts]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["hop-by-hop", "routing+dest-options", "ah"])
def test_ipv6_extension_headers_are_walked_to_the_transport(tmp_path, tshark, index):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames(ipv6_ext_packets()[index:index + 1])))
    rows = our_rows(path)
    assert rows[0][2] in ("tcp", "udp") and rows == tshark_rows(tshark, path)


def test_esp_ends_the_walk_with_protocol_50_and_no_ports(tmp_path):
    (pkt,), _ = decode(tmp_path, eth(IPv6(src=CLIENT6, dst=SERVER6, nh=50) / Raw(b"\0" * 24)))
    assert (pkt.proto, pkt.sport, pkt.dport, pkt.payload_len) == (50, 0, 0, 24)


def test_first_fragments_match_tshark_without_reassembly(tmp_path, tshark):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames(fragmented_packets())))
    assert our_rows(path) == tshark_rows(tshark, path)


def test_a_first_fragment_has_ports_and_the_whole_udp_length(tmp_path):
    pkts, _ = decode(tmp_path, ether_frames(fragmented_packets()))
    assert [(p.frag, p.sport, p.dport, p.payload_len) for p in pkts] == [
        (True, 4000, 5000, 2000), (True, 4001, 5001, 1500)]


def test_later_fragments_are_counted_not_yielded(tmp_path):
    pkts, stats = decode(tmp_path, ether_frames(fragmented_packets()))
    assert (len(pkts), stats.fragments) == (2, 3)


def test_an_unfragmented_packet_is_not_marked_as_a_fragment(tmp_path):
    pkts, _ = decode(tmp_path, ether_frames())
    assert not any(p.frag for p in pkts)


@pytest.mark.parametrize("pkt, type_code", [
    (IP(src=CLIENT4, dst=SERVER4) / ICMP(type=3, code=1) / Raw(b"\0" * 28), (3, 1)),
    (IPv6(src=CLIENT6, dst=SERVER6) / ICMPv6DestUnreach(code=4) / Raw(b"\0" * 48), (1, 4)),
], ids=["icmp", "icmpv6"])
def test_icmp_type_and_code_take_the_place_of_ports(tmp_path, pkt, type_code):
    (p,), _ = decode(tmp_path, eth(pkt))
    assert (p.sport, p.dport) == type_code


def test_ipv4_options_are_skipped_before_the_transport_header(tmp_path):
    pkt = IP(src=CLIENT4, dst=SERVER4, options=b"\x94\x04\x00\x00\x01\x01\x01\x00") / TCP(
        sport=1234, dport=80, flags="S")
    (p,), _ = decode(tmp_path, eth(pkt))
    assert (p.sport, p.dport, p.ip_len) == (1234, 80, 48)


def test_tcp_flags_sequence_numbers_and_payload_are_read(tmp_path):
    (p,), _ = decode(tmp_path, ether_frames(ip_packets()[2:3]))
    assert (p.tcp_flags, p.seq, p.ack, p.payload, p.payload_len) == (
        PSH | ACK, 1001, 5001, b"GET / HTTP/1.1\r\n\r\n", 18)


@pytest.mark.parametrize("ip", [IP(src=CLIENT4, dst=SERVER4),
                                IP(src=CLIENT4, dst=SERVER4, options=b"\x01\x01\x01\x00"),
                                IPv6(src=CLIENT6, dst=SERVER6)], ids=["ipv4", "options", "ipv6"])
def test_tcp_window_is_read(tmp_path, ip):
    pkts, _ = decode(tmp_path, eth(ip / TCP(sport=1234, dport=80, flags="A", window=0),
                                   ip / TCP(sport=1234, dport=80, flags="A", window=513)))
    assert [p.window for p in pkts] == [0, 513]


def test_a_packet_cut_by_the_snap_length_keeps_lengths_from_its_headers(tmp_path):
    frame = eth(IP(src=CLIENT4, dst=SERVER4) / TCP(sport=1, dport=2) / Raw(b"z" * 1000))[0]
    (p,), _ = decode(tmp_path, [frame[:64]], snaplen=64)
    assert (p.ip_len, p.payload_len, p.payload) == (1040, 1000, b"z" * 10)


def test_ethernet_padding_is_not_payload(tmp_path):
    frame = eth(IP(src=CLIENT4, dst=SERVER4) / UDP(sport=1, dport=2) / Raw(b"hi"))[0]
    (p,), _ = decode(tmp_path, [frame + b"\0" * (60 - len(frame))])
    assert (p.payload, p.payload_len) == (b"hi", 2)


def test_an_offloaded_ipv4_total_length_of_zero_uses_the_captured_length(tmp_path):
    raw = bytearray(bytes(IP(src=CLIENT4, dst=SERVER4) / TCP(sport=1, dport=2) / Raw(b"q" * 100)))
    raw[2:4] = b"\0\0"
    (p,), _ = decode(tmp_path, [bytes(raw)], linktype=LINKTYPE_RAW)
    assert (p.ip_len, p.payload_len) == (140, 100)


def test_non_ip_frames_are_counted(tmp_path):
    pkts, stats = decode(tmp_path, ether_frames())
    assert (stats.packets, stats.ip, stats.non_ip, len(pkts)) == (9, 8, 1, 8)


MALFORMED = {
    "truncated TCP header": bytes(IP(src=CLIENT4, dst=SERVER4, proto=6) / Raw(b"\0" * 10)),
    "bad TCP header length": bytes(IP(src=CLIENT4, dst=SERVER4) / TCP(dataofs=2)),
    "truncated UDP header": bytes(IP(src=CLIENT4, dst=SERVER4, proto=17) / Raw(b"\0" * 4)),
    "bad IPv4 header length": bytes(IP(src=CLIENT4, dst=SERVER4, ihl=4) / UDP()),
    "truncated IPv4 header": bytes(IP(src=CLIENT4, dst=SERVER4))[:12],
    "truncated IPv6 header": bytes(IPv6(src=CLIENT6, dst=SERVER6))[:30],
    "truncated IPv6 extension header": bytes(IPv6(src=CLIENT6, dst=SERVER6, nh=0)
                                             / Raw(b"\x06\x00")),
    "IP version not 4 or 6": b"\x50" + b"\0" * 40,
}


@pytest.mark.parametrize("cause", MALFORMED)
def test_a_malformed_layer_is_counted_by_cause_and_decoding_goes_on(tmp_path, cause):
    good = bytes(ip_packets()[0])
    pkts, stats = decode(tmp_path, [MALFORMED[cause], good], linktype=LINKTYPE_RAW)
    assert (dict(stats.malformed), len(pkts)) == ({cause: 1}, 1)


def test_a_frame_shorter_than_its_link_header_is_counted(tmp_path):
    pkts, stats = decode(tmp_path, [b"\x02\x00\x00"])
    assert dict(stats.malformed) == {"truncated link-layer header (link type 1)": 1}


def test_packets_of_an_unsupported_link_type_are_counted(tmp_path):
    pkts, stats = decode(tmp_path, [b"\0" * 40] * 2, linktype=105)
    assert (pkts, dict(stats.malformed)) == ([], {"unsupported link type 105": 2})


def test_summary_has_one_line_per_cause(tmp_path):
    frames = [MALFORMED["truncated TCP header"]] * 2 + [MALFORMED["truncated UDP header"]]
    frames += [bytes(p) for p in fragmented_packets()]
    _pkts, stats = decode(tmp_path, frames, linktype=LINKTYPE_RAW)
    assert stats.summary() == [
        "2 packets skipped: truncated TCP header",
        "1 packet skipped: truncated UDP header",
        "3 later IP fragment(s) skipped: fragments are not reassembled, each datagram counts "
        "as its first fragment",
    ]
