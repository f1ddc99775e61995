"""Records -> `Packet`s: link layer (linktypes.py), IPv4/IPv6 with extension headers, TCP/UDP/ICMP.

Never raises on malformed layers: each cause is counted in DecodeStats.malformed and the packet
skipped. IP fragments are not reassembled. The first fragment is yielded with its ports and
frag=True (for UDP, payload_len comes from the UDP length, so it covers the whole datagram); later
fragments are counted in stats.fragments and not yielded. Zeek counts a reassembled datagram as
one packet of the first fragment's connection, so packet and connection counts stay equal to
Zeek's and to tshark's conversations; `frag` never means "ports unknown".
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain, starmap

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.linktypes import DECODERS, FIXED_HEADERS, NOT_IP, LinkDecoder
from kubectl_netmon.capture.model import (
    OPEN_WINDOW,
    PROTO_ICMP,
    PROTO_ICMP6,
    PROTO_TCP,
    PROTO_UDP,
    Packet,
    packet_key,
)
from kubectl_netmon.capture.source import CaptureReader, Record

# version/ihl, total length, flags/fragment offset, protocol, source, destination
_IP4 = struct.Struct("!BxHxxHxB2x4s4s").unpack_from
# version/class/flow, payload length, next header, source, destination
_IP6 = struct.Struct("!4xHBx16s16s").unpack_from
# source port, destination port, seq, ack, data offset, flags (the first 14 bytes), window
_TCP = struct.Struct("!HHIIBB").unpack_from
_TCP_FORMAT = "HHIIBBH"
_WINDOW = struct.Struct("!14xH").unpack_from
# The fast paths leave the addresses in the buffer: Packet.key is sliced from it.
_IP4_TCP = "BxHxxHxB2x8x" + _TCP_FORMAT
# version/class (first byte), payload length, next header, (addresses), then TCP
_IP6_TCP = "B3xHBx32x" + _TCP_FORMAT
_UDP = struct.Struct("!HHH").unpack_from
_U16 = struct.Struct("!H").unpack_from

# IPv6 extension headers whose length is (byte 1 + 1) * 8: hop-by-hop, routing, destination
# options, mobility, HIP, shim6. Fragment (44) and AH (51) have their own rules.
_EXT_8 = frozenset((0, 43, 60, 135, 139, 140))
_FRAG6, _AH = 44, 51
_EXT = _EXT_8 | {_FRAG6, _AH}
_ICMPS = frozenset((PROTO_ICMP, PROTO_ICMP6))
ICMP_HEADER = 8
# Records decoded at once: amortises a generator switch over many packets while the Packets
# waiting to go on stay few (a batch of small frames holds thousands).
DECODE_SLICE = 256

# (buf, start, end, ts_ns, iface) -> Packet, or raises Malformed, NotIP or LaterFragment
FrameDecoder = Callable[[bytes, int, int, int, int], Packet]


class Malformed(Exception):
    """A layer that cannot be decoded; the argument is the cause counted in DecodeStats."""


class NotIP(Exception):
    """A frame without IPv4/IPv6 in it (ARP, LLDP, ...): counted, not an error."""


class LaterFragment(Exception):
    """An IP fragment after the first: no transport header, so no ports to file it under."""


class DecodeStats:
    """Counters for one decoding run; `summary()` is what the CLI prints at exit."""

    def __init__(self) -> None:
        self.packets = 0      # records read
        self.ip = 0           # IPv4/IPv6 packets yielded
        self.non_ip = 0       # frames without IP (ARP, LLDP, ...)
        self.fragments = 0    # later IP fragments, not yielded
        self.malformed: Counter[str] = Counter()

    def summary(self) -> list[str]:
        """One line per cause worth telling the user about: malformed layers, fragments."""
        lines = [f"{n} packet{'' if n == 1 else 's'} skipped: {cause}"
                 for cause, n in sorted(self.malformed.items())]
        if self.fragments:
            lines.append(f"{self.fragments} later IP fragment(s) skipped: fragments are not "
                         "reassembled, each datagram counts as its first fragment")
        return lines


def packets(reader: CaptureReader, stats: DecodeStats) -> Iterator[Packet]:
    """Decode every record of `reader` into Packets; count non-IP frames and malformed ones.

    Records are decoded DECODE_SLICE at a time and their Packets handed on by a C iterator, not
    a generator resumed per packet.
    """
    return chain.from_iterable(_decoded_slices(reader, stats))


def count(reader: CaptureReader, stats: DecodeStats) -> None:
    """Decode every record of `reader` for the counts alone (when nothing downstream wants the
    Packets): the same DecodeStats as packets(); the compiled fast paths check the headers
    without making Packets, the rest is decoded as packets() decodes it."""
    for _ in starmap(partial(_count_slice, stats=stats), _slices(reader)):
        pass


def _count_slice(records: list[Record], layouts: list, decoders: list[FrameDecoder],
                 stats: DecodeStats) -> None:
    if speedups.fast is None:
        _decode_batch(records, decoders, stats)
        return
    misses = speedups.fast.undecoded(records, layouts)
    for i in misses:
        _decode_batch([records[i]], decoders, stats)
    fast = len(records) - len(misses)
    stats.packets += fast
    stats.ip += fast


def _decoded_slices(reader: CaptureReader, stats: DecodeStats) -> Iterator[list[Packet]]:
    """The reader's batches of records as lists of Packets, DECODE_SLICE records each. (starmap
    keeps no slice while the reader parses on, unlike a loop variable: see _slices.)"""
    return starmap(partial(_decode_slice, stats=stats), _slices(reader))


def _decode_slice(records: list[Record], layouts: list, decoders: list[FrameDecoder],
                  stats: DecodeStats) -> list[Packet]:
    if speedups.fast is not None:
        return _decode_fast(records, layouts, decoders, stats)
    return _decode_batch(records, decoders, stats)


def _slices(reader: CaptureReader) -> Iterator[tuple[list[Record], list, list[FrameDecoder]]]:
    """The reader's records, DECODE_SLICE at a time, with the layouts and decoders of their
    interfaces (FIXED_HEADERS' entry or None, and decoder_for's) as known by then."""
    decoders: list[FrameDecoder] = []
    layouts: list[tuple[int, int] | None] = []
    for batch in reader.batches():
        if len(decoders) < len(reader.interfaces):
            decoders = [decoder_for(i.linktype) for i in reader.interfaces]
            layouts = [FIXED_HEADERS.get(i.linktype) for i in reader.interfaces]
        for i in range(0, len(batch), DECODE_SLICE):
            yield batch[i:i + DECODE_SLICE], layouts, decoders
        # Let go of these records before the reader parses the next chunk (a chunk of small
        # packets holds more in its records than in its bytes): never two chunks' at once.
        del batch


def _decode_fast(batch: list[Record], layouts: list[tuple[int, int] | None],
                 decoders: list[FrameDecoder], stats: DecodeStats) -> list[Packet]:
    """_decode_batch with the fast paths compiled (capture.speedups); the records they leave
    (None) go through their interface's decoder here, in their place."""
    out = speedups.fast.packets(batch, layouts, OPEN_WINDOW)
    fast = len(out)
    if None in out:
        fast -= out.count(None)
        decoded: list[Packet] = []
        for rec, p in zip(batch, out):
            if p is None:
                decoded += _decode_batch([rec], decoders, stats)
            else:
                decoded.append(p)
        out = decoded
    stats.packets += fast
    stats.ip += fast
    return out


