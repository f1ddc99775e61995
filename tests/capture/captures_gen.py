"""Builders of capture files for tests: classic pcap and pcapng blocks written byte by byte from
the format specs (independent of the product's writer), and sample frames built with scapy.

Reusable: `from tests.capture.captures_gen import pcap_bytes, sample_frames, ...`.
"""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_SLL, LINKTYPE_SLL2 = 1, 101, 113, 276
LINKTYPE_NULL, LINKTYPE_LOOP, LINKTYPE_IPV4, LINKTYPE_IPV6 = 0, 108, 228, 229
T0_NS = 1_700_000_000_123_456_789

# ---------------------------------------------------------------- classic pcap


def pcap_header(linktype: int, order: str = "<", nsec: bool = False, snaplen: int = 65535) -> bytes:
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(ts_ns: int, data: bytes, order: str = "<", nsec: bool = False,
                wirelen: int | None = None) -> bytes:
    sec, frac = divmod(ts_ns, 1_000_000_000)
    frac = frac if nsec else frac // 1000
    wire = len(data) if wirelen is None else wirelen
    return struct.pack(order + "IIII", sec, frac, len(data), wire) + data


def pcap_bytes(frames: list[bytes], linktype: int = LINKTYPE_ETHERNET, order: str = "<",
               nsec: bool = False, snaplen: int = 65535, t0_ns: int = T0_NS) -> bytes:
    """A classic pcap of `frames`, one per millisecond from t0_ns."""
    return pcap_header(linktype, order, nsec, snaplen) + b"".join(
        pcap_record(t0_ns + i * 1_000_000, f, order, nsec) for i, f in enumerate(frames))


# ---------------------------------------------------------------- pcapng blocks


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + _pad(value)


def options(opts: list[tuple[int, bytes]], order: str = "<") -> bytes:
    if not opts:
        return b""
    return b"".join(option(c, v, order) for c, v in opts) + struct.pack(order + "HH", 0, 0)


