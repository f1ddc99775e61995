"""tshark as the oracle: per-packet 5-tuples and lengths, the same rows from our decoder.

A row is (src, dst, kind, sport, dport, ip_len, payload_len) with kind "tcp", "udp", "icmp" or ""
(other protocols); ICMP rows carry type and code as ports (as Zeek does) and no payload length.
Fragments after the first are left out on both sides: tshark runs without reassembly, and our
decoder counts them instead of yielding them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.model import (
    PROTO_ICMP,
    PROTO_ICMP6,
    PROTO_TCP,
    PROTO_UDP,
    Packet,
    ip_str,
)
from kubectl_netmon.capture.reader import open_capture

FIELDS = (
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ipv6.plen", "ip.frag_offset",
    "ipv6.fraghdr.offset", "tcp.srcport", "tcp.dstport", "tcp.len", "udp.srcport",
    "udp.dstport", "udp.length", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
)
REPO = Path(__file__).resolve().parents[2]
KINDS = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMP6: "icmp"}

Row = tuple


def tshark_rows(tshark: str, path: Path) -> list[Row]:
    """The rows tshark gives for every IP packet but later fragments (first header only)."""
    cmd = [tshark, "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        row = _tshark_row(v)
        if row is not None:
            rows.append(row)
    return rows


def _tshark_row(v: dict[str, str]) -> Row | None:
    if v["ip.src"]:
        src, dst, ip_len = v["ip.src"], v["ip.dst"], int(v["ip.len"])
        if int(v["ip.frag_offset"] or 0):
            return None
    elif v["ipv6.src"]:
        src, dst, ip_len = v["ipv6.src"], v["ipv6.dst"], 40 + int(v["ipv6.plen"])
        if int(v["ipv6.fraghdr.offset"] or 0):
            return None
    else:
        return None
    for kind, a, b, n in (("icmp", "icmp.type", "icmp.code", None),
                          ("icmp", "icmpv6.type", "icmpv6.code", None),
                          ("tcp", "tcp.srcport", "tcp.dstport", "tcp.len"),
                          ("udp", "udp.srcport", "udp.dstport", "udp.length")):
        if v[a]:
            plen = None if n is None else int(v[n]) - (8 if kind == "udp" else 0)
            return src, dst, kind, int(v[a]), int(v[b]), ip_len, plen
    return src, dst, "", 0, 0, ip_len, None


def our_rows(path: Path | str) -> list[Row]:
    """The same rows from open_capture + packets."""
    with open_capture(str(path)) as reader:
        return [_row(p) for p in packets(reader, DecodeStats())]


def _row(p: Packet) -> Row:
    kind = KINDS.get(p.proto, "")
    plen = p.payload_len if kind in ("tcp", "udp") else None
    if not kind:
        return ip_str(p.src), ip_str(p.dst), "", 0, 0, p.ip_len, None
    return ip_str(p.src), ip_str(p.dst), kind, p.sport, p.dport, p.ip_len, plen
