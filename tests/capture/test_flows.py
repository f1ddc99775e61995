"""The flow table's rules: who originates, Zeek's default timeouts, uids, warnings."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.flows import (
    FlowConfig,
    FlowStats,
    make_uid,
    originator_first,
    uid_hasher,
)
from kubectl_netmon.capture.model import ACK, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PSH, SYN

ORIGINATOR_CASES = [
    # proto, sport, dport, flags, first packet's sender is the originator?
    (PROTO_TCP, 80, 40000, SYN, True),  # a bare SYN always originates
    (PROTO_TCP, 40000, 80, ACK | PSH, True),  # mid-stream towards the server port
    (PROTO_TCP, 80, 40000, ACK | PSH, False),  # mid-stream from the server port: flipped
    (PROTO_TCP, 80, 40000, SYN | ACK, False),  # a SYN-ACK from the server port: flipped
    (PROTO_TCP, 40000, 45000, ACK, True),  # no likely server port: kept as seen
    (PROTO_TCP, 443, 8080, ACK, False),  # both likely: the lower port is the server
    (PROTO_TCP, 8080, 443, ACK, True),
    (PROTO_TCP, 443, 8080, SYN | ACK, True),  # both likely and a SYN-ACK: kept (stealth scans)
    (PROTO_UDP, 53, 40000, 0, False),  # a DNS answer seen first
    (PROTO_UDP, 40000, 53, 0, True),
    (PROTO_UDP, 53, 123, 0, True),  # both likely: kept
    (PROTO_ICMP, 0, 0, 0, True),
]


@pytest.mark.parametrize("proto,sport,dport,flags,expected", ORIGINATOR_CASES)
def test_originator_follows_zeeks_flip_rule(proto, sport, dport, flags, expected):
    assert originator_first(proto, sport, dport, flags) is expected


def test_default_timeouts_are_zeeks():
    config = FlowConfig()
    assert config.timeouts_ns() == (300 * 10**9, 60 * 10**9, 60 * 10**9)
    assert (config.tcp_close_delay, config.active_timeout) == (5.0, 3600.0)


def test_uid_is_zeek_shaped_and_keyed_by_seed():
    args = (10**18, 40000, 80, PROTO_TCP, 0, b"\x0a\0\0\x01\x0a\0\0\x02")
    uid = make_uid(uid_hasher(1), *args)
    assert uid[0] == "C" and len(uid) == 18 and uid[1:].isalnum()
    assert uid == make_uid(uid_hasher(1), *args) != make_uid(uid_hasher(2), *args)


def test_no_warnings_when_nothing_was_dropped():
    assert FlowStats(packets=10, flows=2).warnings() == []


def test_fragment_and_other_transport_warnings_say_what_happened():
    assert FlowStats(fragments=3, other_proto=2).warnings() == [
        "3 fragmented datagrams: counted in their flows, payload not reassembled or parsed",
        "2 packets of transports other than TCP, UDP and ICMP were skipped",
    ]
