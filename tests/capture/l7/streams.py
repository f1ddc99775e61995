"""Test helpers: a capture's payload in order, per connection, and a parser run over it.

Deliberately simple (clean captures only: retransmitted bytes are trimmed, gaps accepted) and
independent of the product's reader and flow engine, so parser tests don't depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import PcapReader

from kubectl_netmon.capture.l7.registry import parser_for


@dataclass
class Stream:
    """One connection: who opened it and its payload chunks (ts_ns, from_orig, data) in order."""

    proto: str
    orig: tuple[str, int]
    resp: tuple[str, int]
    chunks: list[tuple[int, bool, bytes]] = field(default_factory=list)
    next_seq: dict[bool, int] = field(default_factory=dict)


def read_streams(path: str) -> list[Stream]:
    """TCP connections and UDP flows of a capture (ICMP-quoted packets left out)."""
    streams: dict[tuple, Stream] = {}
    with PcapReader(path) as reader:
        for pkt in reader:
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            l4 = ip.getlayer(TCP) or ip.getlayer(UDP) if ip is not None else None
            if l4 is None or ip.payload is not l4:
                continue
            src, dst = (ip.src, l4.sport), (ip.dst, l4.dport)
            proto = "tcp" if isinstance(l4, TCP) else "udp"
            key = (proto, *sorted((src, dst)))
            stream = streams.get(key)
            if stream is None:
                stream = streams[key] = Stream(proto, src, dst)
            _add(stream, src == stream.orig, int(pkt.time * 1_000_000_000), l4)
    return list(streams.values())


def _add(stream: Stream, from_orig: bool, ts_ns: int, l4) -> None:
    data = bytes(l4.payload)
    if stream.proto == "udp":
        stream.chunks.append((ts_ns, from_orig, data))
        return
    if l4.flags.S:
        stream.next_seq[from_orig] = l4.seq + 1
        return
    expected = stream.next_seq.get(from_orig, l4.seq)
    skip = (expected - l4.seq) % 2**32
    if skip >= len(data) and skip < 2**31:
        return  # a retransmission, or no payload
    data = data[skip:] if skip < 2**31 else data
    stream.next_seq[from_orig] = (l4.seq + skip + len(data)) % 2**32
    stream.chunks.append((ts_ns, from_orig, data))


def parse_stream(stream: Stream) -> tuple[str, list]:
    """Run the registry's parser over a stream as the engine would: (service, events)."""
    if not stream.chunks:
        return "", []
    _, from_orig, first = stream.chunks[0]
    parser = parser_for(stream.proto, stream.resp[1], from_orig, first)
    if parser is None:
        return "", []
    events = []
    for ts_ns, from_orig, data in stream.chunks:
        events += parser.feed(from_orig, data, ts_ns)
    events += parser.close(stream.chunks[-1][0])
    return parser.service, events


def feed_all(parser, chunks: list[tuple[bool, bytes]], ts_ns: int = 1) -> list:
    """Feed (from_orig, data) chunks at one timestamp, then close; all events in order."""
    events = []
    for from_orig, data in chunks:
        events += parser.feed(from_orig, data, ts_ns)
    return events + parser.close(ts_ns)
