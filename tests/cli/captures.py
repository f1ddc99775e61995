"""Captures for CLI tests: damaged copies of real ones, and small ones written with scapy."""

from __future__ import annotations

import struct
from pathlib import Path

PCAP_HEADER = 24
RECORD_HEADER = struct.Struct("<IIII")  # the shared captures are little-endian
BLOCK_HEADER = struct.Struct("<II")  # pcapng block type and length (editcap writes little-endian)
IDB, EPB = 1, 6


def record_offsets(data: bytes) -> list[int]:
    """Byte offset of every record header in a little-endian classic pcap."""
    offsets, pos = [], PCAP_HEADER
    while pos + RECORD_HEADER.size <= len(data):
        offsets.append(pos)
        pos += RECORD_HEADER.size + RECORD_HEADER.unpack_from(data, pos)[2]
    return offsets


def truncated(src: Path, dst: Path, keep: int) -> int:
    """Copy src keeping `keep` whole records plus half of the next; returns where the cut record
    starts."""
    data = src.read_bytes()
    cut = record_offsets(data)[keep]
    dst.write_bytes(data[:cut + 10])
    return cut


def with_garbage_at_record(src: Path, dst: Path, index: int, garbage: bytes) -> int:
    """Copy src with garbage inserted before record `index`; returns the garbage's offset."""
    data = src.read_bytes()
    at = record_offsets(data)[index] if index < len(record_offsets(data)) else len(data)
    dst.write_bytes(data[:at] + garbage + data[at:])
    return at


def with_oversized_record(src: Path, dst: Path, index: int) -> int:
    """Copy src with record `index` claiming more bytes than the file's snap length."""
    data = bytearray(src.read_bytes())
    at = record_offsets(bytes(data))[index]
    snaplen = struct.unpack_from("<I", data, 16)[0]
    struct.pack_into("<I", data, at + 8, snaplen + 1)
    dst.write_bytes(bytes(data))
    return at


def pcapng_blocks(data: bytes) -> list[tuple[int, int]]:
    """(offset, block type) of every block of a little-endian pcapng."""
    found, pos = [], 0
    while pos + BLOCK_HEADER.size <= len(data):
        btype, blen = BLOCK_HEADER.unpack_from(data, pos)
        found.append((pos, btype))
        pos += blen
    return found


def packet_blocks(data: bytes) -> list[int]:
    """Offsets of the Enhanced Packet Blocks of a little-endian pcapng."""
    return [at for at, btype in pcapng_blocks(data) if btype == EPB]


def http_exchange(path: Path, request: bytes, response: bytes) -> Path:
    """A whole TCP connection 10.244.1.23:40000 -> 10.244.1.24:8080 carrying one HTTP exchange."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    c, s = ("10.244.1.23", 40000), ("10.244.1.24", 8080)

    def seg(src, dst, flags, seq, ack, data=b""):
        return Ether() / IP(src=src[0], dst=dst[0]) / TCP(
            sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack) / data

    cs, ss = 1000, 5000
    pkts = [seg(c, s, "S", cs, 0), seg(s, c, "SA", ss, cs + 1), seg(c, s, "A", cs + 1, ss + 1),
            seg(c, s, "PA", cs + 1, ss + 1, request),
            seg(s, c, "PA", ss + 1, cs + 1 + len(request), response),
            seg(c, s, "FA", cs + 1 + len(request), ss + 1 + len(response)),
            seg(s, c, "FA", ss + 1 + len(response), cs + 2 + len(request)),
            seg(c, s, "A", cs + 2 + len(request), ss + 2 + len(response))]
    for i, p in enumerate(pkts):
        p.time = 1646765658 + i / 100
    wrpcap(str(path), pkts)
    return path


def udp_datagrams(path: Path, times: list[float]) -> Path:
    """One DNS-like datagram per time, each from its own source port (each its own flow)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    pkts = []
    for i, t in enumerate(times):
        p = Ether() / IP(src="10.244.1.23", dst="10.96.0.10") / UDP(sport=40000 + i, dport=53) / (
            b"\x00" * 12)
        p.time = 1646765658 + t
        pkts.append(p)
    wrpcap(str(path), pkts)
    return path
