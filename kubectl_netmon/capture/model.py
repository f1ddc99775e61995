"""The shapes that flow one way: decoder -> flow table -> listeners (detectors) -> outputs.

Per-packet objects are slot classes with plain int/bytes fields; addresses stay packed bytes on the
hot path and become strings once per connection.
"""

from __future__ import annotations

import socket
import struct

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP6 = 58
PROTO_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMP6: "icmp"}

# TCP flag bits as in the header.
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
OPEN_WINDOW = 0xFFFF  # the window of packets that have none (UDP, ICMP), or whose was not captured

_PORTS = struct.Struct("!HH").pack
# Packet.key of IPv4 and of IPv6, for reverse_key (one unpack and pack: the engine reverses the
# key of every packet that a responder sends)
_KEY4, _KEY6 = struct.Struct("!4s4sHH"), struct.Struct("!16s16sHH")
_UNPACK_KEY4, _PACK_KEY4 = _KEY4.unpack, _KEY4.pack
_UNPACK_KEY6, _PACK_KEY6 = _KEY6.unpack, _KEY6.pack


class Packet:
    """One decoded IP packet.

    ts_ns: capture time, ns since the epoch.   iface: global capture-interface index.
    key: source and destination address (packed, 4 or 16 bytes each), then source and destination
    port (2 bytes each, as in the headers): one bytes object that the flow table hashes.
    proto: IP protocol number.   sport/dport: ports; for ICMP type and code as Zeek does
    (sport=type, dport=code).   ip_len: IP length from the header (header + payload), even when
    the capture was cut short.   payload_len: transport payload length from the headers.
    payload: the captured part of it.   tcp_flags/seq/ack/window: TCP only (window unscaled).
    frag: True for an IP fragment (ports unknown unless it is the first one).
    src/dst/version are read from key.
    """

    __slots__ = (
        "ts_ns", "iface", "key", "proto", "sport", "dport", "ip_len", "payload_len", "payload",
        "tcp_flags", "seq", "ack", "window", "frag",
    )

    def __init__(self, ts_ns: int, iface: int, key: bytes, proto: int, sport: int, dport: int,
                 ip_len: int, payload_len: int, payload: bytes, tcp_flags: int = 0, seq: int = 0,
                 ack: int = 0, window: int = OPEN_WINDOW, frag: bool = False) -> None:
        self.ts_ns = ts_ns
        self.iface = iface
        self.key = key
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.ip_len = ip_len
        self.payload_len = payload_len
        self.payload = payload
        self.tcp_flags = tcp_flags
        self.seq = seq
        self.ack = ack
        self.window = window
        self.frag = frag

    @property
    def version(self) -> int:
        return 4 if len(self.key) == 12 else 6

    @property
    def src(self) -> bytes:
        return self.key[:(len(self.key) - 4) >> 1]

    @property
    def dst(self) -> bytes:
        n = (len(self.key) - 4) >> 1
        return self.key[n:n + n]


def packet_key(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    """Packet.key from its parts (the decoder's fast paths slice it straight from the headers)."""
    return src + dst + _PORTS(sport, dport)


def reverse_key(key: bytes) -> bytes:
    """The key of a packet going the other way (addresses and ports swapped)."""
    if len(key) == 12:
        src, dst, sport, dport = _UNPACK_KEY4(key)
        return _PACK_KEY4(dst, src, dport, sport)
    src, dst, sport, dport = _UNPACK_KEY6(key)
    return _PACK_KEY6(dst, src, dport, sport)


def ip_str(packed: bytes) -> str:
    """A packed IPv4/IPv6 address as text (called once per connection, not per packet)."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