def _decode_batch(batch: list[Record], decoders: list[FrameDecoder],
                  stats: DecodeStats) -> list[Packet]:
    """The Packets of some records, each by its interface's decoder."""
    out: list[Packet] = []
    append = out.append
    for ts, iface, buf, start, end in batch:
        try:
            append(decoders[iface](buf, start, end, ts, iface))
        except Malformed as e:
            stats.malformed[e.args[0]] += 1
        except NotIP:
            stats.non_ip += 1
        except LaterFragment:
            stats.fragments += 1
    stats.packets += len(batch)
    stats.ip += len(out)
    return out


def decoder_for(linktype: int) -> FrameDecoder:
    """The frame decoder of one link type: IPv4 and IPv6 TCP/UDP fast paths where the link header
    has a fixed size, in front of the general path (link offset, IPv4/IPv6, any transport)."""
    link = DECODERS.get(linktype)
    if link is None:
        return _unsupported(linktype)
    general = _general(link, linktype)
    if linktype in FIXED_HEADERS:
        layout = FIXED_HEADERS[linktype]
        return _ipv4_fast_path(*layout, _ipv6_fast_path(*layout, general))
    return general


def _unsupported(linktype: int) -> FrameDecoder:
    cause = f"unsupported link type {linktype}"

    def decode(buf: bytes, start: int, end: int, ts: int, iface: int) -> Packet:
        raise Malformed(cause)
    return decode


