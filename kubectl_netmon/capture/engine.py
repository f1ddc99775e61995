"""The flow engine: packets in, finished Zeek-style connection records out, listeners told.

One pass, streaming. Each packet finds its flow in a dict per transport (TCP, UDP, ICMP), keyed
by Packet.key (addresses and ports in one bytes object) as the originator sends it; a responder's
packet finds it by its key reversed (one key and one entry per flow: the table of a busy node
holds many); TCP endpoints follow Zeek's TCP analyzer (states, history letters, sizes from
sequence numbers); in-order payload goes straight to listeners and L7 parsers, and through
reassembly only once something arrives out of order. A record is final when its TCP close delay
passes, it idles past its protocol's inactivity timeout (for UDP DNS: Zeek's DNS session
expiry), the active timeout splits it, the table evicts it, or the input ends.
"""

from __future__ import annotations

import heapq
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.conn_state import (
    CLOSED,
    ESTABLISHED,
    INACTIVE,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
    tcp_conn_state,
    udp_conn_state,
)
from kubectl_netmon.capture.flows import (
    ICMP4_COUNTERPART,
    ICMP6_COUNTERPART,
    ONE_FIN,
    ONE_RETRANSMIT,
    ONE_ZERO_WINDOW,
    SECOND,
    Flow,
    FlowConfig,
    FlowStats,
    TcpEndpoint,
    dns_expiry,
    make_uid,
    odd_count,
    originator_first,
    uid_hasher,
)
from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.capture.l7.registry import parser_for
from kubectl_netmon.capture.listener import FlowListener, overridden
from kubectl_netmon.capture.model import (
    ACK,
    FIN,
    PROTO_ICMP,
    PROTO_ICMP6,
    PROTO_NAMES,
    PROTO_TCP,
    PROTO_UDP,
    RST,
    SYN,
    Packet,
    ip_str,
    packet_key,
    reverse_key,
)
from kubectl_netmon.capture.reassembly import Stream

__all__ = ["Engine", "FlowConfig"]

_M32 = 0xFFFFFFFF
_HALF = 0x80000000
_TOO_LARGE = 1 << 20  # Zeek's TOO_LARGE_SEQ_DELTA: SYN/RST sequence jumps not trusted
_SWEEP_NS = SECOND  # how often (in packet time) closed flows are looked for
_IDLE_SWEEPS = 10  # idle flows are looked for this many times per shortest inactivity timeout
_EVICT_SHARE = 100  # a full table evicts this share (1/100) of its flows at once
_TCP, _UDP, _OTHER = 0, 1, 2  # flow kinds: each has its tables and inactivity timeout
_KINDS = {"tcp": _TCP, "udp": _UDP, "icmp": _OTHER}  # by Conn.proto
_PORTS = struct.Struct("!HH").unpack_from

# History letter bits (one per letter and direction) and the letters' originator forms.
_H_SYN, _H_FIN, _H_RST, _H_DATA, _H_ACK, _H_FINRST, _H_MULTI = (1 << i for i in range(7))
_RESP = 8  # shift of the responder's bits
_POW10 = frozenset(10 ** i for i in range(19))  # 't' and 'g' are logged at 1, 10, 100, ...
_NO_SPLIT = (0, 0, 0)  # Flow.split of a connection the active timeout never split
# Address texts kept for sharing: the hosts a node talks to at once fit; with more distinct hosts
# than this it is cleared, so the cache never costs the table more than it saves.
_ADDR_CACHE = 4096
_CONTROL = SYN | FIN | RST
# The A/D history letters, at (2 if payload else 0) + (0 if from the originator else 1)
_LETTERS = ("A", "a", "D", "d")
# History strings, shared by the many connections with the same one (bounded: with the 't' and
# 'g' repeats the letters are still few, but this stays a cache, not an index).
_HISTORIES: dict[str, str] = {}
_HISTORIES_MAX = 4096
_HIST_BITS: dict[int, int] = {}  # at most 2**14 combinations of the history letter bits
_WITH_BODY = (HttpRequest, HttpResponse)  # events whose body only on_event sees


