"""Link layers: one function per link type, chosen once per interface, that finds the IP header.

Each takes (buf, start, end) of one frame and returns the offset of the IP header, NOT_IP for a
frame that carries no IPv4/IPv6, or SHORT when the link header itself is cut off.
"""

from __future__ import annotations

import struct
from typing import Callable

NOT_IP, SHORT = -1, -2
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
IP_ETHERTYPES = frozenset((ETH_IPV4, ETH_IPV6))
# Address families in DLT_NULL/DLT_LOOP headers: Linux, the BSDs and macOS disagree on AF_INET6.
AF_IPV4, AF_IPV6 = 2, frozenset((10, 24, 28, 30))

_U16 = struct.Struct("!H").unpack_from
_U32_LE = struct.Struct("<I").unpack_from

LinkDecoder = Callable[[bytes, int, int], int]


def _after_ethertype(buf: bytes, pos: int, end: int, etype: int) -> int:
    """Skip 802.1Q/802.1ad tags (QinQ included) that start at pos; return the IP offset."""
    while etype in VLAN_TPIDS:
        if pos + 4 > end:
            return SHORT
        etype = _U16(buf, pos + 2)[0]
        pos += 4
    return pos if etype in IP_ETHERTYPES else NOT_IP


def ethernet(buf: bytes, start: int, end: int) -> int:
    """DLT_EN10MB (1): 14-byte header, then optional VLAN tags."""
    if end - start < 14:
        return SHORT
    etype = _U16(buf, start + 12)[0]
    if etype == ETH_IPV4:
        return start + 14
    return _after_ethertype(buf, start + 14, end, etype)


def linux_sll(buf: bytes, start: int, end: int) -> int:
    """LINUX_SLL (113), `tcpdump -i any`: protocol type at byte 14 of a 16-byte header."""
    if end - start < 16:
        return SHORT
    return _after_ethertype(buf, start + 16, end, _U16(buf, start + 14)[0])


def linux_sll2(buf: bytes, start: int, end: int) -> int:
    """LINUX_SLL2 (276), `dumpcap -i any` with libpcap >= 1.10: protocol first, 20-byte header."""
    if end - start < 20:
        return SHORT
    return _after_ethertype(buf, start + 20, end, _U16(buf, start)[0])


def raw_ip(buf: bytes, start: int, end: int) -> int:
    """Raw IP (101, 12 on some systems, 228 IPv4-only, 229 IPv6-only): no link header."""
    return start if end > start else SHORT


def loopback(buf: bytes, start: int, end: int) -> int:
    """DLT_NULL (0) / DLT_LOOP (108): 4-byte address family, in either byte order."""
    if end - start < 5:
        return SHORT
    family = _U32_LE(buf, start)[0]
    if family > 0xFFFF:
        family = int.from_bytes(buf[start:start + 4], "big")
    return start + 4 if family == AF_IPV4 or family in AF_IPV6 else NOT_IP


DECODERS: dict[int, LinkDecoder] = {
    1: ethernet, 113: linux_sll, 276: linux_sll2,
    101: raw_ip, 12: raw_ip, 228: raw_ip, 229: raw_ip,
    0: loopback, 108: loopback,
}

# Link types with a fixed-size header that names the ethertype: (header length, ethertype offset).
# The decoder reads such a header, IPv4 and TCP/UDP with one unpack_from.
FIXED_HEADERS: dict[int, tuple[int, int]] = {1: (14, 12), 113: (16, 14), 276: (20, 0)}