def _general(link: LinkDecoder, linktype: int) -> FrameDecoder:
    short = f"truncated link-layer header (link type {linktype})"

    def decode(buf: bytes, start: int, end: int, ts: int, iface: int) -> Packet:
        off = link(buf, start, end)
        if off < 0:
            if off == NOT_IP:
                raise NotIP
            raise Malformed(short)
        version = buf[off] >> 4 if off < end else 0
        if version == 4:
            return ip4(buf, off, end, ts, iface)
        if version == 6:
            return ip6(buf, off, end, ts, iface)
        raise Malformed("truncated IP header" if off >= end else "IP version not 4 or 6")
    return decode


def _ipv4_fast_path(link_len: int, etype_at: int, fallback: FrameDecoder) -> FrameDecoder:
    """Link header, IPv4 without options and the first 16 bytes of TCP (or UDP, whose length
    lands in the top half of `seq`) in one unpack_from; the key is the 12 bytes from the source
    address to the destination port. Anything else (IPv6, options, fragments, short or odd
    headers, other protocols) goes to `fallback`."""
    need = link_len + 36
    unpack = struct.Struct(_link_format(link_len, etype_at) + _IP4_TCP).unpack_from

    def decode(buf: bytes, start: int, end: int, ts: int, iface: int) -> Packet:
        if end - start >= need:
            etype, vihl, total, frag, proto, sport, dport, seq, ack, doff, flags, window = \
                unpack(buf, start)
            if etype == 0x0800 and vihl == 0x45 and not frag & 0x3FFF:
                ip = start + link_len
                ip_end = ip + total
                if proto == 6:
                    p = ip + 20 + ((doff >> 4) << 2)
                    if doff >= 0x50 and p <= ip_end:
                        cend = ip_end if ip_end < end else end
                        return Packet(ts, iface, buf[ip + 12:ip + 24], 6, sport, dport, total,
                                      ip_end - p, buf[p:cend] if cend > p else b"", flags, seq,
                                      ack, window)
                elif proto == 17 and 8 <= seq >> 16 <= total - 20:
                    p = ip + 28
                    cend = ip_end if ip_end < end else end
                    return Packet(ts, iface, buf[ip + 12:ip + 24], 17, sport, dport, total,
                                  (seq >> 16) - 8, buf[p:cend] if cend > p else b"")
        return fallback(buf, start, end, ts, iface)
    return decode


def _ipv6_fast_path(link_len: int, etype_at: int, fallback: FrameDecoder) -> FrameDecoder:
    """The same for IPv6 without extension headers; anything else goes to `fallback`."""
    need = link_len + 56
    unpack = struct.Struct(_link_format(link_len, etype_at) + _IP6_TCP).unpack_from

    def decode(buf: bytes, start: int, end: int, ts: int, iface: int) -> Packet:
        if end - start >= need:
            etype, vtc, plen, nh, sport, dport, seq, ack, doff, flags, window = \
                unpack(buf, start)
            if etype == 0x86DD and vtc >> 4 == 6 and plen:
                ip = start + link_len
                ip_end = ip + 40 + plen
                if nh == 6:
                    p = ip + 40 + ((doff >> 4) << 2)
                    if doff >= 0x50 and p <= ip_end:
                        cend = ip_end if ip_end < end else end
                        return Packet(ts, iface, buf[ip + 8:ip + 44], 6, sport, dport, 40 + plen,
                                      ip_end - p, buf[p:cend] if cend > p else b"", flags, seq,
                                      ack, window)
                elif nh == 17 and 8 <= seq >> 16 <= plen:
                    p = ip + 48
                    cend = ip_end if ip_end < end else end
                    return Packet(ts, iface, buf[ip + 8:ip + 44], 17, sport, dport, 40 + plen,
                                  (seq >> 16) - 8, buf[p:cend] if cend > p else b"")
        return fallback(buf, start, end, ts, iface)
    return decode