def _history(text: str) -> str:
    """text, or the equal history string another connection already holds."""
    shared = _HISTORIES.get(text)
    if shared is None:
        if len(_HISTORIES) < _HISTORIES_MAX:
            _HISTORIES[text] = text
        return text
    return shared


class Engine:
    """Turns packets into connection records (see module doc); one engine per input."""

    def __init__(self, listeners: Iterable[FlowListener] = (),
                 config: FlowConfig | None = None) -> None:
        listeners = list(listeners)
        self.config = config = config or FlowConfig()
        self.stats = FlowStats()
        self._on_packet = _hooks(listeners, "on_packet")
        self._on_data = _hooks(listeners, "on_data")
        self._on_event = _hooks(listeners, "on_event")
        self._on_conn_end = _hooks(listeners, "on_conn_end")
        self._on_finish = _hooks(listeners, "on_finish")
        # Per kind (TCP, UDP, ICMP): key as the originator sends -> flow.
        self._tables: tuple[dict[bytes, Flow], ...] = ({}, {}, {})
        self._closing: deque[Flow] = deque()  # closed TCP flows waiting out the close delay
        # UDP DNS flows, each with the expiry it had when queued (a later packet moves it on)
        self._dns: deque[tuple[int, Flow]] = deque()
        self._dns_timeout = int(config.dns_session_timeout * SECOND)
        self._out: list[Conn] = []  # finished, not yet yielded
        self._idle = config.timeouts_ns()
        self._active = int(config.active_timeout * SECOND)
        # No record reaches the active timeout before this: the earliest start of a record (a
        # split starts later than this) plus the timeout. Spares run a subtraction per packet.
        self._split_from: float = float("inf")
        self._close_delay = int(config.tcp_close_delay * SECOND)
        self._limits = config.limits()
        self._uids = uid_hasher(config.uid_seed)
        self._names: dict[bytes, str] = {}
        self._next_sweep = 0
        self._next_idle_sweep = 0

    # -- public -------------------------------------------------------------------------------

    def run(self, packets: Iterable[Packet]) -> Iterator[Conn]:
        """Yield each connection once, when final; at the end flush all and call on_finish."""
        out = self._out
        tcp_get, udp_get, other_get = (table.get for table in self._tables)
        tcp_idle, udp_idle, other_idle = self._idle
        active = self._active
        on_packet = self._on_packet
        stats = self.stats
        tcp, datagram = self._tcp, self._datagram
        syn_ack, syn = SYN | ACK, SYN
        reverse = reverse_key if speedups.fast is None else speedups.fast.reverse_key
        fast = None if speedups.fast is None or on_packet else speedups.fast.flow_packet
        context = self._fast_context() if fast is not None else None
        count = 0
        next_sweep = self._next_sweep
        try:
            for p in packets:
                count += 1
                if fast is not None and fast(p, context, next_sweep, self._split_from):
                    continue  # the common case, compiled: it never finishes a flow
                ts = p.ts_ns
                if ts >= next_sweep:
                    self._sweep(ts)
                    next_sweep = self._next_sweep
                proto = p.proto
                if proto == 6:  # PROTO_TCP
                    kind, key, get, idle, handle = 0, p.key, tcp_get, tcp_idle, tcp
                elif proto == 17:  # PROTO_UDP
                    kind, key, get, idle, handle = 1, p.key, udp_get, udp_idle, datagram
                elif proto in PROTO_NAMES:
                    kind, key, get, idle, handle = 2, _icmp_key(p), other_get, other_idle, datagram
                else:
                    stats.other_proto += 1
                    continue
                f = get(key)
                is_orig = True
                if f is None:
                    f = get(reverse(key))
                    if f is None:
                        f = self._new(p, key, kind)
                        is_orig = f.key is key
                    else:
                        is_orig = False
                conn = f.conn
                if f.close_at and ts >= f.close_at or ts - conn.last_ns >= idle or (
                        p.tcp_flags & syn_ack == syn and _reused(f, is_orig, p)):
                    self._finish(f)
                    f = self._new(p, key, kind)
                    is_orig = f.key is key
                    conn = f.conn
                elif ts >= self._split_from and ts - conn.ts_ns >= active:
                    self._split(f, ts)
                    conn = f.conn
                handle(f, is_orig, p, ts)
                if on_packet:
                    for hook in on_packet:
                        hook(p, conn)
                if out:
                    yield from out
                    out.clear()
        finally:
            stats.packets += count
        for f in self._flows():
            self._finish(f)
        yield from out
        out.clear()
        for hook in self._on_finish:
            hook()

    def _fast_context(self) -> tuple:
        """What speedups.fast.flow_packet works with (its X_* order): the TCP and UDP tables,
        their inactivity timeouts, the active timeout, the end of delivered payload, and the
        engine's code it calls for everything beyond the common case."""
        (tcp, udp, _), (tcp_idle, udp_idle, _) = self._tables, self._idle
        return (tcp, udp, tcp_idle, udp_idle, self._active, self._limits.end, self._tcp_full,
                self._zero_window, _letter, self._acked, _retransmitted, self._segment,
                self._deliver, self._datagram, _LETTERS)

    def active(self) -> Iterator[Conn]:
        """The live connections, their records filled as of now (for a live table)."""
        for f in self._flows():
            self._fill(f)
            yield f.conn

    def expire(self, now_ns: int) -> list[Conn]:
        """For live sources when no packet arrives: finish what timed out by now_ns."""
        self._next_idle_sweep = 0
        self._sweep(now_ns)
        done = list(self._out)
        self._out.clear()
        return done

    # -- flows --------------------------------------------------------------------------------

    def _flows(self) -> list[Flow]:
        """Every live flow (a copy: the caller may finish them)."""
        return list(chain.from_iterable(table.values() for table in self._tables))

    def _new(self, p: Packet, key: bytes, kind: int) -> Flow:
        """A flow for a packet no live flow has; decides who the originator is."""
        tables = self._tables
        if len(tables[0]) + len(tables[1]) + len(tables[2]) >= self.config.max_flows:
            self._evict()
        proto = p.proto
        ports = len(key) - 4
        sport, dport = _PORTS(key, ports)
        first = originator_first(proto, sport, dport, p.tcp_flags)
        if not first:
            key = reverse_key(key)
            sport, dport = dport, sport
        half = ports >> 1
        uid = make_uid(self._uids, p.ts_ns, sport, dport, proto, 0, key[:ports])
        conn = Conn(uid, p.ts_ns, self._name(key[:half]), sport, self._name(key[half:ports]),
                    dport, PROTO_NAMES[proto], p.iface)
        f = Flow(conn, key)
        conn.state = f
        split_at = p.ts_ns + self._active
        if split_at < self._split_from:
            self._split_from = split_at
        if not first:
            conn.history = "^"
        if kind == _TCP:
            f.orig = TcpEndpoint()
            f.resp = TcpEndpoint()
        tables[kind][key] = f
        self.stats.flows += 1
        return f

    def _name(self, packed: bytes) -> str:
        """Address text, shared between the many connections of a host."""
        name = self._names.get(packed)
        if name is None:
            if len(self._names) >= _ADDR_CACHE:
                self._names.clear()
            name = self._names[packed] = ip_str(packed)
        return name

    def _finish(self, f: Flow) -> None:
        """The record is final: drain payload, close the parser, tell listeners, queue it."""
        key = f.key
        kind = _KINDS[f.conn.proto]
        del self._tables[kind][key]
        f.close_at = 0
        conn = f.conn
        if f.orig is not None:
            if f.orig.stream is not None and f.orig.stream.pending:
                self._flush(f, True, f.orig.stream)
            if f.resp.stream is not None and f.resp.stream.pending:
                self._flush(f, False, f.resp.stream)
        if f.parser:
            events = f.parser.close(conn.last_ns)
            if events:
                self._events(f, events)
        self._emit(f)

    def _flush(self, f: Flow, from_orig: bool, stream: Stream) -> None:
        """Deliver what a direction still holds out of order, its holes counted as gaps."""
        missed = stream.missed
        data = stream.flush()
        if stream.missed != missed:
            self._gap(f, from_orig, stream, missed)
        if data:
            self._deliver(f, from_orig, data, f.conn.last_ns)

    def _emit(self, f: Flow) -> None:
        """Fill the record, detach it from the table's state, tell listeners, queue it."""
        conn = f.conn
        self._fill(f)
        conn.state = None  # the record is final; also frees the flow without the cycle GC
        for hook in self._on_conn_end:
            hook(conn)
        self._out.append(conn)

    def _fill(self, f: Flow) -> None:
        """Derive the record's computed fields (sizes, conn_state) from the tracking state."""
        conn = f.conn
        o, r = f.orig, f.resp
        if o is not None:
            _, orig_before, resp_before = f.split or _NO_SPLIT
            conn.orig_bytes = o.size(r.state) - orig_before
            conn.resp_bytes = r.size(o.state) - resp_before
            conn.conn_state = tcp_conn_state(o.state, r.state, conn.orig_bytes, conn.resp_bytes,
                                             conn.history)
        elif conn.proto == "udp":
            conn.conn_state = udp_conn_state(conn.orig_pkts > 0, conn.resp_pkts > 0)

    def _split(self, f: Flow, ts: int) -> None:
        """Active timeout: emit the record so far; the connection goes on in a new record."""
        old = f.conn
        self._emit(f)
        self.stats.active_splits += 1
        part, orig_before, resp_before = f.split or _NO_SPLIT
        part += 1
        f.split = (part, orig_before + old.orig_bytes, resp_before + old.resp_bytes)
        key = f.key
        uid = make_uid(self._uids, old.ts_ns, old.orig_p, old.resp_p, _proto(f), part,
                       key[:len(key) - 4])
        conn = Conn(uid, ts, old.orig_h, old.orig_p, old.resp_h, old.resp_p, old.proto, old.iface)
        conn.service = old.service
        conn.state = f
        f.conn = conn
        f.hist = 0

    def _evict(self) -> None:
        """The table is full: end the least recently active flows early (a batch at once, so
        the scan for them is paid once per batch)."""
        flows = self._flows()
        victims = heapq.nsmallest(max(1, len(flows) // _EVICT_SHARE), flows, key=_last_ns)
        for f in victims:
            self._finish(f)
        self.stats.evicted += len(victims)

    def _sweep(self, now: int) -> None:
        """Finish flows whose close delay or DNS expiry passed by now; now and then also the
        idle ones.

        Packets never join a timed-out flow (run checks each flow's deadlines), so sweeping
        only decides how soon a finished record comes out and its memory is freed.
        """
        self._next_sweep = now + _SWEEP_NS
        closing = self._closing
        tables = self._tables
        while closing and closing[0].close_at <= now:
            f = closing.popleft()
            if f.close_at and tables[_TCP].get(f.key) is f:
                self._finish(f)
        dns = self._dns
        while dns and dns[0][0] <= now:
            f = dns.popleft()[1]
            if tables[_UDP].get(f.key) is f:
                if f.close_at <= now:
                    self._finish(f)
                else:
                    dns.append((f.close_at, f))  # active since: looked at again then
        if now >= self._next_idle_sweep:
            self._next_idle_sweep = now + min(self._idle) // _IDLE_SWEEPS
            idle = self._idle
            for f in [f for f in self._flows()
                      if f.conn.last_ns + idle[_KINDS[f.conn.proto]] <= now]:
                self.stats.idle_expired += 1
                self._finish(f)

    # -- per packet ---------------------------------------------------------------------------

    def _datagram(self, f: Flow, is_orig: bool, p: Packet, ts: int) -> None:
        """UDP and ICMP: counters; for UDP also Zeek's D/d history and each payload to L7."""
        conn = f.conn
        conn.last_ns = ts
        if is_orig:
            conn.orig_pkts += 1
            conn.orig_ip_bytes += p.ip_len
            conn.orig_bytes += p.payload_len
        else:
            conn.resp_pkts += 1
            conn.resp_ip_bytes += p.ip_len
            conn.resp_bytes += p.payload_len
        if conn.proto != "udp":
            return
        bit = _H_DATA if is_orig else _H_DATA << _RESP
        if not f.hist & bit:
            _letter(f, bit, "D" if is_orig else "d")
        if p.payload:
            if p.frag:
                self.stats.fragments += 1  # only the first fragment's part is here
            else:
                self._deliver(f, is_orig, p.payload, ts)
        if f.parser and f.parser.service == "dns":
            queued = f.close_at
            f.close_at = dns_expiry(conn.ts_ns, ts, self._dns_timeout)
            if not queued:
                self._dns.append((f.close_at, f))

    def _tcp(self, f: Flow, is_orig: bool, p: Packet, ts: int) -> None:
        """One TCP segment. The common case (no SYN/FIN/RST, both sides known, this side open)
        is handled here; everything else by _tcp_full, the whole of Zeek's per-segment logic."""
        conn = f.conn
        flags = p.tcp_flags
        if is_orig:
            conn.orig_pkts += 1
            conn.orig_ip_bytes += p.ip_len
            ep, peer = f.orig, f.resp
        else:
            conn.resp_pkts += 1
            conn.resp_ip_bytes += p.ip_len
            ep, peer = f.resp, f.orig
        if (flags & _CONTROL or ep.did_close or not INACTIVE < ep.state < CLOSED
                or peer.state == INACTIVE):
            self._tcp_full(f, is_orig, p, ts, ep, peer)
            return
        conn.last_ns = ts
        ln = p.payload_len
        last = ep.last
        rel = last + ((p.seq - ep.start - last + _HALF) & _M32) - _HALF
        if not p.window and peer.state != CLOSED:
            self._zero_window(f, ep, is_orig)
        bit = (_H_DATA if ln else _H_ACK if flags & ACK else 0) << (0 if is_orig else _RESP)
        if bit and not f.hist & bit:
            _letter(f, bit, _LETTERS[(2 if ln else 0) + (not is_orig)])
        if flags & ACK:
            pa = peer.ack
            rel_ack = pa + ((p.ack - peer.start - pa + _HALF) & _M32) - _HALF
            if rel_ack > pa and (p.ack or rel_ack - pa <= _TOO_LARGE):
                peer.ack = peer.last if rel_ack == peer.last else rel_ack  # one int, usually
            if rel_ack > 1:
                stream = peer.stream
                if rel_ack > (stream.next if stream is not None else peer.next):
                    self._acked(f, not is_orig, peer, rel_ack, ts)
        end = rel + ln
        if end > last:
            ep.last = end
        elif ln:
            _retransmitted(conn, ep, is_orig)
        if ln and rel >= 0 and p.payload:
            if p.frag:
                self.stats.fragments += 1  # the rest of the segment is missing: a gap
            else:
                self._segment(f, ep, is_orig, rel, p.payload, ts)

    def _tcp_full(self, f: Flow, is_orig: bool, p: Packet, ts: int, ep: TcpEndpoint,
                  peer: TcpEndpoint) -> None:
        """One TCP segment, as Zeek's TCPAnalyzer::DeliverPacket sees it."""
        conn = f.conn
        flags = p.tcp_flags
        ln = p.payload_len
        shift = 0 if is_orig else _RESP
        if not (ep.did_close and peer.did_close):
            conn.last_ns = ts
        seq = p.seq
        ctrl = flags & (SYN | FIN | RST)
        seg = ln + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if flags & RST:
            seg -= ln
        if ep.state == INACTIVE:
            if flags & SYN:
                ep.init_seq(seq, seg)
            else:
                ep.init_seq(seq - 1, 1)  # as though a SYN was seen: positions stay consistent
        elif flags & SYN:
            _init_on_syn(ep, seq, seg)
        last = ep.last
        rel = last + ((seq - ep.start - last + _HALF) & _M32) - _HALF
        if ctrl:
            if flags & FIN:
                ep.odd += ONE_FIN
            self._control_history(f, ep, flags, rel, ln, shift)
        if (not p.window and not flags & RST and peer.state != CLOSED
                and ep.state != RESET):
            self._zero_window(f, ep, is_orig)
        if not ctrl:
            bit = (_H_DATA if ln else _H_ACK if flags & ACK else 0) << shift
            if bit and not f.hist & bit:
                _letter(f, bit, _LETTERS[(2 if ln else 0) + (not is_orig)])
        rel_ack = 0
        if flags & ACK:
            if peer.state == INACTIVE:
                peer.init_seq(p.ack - 1, 0)
                rel_ack = 1
            else:
                pa = peer.ack
                rel_ack = pa + ((p.ack - peer.start - pa + _HALF) & _M32) - _HALF
                if rel_ack < 0:
                    rel_ack = 0
                elif not flags & RST and rel_ack > pa and (p.ack or rel_ack - pa <= _TOO_LARGE):
                    peer.ack = rel_ack
        end = rel + seg
        delta = end - last
        if ctrl & (SYN | RST) and (delta > _TOO_LARGE or delta < -_TOO_LARGE):
            pass
        elif flags & FIN and last == 1:
            ep.last = end
        elif ep.state == RESET:
            pass
        elif delta > 0:
            ep.last = end
        elif ln:
            _retransmitted(conn, ep, is_orig)
        if ctrl or ep.state == INACTIVE:
            do_close = _update_state(ep, peer, is_orig, flags, ln)
        else:
            do_close = False
        if rel_ack > 1 and not flags & RST:
            self._acked(f, not is_orig, peer, rel_ack, ts)
        if ln and not flags & RST and rel >= 0 and p.payload:
            if p.frag:
                self.stats.fragments += 1  # the rest of the segment is missing: a gap
            else:
                self._segment(f, ep, is_orig, rel + 1 if flags & SYN else rel, p.payload, ts)
        if do_close and not ep.did_close:
            ep.did_close = True
            if ep.state == RESET or peer.did_close or peer.state == INACTIVE:
                f.close_at = conn.last_ns + self._close_delay
                self._closing.append(f)

    def _control_history(self, f: Flow, ep: TcpEndpoint, flags: int, rel: int, ln: int,
                         shift: int) -> None:
        """History letters of a segment with SYN, FIN or RST (Zeek's update_history)."""
        conn = f.conn
        upper = shift == 0
        bits = bool(flags & SYN) + bool(flags & FIN) + bool(flags & RST)
        if bits > 1:
            bit, letter = ((_H_FINRST, "I") if flags & FIN and flags & RST else (_H_MULTI, "Q"))
            if not f.hist & bit << shift:
                _mark(f, bit << shift)
                conn.history = _history(conn.history + (letter if upper else letter.lower()))
            return
        if flags & SYN:
            letter, at = ("H" if flags & ACK else "S"), rel
            seen, ep.syn_at = ep.syn_at, rel
            bit = _H_SYN
        elif flags & FIN:
            letter, at = "F", rel + ln
            seen, ep.fin_at = ep.fin_at, at
            bit = _H_FIN
        else:
            letter, at = "R", rel
            seen, ep.rst_at = ep.rst_at, rel
            bit = _H_RST
        if not f.hist & bit << shift:
            _mark(f, bit << shift)
        elif at == seen:
            return
        conn.history = _history(conn.history + (letter if upper else letter.lower()))

    def _zero_window(self, f: Flow, ep: TcpEndpoint, is_orig: bool) -> None:
        """A zero window advertised: Zeek's 'W' letter, logged at 1, 10, 100, ... of them."""
        ep.odd += ONE_ZERO_WINDOW
        if odd_count(ep.odd, ONE_ZERO_WINDOW) in _POW10:
            conn = f.conn
            conn.history = _history(conn.history + ("W" if is_orig else "w"))

    def _acked(self, f: Flow, data_from_orig: bool, sender: TcpEndpoint, upto: int,
               ts: int) -> None:
        """An acknowledgement: data before it that never passed by is a content gap."""
        stream = sender.stream
        if odd_count(sender.odd, ONE_FIN) and upto > sender.fin_at:
            upto = sender.fin_at  # the FIN's slot is no payload byte
        if stream is None:
            if upto <= sender.next:
                return
            stream = sender.stream = Stream(self._limits, sender.next)
        elif upto <= stream.next:
            return
        missed = stream.missed
        data = stream.ack(upto)
        if stream.missed != missed:
            self._gap(f, data_from_orig, stream, missed)
        if data:
            self._deliver(f, data_from_orig, data, ts)

    def _segment(self, f: Flow, ep: TcpEndpoint, from_orig: bool, rel: int, payload: bytes,
                 ts: int) -> None:
        """Payload at relative position rel: deliver it when it is next (the common case),
        else reassemble and deliver what became in order."""
        stream = ep.stream
        if stream is None:
            nxt = ep.next
            stop = rel + len(payload)
            if rel == nxt:
                ep.next = ep.last if stop == ep.last else stop  # one int for both, usually
                end = self._limits.end
                if stop > end:
                    if rel >= end:
                        return
                    payload = payload[:end - rel]
                self._deliver(f, from_orig, payload, ts)
                return
            if stop <= nxt:
                return  # a retransmission of what was delivered
            stream = ep.stream = Stream(self._limits, nxt)
        missed = stream.missed
        data = stream.add(rel, payload)
        if stream.missed != missed:
            self._gap(f, from_orig, stream, missed)
        if data:
            self._deliver(f, from_orig, data, ts)

    def _gap(self, f: Flow, from_orig: bool, stream: Stream, missed_before: int) -> None:
        """A content gap: Zeek's missed_bytes, and its logarithmic 'g' letter."""
        conn = f.conn
        conn.missed_bytes += stream.missed - missed_before
        if stream.gaps in _POW10:
            conn.history = _history(conn.history + ("G" if from_orig else "g"))

    def _deliver(self, f: Flow, from_orig: bool, data: bytes, ts: int) -> None:
        """In-order payload to listeners and the connection's L7 parser (found on first use)."""
        conn = f.conn
        for hook in self._on_data:
            hook(conn, from_orig, data, ts)
        parser = f.parser
        if parser is None:
            if not self.config.l7:
                f.parser = False
                return
            parser = f.parser = parser_for(conn.proto, conn.resp_p, from_orig, data) or False
        if parser:
            events = parser.feed(from_orig, data, ts)
            if events:
                self._events(f, events)

    def _events(self, f: Flow, events: list) -> None:
        """L7 events: the first one confirms the service (as Zeek's DPD does). Once listeners
        saw an HTTP message its body goes: listeners may keep an event for a while (a request
        until its response) and the logs need only the body's length. The engine keeps none."""
        conn = f.conn
        if not conn.service:
            conn.service = f.parser.service
        for hook in self._on_event:
            for event in events:
                hook(conn, event)
        for event in events:
            if type(event) in _WITH_BODY and event.body:
                event.body = b""


def _retransmitted(conn: Conn, ep: TcpEndpoint, is_orig: bool) -> None:
    """A segment with payload sent before: Zeek's 'T' letter, logged at 1, 10, 100, ... of them."""
    ep.odd += ONE_RETRANSMIT
    if odd_count(ep.odd, ONE_RETRANSMIT) in _POW10:
        conn.history = _history(conn.history + ("T" if is_orig else "t"))


def _letter(f: Flow, bit: int, letter: str) -> None:
    """A history letter whose bit was not yet set: marked, and added to the history."""
    _mark(f, bit)
    f.conn.history = _history(f.conn.history + letter)


def _mark(f: Flow, bit: int) -> None:
    """Record a history letter as seen. The flag ints are shared between flows (the few
    combinations that occur), so the many open flows hold no int of their own for them."""
    hist = f.hist | bit
    f.hist = _HIST_BITS.setdefault(hist, hist)


def _last_ns(f: Flow) -> int:
    """Sort key of eviction: the flow's latest activity."""
    return f.conn.last_ns


def _hooks(listeners: list[FlowListener], name: str) -> list:
    """Bound methods of the listeners that implement this hook (the rest are never called)."""
    return [getattr(listener, name) for listener in listeners if overridden(listener, name)]


def _icmp_key(p: Packet) -> bytes:
    """ICMP flows: (type, counterpart type) for request/reply pairs, else (type, code), in the
    places of the ports."""
    table = ICMP6_COUNTERPART if p.proto == PROTO_ICMP6 else ICMP4_COUNTERPART
    return packet_key(p.src, p.dst, p.sport, table.get(p.sport, p.dport))


def _proto(f: Flow) -> int:
    """The IP protocol number of a flow's packets."""
    proto = f.conn.proto
    if proto != "icmp":
        return PROTO_TCP if proto == "tcp" else PROTO_UDP
    return PROTO_ICMP if len(f.key) == 12 else PROTO_ICMP6


def _reused(f: Flow, is_orig: bool, p: Packet) -> bool:
    """A new SYN (other sequence number than the side's first) starts a new connection."""
    if f.orig is None:
        return False
    ep = f.orig if is_orig else f.resp
    return ep.state != INACTIVE and p.seq != ep.start


def _init_on_syn(ep: TcpEndpoint, seq: int, seg: int) -> None:
    """A SYN from a side already seen: a fresh start when its sequence number moved (Zeek's
    init_endpoint for SYN_SENT, ESTABLISHED, PARTIAL and a RST-initialised side)."""
    state = ep.state
    if ((state in (SYN_SENT, SYN_ACK_SENT, ESTABLISHED, PARTIAL) and seq != ep.start)
            or (state == RESET and ep.prev == INACTIVE)):
        ep.init_seq(seq, seg)


def _set(ep: TcpEndpoint, state: int) -> None:
    """Zeek's SetState: the previous state is kept (RSTOS0 and FIN-then-RST need it)."""
    ep.prev = ep.state
    ep.state = state


def _update_state(ep: TcpEndpoint, peer: TcpEndpoint, is_orig: bool, flags: int,
                  ln: int) -> bool:
    """Zeek's UpdateStateMachine for one segment; True when it closes this side."""
    state = ep.state
    syn, fin, rst, ack = flags & SYN, flags & FIN, flags & RST, flags & ACK
    do_close = False
    if state == INACTIVE:
        if syn:
            if is_orig:
                _set(ep, SYN_ACK_SENT if ack else SYN_SENT)
            else:
                if peer.state == SYN_SENT:
                    _set(peer, ESTABLISHED)
                _set(ep, ESTABLISHED)
        if fin:
            _set(ep, CLOSED)
            do_close = True
        if rst:
            _set(ep, RESET)
            do_close = True
        if ep.state == INACTIVE:
            if not is_orig and ln == 0 and peer.state == SYN_SENT:
                pass  # an ACK of the SYN before the SYN-ACK: not a partial connection
            elif ack and peer.state == ESTABLISHED:
                _set(ep, ESTABLISHED)  # the SYN was missed, the SYN-ACK seen
            else:
                _set(ep, PARTIAL)
    elif state in (SYN_SENT, SYN_ACK_SENT):
        if fin:
            _set(ep, CLOSED)
            do_close = True
        if rst:
            _set(ep, RESET)
            do_close = True
    elif state in (ESTABLISHED, PARTIAL):
        if syn and state == PARTIAL and peer.state == INACTIVE and not ack:
            _set(ep, SYN_SENT)
        if fin and not rst:
            _set(ep, CLOSED)
            if peer.state == RESET and peer.prev == CLOSED:
                _set(peer, CLOSED)  # a FIN then a RST from the peer: a normal close after all
            do_close = True
        if rst:
            _set(ep, RESET)
            do_close = True
    elif state == CLOSED and rst and peer.state != CLOSED:
        _set(ep, RESET)
        do_close = not ep.did_close
    return do_close