def block(btype: int, body: bytes, order: str = "<") -> bytes:
    body = _pad(body)
    length = len(body) + 12
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def shb(order: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def idb(linktype: int, order: str = "<", snaplen: int = 262144, name: str = "",
        description: str = "", tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    opts = []
    if name:
        opts.append((2, name.encode()))
    if description:
        opts.append((3, description.encode()))
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    if tsoffset:
        opts.append((14, struct.pack(order + "q", tsoffset)))
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + options(opts, order), order)


def epb(iface: int, ts_units: int, data: bytes, order: str = "<",
        wirelen: int | None = None) -> bytes:
    wire = len(data) if wirelen is None else wirelen
    head = struct.pack(order + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF,
                       len(data), wire)
    return block(6, head + _pad(data), order)


def spb(data: bytes, order: str = "<") -> bytes:
    return block(3, struct.pack(order + "I", len(data)) + _pad(data), order)


def pb(iface: int, ts_units: int, data: bytes, order: str = "<") -> bytes:
    head = struct.pack(order + "HHIIII", iface, 0, ts_units >> 32, ts_units & 0xFFFFFFFF,
                       len(data), len(data))
    return block(2, head + _pad(data), order)


def nrb(records: list[tuple[int, bytes, str]], order: str = "<") -> bytes:
    """records: (1 for IPv4 or 2 for IPv6, packed address, name)."""
    body = b"".join(option(t, addr + name.encode() + b"\0", order) for t, addr, name in records)
    return block(4, body + struct.pack(order + "HH", 0, 0), order)


# ---------------------------------------------------------------- frames

CLIENT4, SERVER4 = "10.1.0.5", "10.1.0.9"
CLIENT6, SERVER6 = "fd00::5", "fd00::9"
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ip_packets() -> list:
    """IPv4/IPv6 packets covering TCP (options, payload), UDP, ICMP and ICMPv6, IPv4 options."""
    return [
        IP(src=CLIENT4, dst=SERVER4) / TCP(sport=40000, dport=8080, flags="S", seq=1000,
                                           options=[("MSS", 1460), ("WScale", 7)]),
        IP(src=SERVER4, dst=CLIENT4) / TCP(sport=8080, dport=40000, flags="SA", seq=5000, ack=1001),
        IP(src=CLIENT4, dst=SERVER4) / TCP(sport=40000, dport=8080, flags="PA", seq=1001,
                                           ack=5001) / Raw(b"GET / HTTP/1.1\r\n\r\n"),
        IP(src=CLIENT4, dst=SERVER4, options=b"\x94\x04\x00\x00") / UDP(sport=5353, dport=53)
        / Raw(b"\x12\x34" + b"\0" * 10),
        IP(src=CLIENT4, dst=SERVER4) / ICMP(type=8, code=0) / Raw(b"ping" * 8),
        IPv6(src=CLIENT6, dst=SERVER6) / TCP(sport=40001, dport=443, flags="S", seq=7),
        IPv6(src=CLIENT6, dst=SERVER6) / UDP(sport=40002, dport=53) / Raw(b"q" * 20),
        IPv6(src=CLIENT6, dst=SERVER6) / ICMPv6EchoRequest(data=b"x" * 16),
    ]


def ether_frames(packets: list | None = None) -> list[bytes]:
    """Ethernet frames of `packets` (default ip_packets()) plus an ARP frame (not IP)."""
    frames = [bytes(Ether(src=MAC_A, dst=MAC_B) / p)
              for p in (packets or ip_packets())]
    return frames + [bytes(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")
                           / ARP(psrc=CLIENT4, pdst=SERVER4))]


def vlan_frames() -> list[bytes]:
    """One 802.1Q, one 802.1ad and one QinQ (802.1ad outer, 802.1Q inner) tagged frame."""
    p = ip_packets()
    eth = Ether(src=MAC_A, dst=MAC_B)
    return [bytes(eth / Dot1Q(vlan=10) / p[0]),
            bytes(eth / Dot1AD(vlan=20) / p[6]),
            bytes(eth / Dot1AD(vlan=30) / Dot1Q(vlan=40) / p[2])]


def ipv6_ext_packets() -> list:
    """IPv6 packets whose transport header follows hop-by-hop, routing, dest-options and AH."""
    tcp = TCP(sport=40010, dport=80, flags="S", seq=1)
    return [
        IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrHopByHop() / tcp,
        IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrRouting(addresses=["fd00::7"])
        / IPv6ExtHdrDestOpt() / UDP(sport=40011, dport=53) / Raw(b"d" * 12),
        IPv6(src=CLIENT6, dst=SERVER6) / AH(nh=6, payloadlen=4, icv=b"\0" * 12) / tcp,
    ]


def fragmented_packets() -> list:
    """A UDP datagram in three IPv4 fragments and one in two IPv6 fragments (5 packets)."""
    v4 = fragment(IP(src=CLIENT4, dst=SERVER4, id=77) / UDP(sport=4000, dport=5000)
                  / Raw(b"a" * 2000), fragsize=800)
    v6_payload = bytes(IPv6(src=CLIENT6, dst=SERVER6) / UDP(sport=4001, dport=5001)
                       / Raw(b"b" * 1500))[40:]
    first, rest = v6_payload[:1000], v6_payload[1000:]
    v6 = [IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=9)
          / Raw(first),
          IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrFragment(nh=17, offset=1000 // 8, m=0, id=9)
          / Raw(rest)]
    return list(v4) + v6


def sll_frame(packet, version: int = 2) -> bytes:
    """Linux cooked header v1 (16 bytes) or v2 (20 bytes) in front of an IP packet."""
    raw = bytes(packet)
    proto = 0x86DD if raw[0] >> 4 == 6 else 0x0800
    if version == 1:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", proto) + raw
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + raw


def loopback_frame(packet, order: str, family6: int = 30) -> bytes:
    """DLT_NULL/DLT_LOOP frame: 4-byte address family (2 for IPv4) in the given byte order."""
    raw = bytes(packet)
    return struct.pack(order + "I", family6 if raw[0] >> 4 == 6 else 2) + raw


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def synthetic_pcap(path: Path, count: int, flows: int = 1000, payload: int = 64,
                   client: str = CLIENT4, server: str = SERVER4, start_s: int = 1_700_000_000
                   ) -> Path:
    """A large Ethernet/IPv4/TCP pcap for benchmarks: `count` packets spread over `flows`
    client ports, one every microsecond from `start_s`, written in streaming fashion (memory
    independent of count)."""
    template = bytearray(bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src=client, dst=server)
                               / TCP(sport=1, dport=80, flags="PA") / Raw(b"x" * payload)))
    rec = struct.Struct("<IIII")
    with open(path, "wb") as f:
        f.write(pcap_header(LINKTYPE_ETHERNET))
        for i in range(count):
            # client port, then seq advancing by the payload within each flow
            struct.pack_into("!H", template, 34, 1024 + i % flows)
            struct.pack_into("!I", template, 38, 1 + i // flows * payload)
            f.write(rec.pack(start_s + i // 1_000_000, i % 1_000_000, len(template),
                             len(template)))
            f.write(template)
    return path


def as_dumpcap_writes(pcap: Path, out: Path) -> Path:
    """The pcap as pcapng the way dumpcap writes it: one interface with nanosecond timestamps,
    packet blocks without options (benchmarks stream it as a remote dumpcap would)."""
    from kubectl_netmon.capture.pcapng_write import PcapngWriter
    from kubectl_netmon.capture.reader import open_capture

    with open_capture(str(pcap)) as reader, open(out, "wb") as f:
        writer = PcapngWriter(f)
        writer.add_interface(reader.interfaces[0].linktype, "eth0",
                             byteorder=reader.interfaces[0].byteorder)
        for batch in reader.batches():
            writer.write_batch(batch)
    return out
