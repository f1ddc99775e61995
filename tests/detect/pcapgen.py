"""Small captures built with scapy: whole TCP conversations (handshake, segments, FIN) and UDP."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap


class Capture:
    """Packets in time order; each conversation starts a little after the previous one."""

    def __init__(self) -> None:
        self.packets: list = []
        self.t = 1_639_350_000.0

    def _add(self, pkt) -> None:
        self.t += 0.001
        pkt.time = self.t
        self.packets.append(pkt)

    def tcp(self, client: str, server: str, sport: int, dport: int,
            exchanges: list[tuple[bool, bytes]], mss: int = 1400) -> Capture:
        """A full TCP conversation: handshake, each (from_client, bytes) in mss-sized segments
        acknowledged by the peer, then FIN from both sides."""
        c2s = Ether() / IP(src=client, dst=server) / TCP(sport=sport, dport=dport)
        s2c = Ether() / IP(src=server, dst=client) / TCP(sport=dport, dport=sport)
        seq = {True: 1000, False: 5000}
        self._add(_seg(c2s, "S", seq[True] - 1, 0))
        self._add(_seg(s2c, "SA", seq[False] - 1, seq[True]))
        self._add(_seg(c2s, "A", seq[True], seq[False]))
        for from_client, data in exchanges:
            head, other = (c2s, s2c) if from_client else (s2c, c2s)
            for i in range(0, len(data), mss):
                part = data[i:i + mss]
                self._add(_seg(head, "PA", seq[from_client], seq[not from_client], part))
                seq[from_client] += len(part)
                self._add(_seg(other, "A", seq[not from_client], seq[from_client]))
        self._add(_seg(c2s, "FA", seq[True], seq[False]))
        self._add(_seg(s2c, "FA", seq[False], seq[True] + 1))
        self._add(_seg(c2s, "A", seq[True] + 1, seq[False] + 1))
        return self

    def udp(self, client: str, server: str, sport: int, dport: int,
            exchanges: list[tuple[bool, bytes]]) -> Capture:
        for from_client, data in exchanges:
            src, dst, sp, dp = (client, server, sport, dport) if from_client else (
                server, client, dport, sport)
            self._add(Ether() / IP(src=src, dst=dst) / UDP(sport=sp, dport=dp) / data)
        return self

    def write(self, path: Path) -> Path:
        wrpcap(str(path), self.packets)
        return path


def _seg(template, flags: str, seq: int, ack: int, data: bytes = b""):
    pkt = template.copy()
    pkt[TCP].flags = flags
    pkt[TCP].seq = seq
    pkt[TCP].ack = ack
    return pkt / data if data else pkt