def _link_format(link_len: int, etype_at: int) -> str:
    """Struct format of a fixed-size link header, keeping only its ethertype."""
    return f"!{etype_at}xH{link_len - etype_at - 2}x"


def ip4(buf: bytes, off: int, end: int, ts: int, iface: int) -> Packet:
    """Decode an IPv4 packet starting at off (options skipped) and its transport header."""
    if end - off < 20:
        raise Malformed("truncated IPv4 header")
    vihl, total, frag, proto, src, dst = _IP4(buf, off)
    hlen = (vihl & 15) << 2
    if total == 0:  # TCP segmentation offload: the kernel left the length for the NIC
        total = end - off
    if hlen < 20 or total < hlen:
        raise Malformed("bad IPv4 header length")
    ip_end = off + total
    if frag & 0x3FFF:  # more-fragments flag or an offset
        if frag & 0x1FFF:
            raise LaterFragment
        return transport(buf, off + hlen, min(end, ip_end), ip_end, ts, iface, src, dst, proto,
                         total, True)
    return transport(buf, off + hlen, min(end, ip_end), ip_end, ts, iface, src, dst, proto,
                     total, False)


def ip6(buf: bytes, off: int, end: int, ts: int, iface: int) -> Packet:
    """Decode an IPv6 packet: walk extension headers up to the transport (or ESP/no-next)."""
    if end - off < 40:
        raise Malformed("truncated IPv6 header")
    plen, nh, src, dst = _IP6(buf, off)
    total = 40 + plen if plen else end - off  # 0: jumbogram or offload; trust the capture
    ip_end = off + total
    cend = min(end, ip_end)
    pos = off + 40
    first_frag = False
    while nh in _EXT:
        if pos + 8 > cend:
            raise Malformed("truncated IPv6 extension header")
        if nh == _FRAG6:
            if _U16(buf, pos + 2)[0] & 0xFFF8:
                raise LaterFragment
            first_frag = True
            size = 8
        elif nh == _AH:
            size = (buf[pos + 1] + 2) << 2
        else:
            size = (buf[pos + 1] + 1) << 3
        nh = buf[pos]
        pos += size
    if pos > ip_end:
        raise Malformed("IPv6 extension headers longer than the packet")
    return transport(buf, pos, cend, ip_end, ts, iface, src, dst, nh, total, first_frag)


def transport(buf: bytes, t: int, cend: int, ip_end: int, ts: int, iface: int, src: bytes,
              dst: bytes, proto: int, total: int, frag: bool) -> Packet:
    """Decode TCP/UDP/ICMP at t; cend ends the captured bytes, ip_end the IP packet."""
    if proto == PROTO_TCP:
        if cend - t < 14:
            raise Malformed("truncated TCP header")
        sport, dport, seq, ack, doff, flags = _TCP(buf, t)
        p = t + ((doff >> 4) << 2)
        if p - t < 20 or p > ip_end:
            raise Malformed("bad TCP header length")
        window = _WINDOW(buf, t)[0] if cend - t >= 16 else OPEN_WINDOW
        return Packet(ts, iface, packet_key(src, dst, sport, dport), PROTO_TCP, sport, dport,
                      total, ip_end - p, buf[p:cend] if cend > p else b"", flags, seq, ack,
                      window, frag)
    if proto == PROTO_UDP:
        if cend - t < 8:
            raise Malformed("truncated UDP header")
        sport, dport, ulen = _UDP(buf, t)
        p = t + 8
        # The UDP length covers the whole datagram, also when only its first fragment is here.
        plen = ulen - 8 if ulen >= 8 and (frag or ulen <= ip_end - t) else ip_end - p
        return Packet(ts, iface, packet_key(src, dst, sport, dport), PROTO_UDP, sport, dport,
                      total, plen, buf[p:cend] if cend > p else b"", frag=frag)
    if proto in _ICMPS:
        if cend - t < 4:
            raise Malformed("truncated ICMP header")
        p = t + ICMP_HEADER
        kind, code = buf[t], buf[t + 1]
        return Packet(ts, iface, packet_key(src, dst, kind, code), proto, kind, code, total,
                      max(ip_end - p, 0), buf[p:cend] if cend > p else b"", frag=frag)
    return Packet(ts, iface, packet_key(src, dst, 0, 0), proto, 0, 0, total, ip_end - t,
                  buf[t:cend] if cend > t else b"", frag=frag)
