"""The flow table's parts: its configuration, per-connection state, uids and who is the originator.

Zeek semantics throughout (base/protocols/conn, the TCP analyzer): per-protocol inactivity
timeouts, a close delay after a normal close or a reset, the "likely server port" rule that picks
the responder when the first packet is no SYN, and ICMP keyed by type and its counterpart type.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from kubectl_netmon.capture.conn_state import INACTIVE, RESET, SYN_SENT
from kubectl_netmon.capture.model import ACK, PROTO_TCP, PROTO_UDP, SYN
from kubectl_netmon.capture.reassembly import Limits, Stream

SECOND = 1_000_000_000

# Responders are expected on these ports (Zeek's likely_server_ports, registered by its protocol
# analyzers; we take every port below 1024 plus the common cluster services above it).
LIKELY_SERVER_PORTS = frozenset(range(1, 1024)) | frozenset((
    1080, 1433, 1521, 2049, 2181, 2379, 2380, 3000, 3128, 3306, 3389, 4222, 5000, 5432, 5601,
    5672, 6379, 6443, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9042, 9090, 9092, 9200, 9300,
    9443, 10250, 11211, 15672, 27017,
))

# ICMP message types that come in request/reply pairs (Zeek's ICMP4/6_counterpart): both
# directions of such an exchange share one flow keyed (request type, reply type). Any other type
# is a one-way flow keyed (type, code), as Zeek logs it.
ICMP4_COUNTERPART = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}
ICMP6_COUNTERPART = {128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136,
                     136: 135, 139: 140, 140: 139}

# TcpEndpoint.odd's units: FINs sent count in its low 32 bits, retransmitted segments in the
# next 32, zero windows advertised above (a closed endpoint holds 1: a small int all share)
ONE_FIN = 1
ONE_RETRANSMIT = 1 << 32
ONE_ZERO_WINDOW = 1 << 64

_UID_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Each digest byte becomes one base62 character (bytes 248..255 fold onto the first eight).
_UID_TABLE = bytes(_UID_ALPHABET[i % 62] for i in range(256))
_UID_INPUT = struct.Struct("!qHHBI")


@dataclass(frozen=True)
class FlowConfig:
    """How long flows live and how much the engine keeps (Zeek's defaults where Zeek has one)."""

    tcp_inactivity_timeout: float = 300.0  # seconds without packets before a TCP flow ends
    udp_inactivity_timeout: float = 60.0
    icmp_inactivity_timeout: float = 60.0
    tcp_close_delay: float = 5.0  # after a FIN exchange or a RST, packets still join the flow
    active_timeout: float = 3600.0  # a longer connection is logged, then continues in a new one
    # UDP DNS connections: Zeek's DNS analyzer checks every dns_session_timeout from the start
    # and removes the connection once it idled for this less a second
    dns_session_timeout: float = 10.0
    # Flows kept at once; beyond it the least recently active end early (counted, warned).
    # An open HTTP flow with its L7 state costs about 1.7 kB (scripts/benchmark --concurrent
    # measures the whole process).
    max_flows: int = 100_000
    reassembly_limit: int = 64 * 1024  # payload bytes per direction given to parsers/listeners
    ooo_limit: int = 64 * 1024  # out-of-order payload bytes held per direction
    ooo_segments: int = 64
    l7: bool = True  # run L7 parsers (events to listeners' on_event, conn.service)
    uid_seed: int = 0  # uids are a keyed hash of each flow's first packet: same input, same uids

    def timeouts_ns(self) -> tuple[int, int, int]:
        """Inactivity timeouts of TCP, UDP and other flows, in ns."""
        return (int(self.tcp_inactivity_timeout * SECOND),
                int(self.udp_inactivity_timeout * SECOND),
                int(self.icmp_inactivity_timeout * SECOND))

    def limits(self) -> Limits:
        """What reassembly delivers and holds per direction."""
        return Limits(self.reassembly_limit, self.ooo_limit, self.ooo_segments)


@dataclass
class FlowStats:
    """What the flow table did beyond building connections, for the end-of-run summary."""

    packets: int = 0
    flows: int = 0
    evicted: int = 0  # flows ended early because the table was full
    idle_expired: int = 0
    active_splits: int = 0  # records emitted by the active timeout
    fragments: int = 0  # fragmented datagrams: counted in their flow, payload not parsed
    other_proto: int = 0  # packets of transports without flows (e.g. SCTP, GRE)

    def warnings(self) -> list[str]:
        """One line per condition the user should know about, with what to do."""
        out = []
        if self.evicted:
            out.append(f"flow table full: {self.evicted} oldest flows evicted early; "
                       "raise --max-flows")
        if self.fragments:
            out.append(f"{self.fragments} fragmented datagrams: counted in their flows, "
                       "payload not reassembled or parsed")
        if self.other_proto:
            out.append(f"{self.other_proto} packets of transports other than TCP, UDP and ICMP "
                       "were skipped")
        return out


class TcpEndpoint:
    """One side of a TCP connection as Zeek's TCP_Endpoint tracks it, and its payload's delivery.

    Sequence positions are relative to `start` (the ISN, or one before the first byte seen) and
    grow without wrapping: last is one past the highest sequence sent, ack the highest
    acknowledgement the peer sent for this side's data. Payload in order is delivered at once
    (next: the position of the next byte to deliver); `stream` (reassembly) is only made when
    something comes out of order or a gap must be counted, and then takes over from next.
    """

    __slots__ = ("state", "prev", "start", "last", "ack", "did_close", "syn_at", "fin_at",
                 "rst_at", "odd", "next", "stream")

    def __init__(self) -> None:
        self.state = INACTIVE
        self.prev = INACTIVE
        self.start = 0
        self.last = 0
        self.ack = 0
        self.did_close = False
        self.syn_at = -1  # position of the last SYN / FIN / RST recorded in the history
        self.fin_at = -1
        self.rst_at = -1
        # rare counts in one int of the many open flows (see ONE_FIN): FINs sent, and the
        # retransmitted segments and zero windows of the logarithmic 't' and 'w' letters
        self.odd = 0
        self.next = 1  # next payload position to deliver while stream is None
        self.stream: Stream | None = None

    def init_seq(self, start: int, last: int) -> None:
        self.start = start & 0xFFFFFFFF
        self.last = last
        self.ack = 0

    def size(self, peer_state: int) -> int:
        """Payload bytes sent, from sequence progress (Zeek's TCP_Endpoint::Size)."""
        if (self.prev == SYN_SENT and self.state == RESET and peer_state == INACTIVE
                and self.ack > 1):
            return 0  # a SYN then a RST with an odd sequence number
        size = max(self.last, self.ack)
        if size > 0:
            size -= 1  # the SYN's sequence slot
        if odd_count(self.odd, ONE_FIN) and size > 0:
            size -= 1  # the FIN's
        return size


def odd_count(odd: int, unit: int) -> int:
    """The count of one unit (ONE_FIN, ONE_RETRANSMIT, ONE_ZERO_WINDOW) in TcpEndpoint.odd."""
    return (odd // unit) & 0xFFFFFFFF


class Flow:
    """The table's private state of one connection (Conn.state points here)."""

    __slots__ = ("conn", "key", "orig", "resp", "parser", "hist", "close_at", "split")

    def __init__(self, conn, key: bytes) -> None:
        self.conn = conn
        self.key = key  # the originator-to-responder table key (model.Packet.key's layout)
        self.orig: TcpEndpoint | None = None
        self.resp: TcpEndpoint | None = None
        self.parser = None  # None: not asked yet; False: no parser knows this payload
        self.hist = 0  # history letters already recorded (bit per letter and direction)
        # ns from which the connection is removed (0: none yet): the close delay after a TCP
        # close, the expiry of a UDP DNS connection
        self.close_at = 0
        # after active-timeout splits: (records so far, orig and resp payload bytes they had)
        self.split: tuple[int, int, int] | None = None


def dns_expiry(start_ns: int, last_ns: int, timeout_ns: int) -> int:
    """When Zeek removes a UDP DNS connection last active at last_ns: at the first of its
    analyzer's checks (start + k * timeout) that finds it idle for at least timeout - 1 s."""
    ticks = -(-(last_ns + timeout_ns - SECOND - start_ns) // timeout_ns)
    return start_ns + max(ticks, 1) * timeout_ns


def originator_first(proto: int, sport: int, dport: int, flags: int) -> bool:
    """True when the first packet's sender is the originator (Zeek's WantConnection flip rule).

    TCP: a packet without a bare SYN makes a partial connection; its sender is taken as the
    responder when it uses a likely server port and the receiver does not (both likely: when
    it is no SYN-ACK and its port is the lower). UDP: flip when only the source port is likely.
    """
    src_likely = sport in LIKELY_SERVER_PORTS
    if proto == PROTO_TCP:
        if flags & SYN and not flags & ACK:
            return True
        if not src_likely:
            return True
        if dport in LIKELY_SERVER_PORTS:
            return bool(flags & SYN) or sport >= dport
        return False
    if proto == PROTO_UDP:
        return not (src_likely and dport not in LIKELY_SERVER_PORTS)
    return True


def uid_hasher(seed: int):
    """The keyed blake2b that make_uid copies (keying once is most of a hash's cost)."""
    return hashlib.blake2b(digest_size=17, key=seed.to_bytes(16, "big", signed=True))


def make_uid(hasher, ts_ns: int, sport: int, dport: int, proto: int, part: int,
             addresses: bytes) -> str:
    """Zeek-style uid: "C" and 17 base62 characters, a keyed hash of the flow's first packet
    (addresses: the originator's then the responder's, packed)."""
    h = hasher.copy()
    h.update(_UID_INPUT.pack(ts_ns, sport, dport, proto, part) + addresses)
    return "C" + h.digest().translate(_UID_TABLE).decode("ascii")
