"""The shapes that flow one way: decoder -> flow table -> listeners (detectors) -> outputs.

Per-packet objects are slot classes with plain int/bytes fields; addresses stay packed bytes on the
hot path and become strings once per connection.
"""

from __future__ import annotations

import socket

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP6 = 58
PROTO_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMP6: "icmp"}

# TCP flag bits as in the header.
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


class Packet:
    """One decoded IP packet.

    ts_ns: capture time, ns since the epoch.   iface: global capture-interface index.
    version: 4 or 6.   src/dst: packed addresses (4 or 16 bytes).   proto: IP protocol number.
    sport/dport: ports; for ICMP type and code as Zeek does (sport=type, dport=code).
    ip_len: IP length from the header (header + payload), even when the capture was cut short.
    payload_len: transport payload length from the headers.   payload: the captured part of it.
    tcp_flags/seq/ack: TCP only (0 otherwise).   frag: True for an IP fragment (ports unknown
    unless it is the first one).
    """

    __slots__ = (
        "ts_ns", "iface", "version", "src", "dst", "proto", "sport", "dport",
        "ip_len", "payload_len", "payload", "tcp_flags", "seq", "ack", "frag",
    )

    def __init__(self, ts_ns: int, iface: int, version: int, src: bytes, dst: bytes, proto: int,
                 sport: int, dport: int, ip_len: int, payload_len: int, payload: bytes,
                 tcp_flags: int = 0, seq: int = 0, ack: int = 0, frag: bool = False) -> None:
        self.ts_ns = ts_ns
        self.iface = iface
        self.version = version
        self.src = src
        self.dst = dst
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.ip_len = ip_len
        self.payload_len = payload_len
        self.payload = payload
        self.tcp_flags = tcp_flags
        self.seq = seq
        self.ack = ack
        self.frag = frag


def ip_str(packed: bytes) -> str:
    """A packed IPv4/IPv6 address as text (called once per connection, not per packet)."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
