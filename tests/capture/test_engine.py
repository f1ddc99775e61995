"""The engine on hand-built packet sequences: Zeek's conn.log fields for each TCP story."""

from __future__ import annotations

import socket

import pytest

from kubectl_netmon.capture.engine import Engine, FlowConfig
from kubectl_netmon.capture.listener import FlowListener as _Listener
from kubectl_netmon.capture.model import ACK, FIN, PSH, RST, SYN, Packet, packet_key

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

T0 = 1_700_000_000 * 10**9
MS = 10**6
CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


class Talk:
    """A TCP conversation whose sequence and acknowledgement numbers keep themselves right."""

    def __init__(self, cport: int = 40000, sport: int = 80, client: str = CLIENT,
                 server: str = SERVER) -> None:
        self.ends = {True: (socket.inet_aton(client), cport), False: (socket.inet_aton(server),
                                                                      sport)}
        self.next_seq = {True: 1000, False: 900000}
        self.ts = T0

    def __call__(self, from_client: bool, flags: int, data: bytes = b"", seq: int | None = None,
                 after_ms: float = 1, window: int = 65535) -> Packet:
        self.ts += int(after_ms * MS)
        (src, sp), (dst, dp) = self.ends[from_client], self.ends[not from_client]
        if seq is None:
            seq = self.next_seq[from_client]
        end = seq + len(data) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        self.next_seq[from_client] = max(self.next_seq[from_client], end)
        ack = self.next_seq[not from_client] if flags & ACK else 0
        return Packet(self.ts, 0, packet_key(src, dst, sp, dp), 6, sp, dp, 40 + len(data),
                      len(data), data, flags, seq, ack, window)

    def handshake(self) -> list[Packet]:
        return [self(True, SYN), self(False, SYN | ACK), self(True, ACK)]

    def close(self) -> list[Packet]:
        return [self(True, FIN | ACK), self(False, FIN | ACK), self(True, ACK)]


def udp(ts: int, src: str, sport: int, dst: str, dport: int, data: bytes) -> Packet:
    return Packet(ts, 0, packet_key(socket.inet_aton(src), socket.inet_aton(dst), sport, dport),
                  17, sport, dport, 28 + len(data), len(data), data)


def conns(packets, config: FlowConfig | None = None, listeners=()) -> list:
    return list(Engine(listeners, config or FlowConfig(uid_seed=1)).run(packets))


def one(packets, config: FlowConfig | None = None):
    (conn,) = conns(packets, config)
    return conn


class Events(_Listener):
    """Keeps the L7 events the engine hands on."""

    def __init__(self):
        self.seen = []

    def on_event(self, conn, event):
        self.seen.append(event)


REQUEST = b"GET /x HTTP/1.1\r\nHost: svc\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def http_exchange() -> list[Packet]:
    t = Talk()
    return [*t.handshake(), t(True, PSH | ACK, REQUEST), t(False, PSH | ACK, RESPONSE),
            *t.close()]


def test_normal_close_is_sf_with_zeek_history():
    conn = one(http_exchange())
    assert (conn.conn_state, conn.history) == ("SF", "ShADdFf")


def test_orig_is_the_syn_sender():
    conn = one(http_exchange())
    assert (conn.orig_h, conn.orig_p, conn.resp_h, conn.resp_p, conn.proto) == (
        CLIENT, 40000, SERVER, 80, "tcp")


def test_payload_bytes_come_from_sequence_numbers():
    conn = one(http_exchange())
    assert (conn.orig_bytes, conn.resp_bytes) == (len(REQUEST), len(RESPONSE))


def test_packets_and_ip_bytes_per_direction():
    conn = one(http_exchange())
    assert (conn.orig_pkts, conn.resp_pkts) == (5, 3)
    assert (conn.orig_ip_bytes, conn.resp_ip_bytes) == (5 * 40 + len(REQUEST),
                                                        3 * 40 + len(RESPONSE))


def test_duration_leaves_out_the_final_ack():
    packets = http_exchange()
    conn = one(packets)
    assert conn.duration_ns == packets[-2].ts_ns - packets[0].ts_ns


def test_http_events_and_service():
    events = Events()
    (conn,) = conns(http_exchange(), listeners=[events])
    assert conn.service == "http"
    assert [type(e).__name__ for e in events.seen] == ["HttpRequest", "HttpResponse"]
    assert events.seen[0].uri == "/x"


def test_rejected_attempt_is_rej():
    t = Talk()
    conn = one([t(True, SYN), t(False, RST | ACK)])
    assert (conn.conn_state, conn.history) == ("REJ", "Sr")


def test_unanswered_syn_is_s0_and_its_retransmission_adds_no_letter():
    t = Talk()
    syn = t(True, SYN)
    again = t(True, SYN, seq=syn.seq, after_ms=1000)
    conn = one([syn, again])
    assert (conn.conn_state, conn.history, conn.orig_pkts) == ("S0", "S", 2)


def test_syn_then_originator_reset_is_rstos0():
    t = Talk()
    conn = one([t(True, SYN), t(True, RST)])
    assert (conn.conn_state, conn.history) == ("RSTOS0", "SR")


def test_established_then_originator_reset_is_rsto():
    t = Talk()
    conn = one([*t.handshake(), t(True, PSH | ACK, b"hi"), t(True, RST | ACK)])
    assert (conn.conn_state, conn.history) == ("RSTO", "ShADR")


def test_established_then_responder_reset_is_rstr():
    t = Talk()
    conn = one([*t.handshake(), t(False, RST | ACK)])
    assert conn.conn_state == "RSTR"


def test_close_by_originator_only_is_s2():
    t = Talk()
    conn = one([*t.handshake(), t(True, FIN | ACK)])
    assert conn.conn_state == "S2"


def test_syn_then_fin_without_answer_is_sh():
    t = Talk()
    conn = one([t(True, SYN), t(True, FIN)])
    assert conn.conn_state == "SH"


def test_midstream_flow_takes_the_server_port_as_responder():
    t = Talk()
    t.next_seq = {True: 5000, False: 7000}
    conn = one([t(False, PSH | ACK, b"response"), t(True, ACK)])
    assert (conn.orig_p, conn.resp_p) == (40000, 80)
    assert (conn.conn_state, conn.history) == ("OTH", "^dA")


def test_flow_starting_with_syn_ack_is_flipped_to_the_client():
    t = Talk()
    t.next_seq[True] += 1  # the SYN was missed
    conn = one([t(False, SYN | ACK), t(True, ACK), t(True, PSH | ACK, b"x")])
    assert (conn.orig_p, conn.resp_p, conn.history) == (40000, 80, "^hAD")


def test_retransmission_counts_packets_not_bytes_and_adds_t():
    t = Talk()
    hs = t.handshake()
    data = t(True, PSH | ACK, b"hello")
    conn = one([*hs, data, t(True, PSH | ACK, b"hello", seq=data.seq), *t.close()])
    assert (conn.orig_bytes, conn.orig_pkts) == (5, 6)
    assert conn.history == "ShADTFf"


def test_zero_window_adds_w_for_the_side_that_advertised_it():
    t = Talk()
    conn = one([*t.handshake(), t(True, PSH | ACK, REQUEST), t(False, ACK, window=0),
                t(True, ACK, window=0), *t.close()])
    assert conn.history == "ShADwaWFf"


def test_repeated_zero_windows_add_w_again_at_10_100_like_zeek():
    t = Talk()
    hs = t.handshake()
    zero = [t(True, ACK, window=0) for _ in range(10)]
    assert (one([*hs, *zero[:9]]).history, one([*hs, *zero]).history) == ("ShAW", "ShAWW")


def test_a_reset_with_a_zero_window_adds_no_w():
    t = Talk()
    conn = one([*t.handshake(), t(False, RST | ACK, window=0)])
    assert conn.history == "ShAr"


def test_listeners_get_in_order_data_once():
    got = []

    class Data(_Listener):
        def on_data(self, conn, from_orig, data, ts_ns):
            got.append((from_orig, data))

    t = Talk()
    hs = t.handshake()
    first = t(True, PSH | ACK, b"abc")
    second = t(True, PSH | ACK, b"def")
    conns([*hs, second, first, t(True, PSH | ACK, b"abc", seq=first.seq), *t.close()],
          listeners=[Data()])
    assert got == [(True, b"abcdef")]


def test_acknowledged_but_unseen_data_is_missed_bytes():
    t = Talk()
    hs = t.handshake()
    lost = t(True, PSH | ACK, b"lost!")
    conn = one([*hs, t(True, PSH | ACK, b"seen"), t(False, ACK), *t.close()])
    assert lost.seq  # built but never delivered to the engine
    assert (conn.missed_bytes, conn.history) == (5, "ShADaGFf")  # G: the originator's data


def test_idle_udp_flow_ends_and_a_new_one_starts():
    a = udp(T0, CLIENT, 50000, SERVER, 9999, b"x")
    b = udp(T0 + 61 * 10**9, CLIENT, 50000, SERVER, 9999, b"y")
    first, second = conns([a, b])
    assert (first.orig_pkts, second.orig_pkts) == (1, 1)
    assert first.uid != second.uid


def test_udp_request_and_answer_is_sf_with_dd():
    conn = one([udp(T0, CLIENT, 50000, SERVER, 9999, b"ping"),
                udp(T0 + MS, SERVER, 9999, CLIENT, 50000, b"pong")])
    assert (conn.conn_state, conn.history, conn.orig_bytes, conn.resp_bytes) == (
        "SF", "Dd", 4, 4)


def test_udp_reply_seen_first_is_flipped_by_its_server_port():
    conn = one([udp(T0, SERVER, 53, CLIENT, 50000, b"answer")])
    assert (conn.orig_h, conn.resp_p, conn.conn_state, conn.history) == (
        CLIENT, 53, "SHR", "^d")


def test_icmp_echo_request_and_reply_share_one_flow():
    a, b = socket.inet_aton(CLIENT), socket.inet_aton(SERVER)
    conn = one([Packet(T0, 0, packet_key(a, b, 8, 0), 1, 8, 0, 84, 56, b"p" * 56),
                Packet(T0 + MS, 0, packet_key(b, a, 0, 0), 1, 0, 0, 84, 56, b"p" * 56)])
    assert (conn.proto, conn.orig_p, conn.resp_p, conn.orig_pkts, conn.resp_pkts) == (
        "icmp", 8, 0, 1, 1)


def test_packet_after_close_delay_starts_a_new_connection():
    t = Talk()
    packets = [*t.handshake(), *t.close()]
    late = t(True, ACK, after_ms=6000)
    first, second = conns([*packets, late])
    assert (first.conn_state, first.orig_pkts) == ("SF", 4)
    assert (second.conn_state, second.history) == ("OTH", "A")


def test_packet_within_close_delay_joins_the_closed_connection():
    t = Talk()
    conn = one([*t.handshake(), *t.close(), t(True, ACK, after_ms=4000)])
    assert (conn.conn_state, conn.orig_pkts) == ("SF", 5)


def test_new_syn_on_a_closed_port_pair_is_a_new_connection():
    t = Talk()
    first = [*t.handshake(), *t.close()]
    t.next_seq[True] += 100000
    first_conn, second_conn = conns([*first, t(True, SYN)])
    assert (first_conn.conn_state, second_conn.conn_state) == ("SF", "S0")


def test_active_timeout_splits_a_long_connection():
    t = Talk()
    packets = [*t.handshake(), t(True, PSH | ACK, b"early"), t(False, ACK),
               t(True, PSH | ACK, b"late!!", after_ms=2000), *t.close()]
    first, second = conns(packets, FlowConfig(active_timeout=1.0))
    assert (first.orig_bytes, second.orig_bytes) == (5, 6)
    assert first.uid != second.uid
    assert second.ts_ns == packets[5].ts_ns


def test_full_table_evicts_the_least_recent_flow_and_warns():
    packets = [udp(T0 + i * MS, CLIENT, 50000 + i, SERVER, 9999, b"x") for i in range(3)]
    engine = Engine(config=FlowConfig(max_flows=2))
    out = list(engine.run(packets))
    assert [c.orig_p for c in out] == [50000, 50001, 50002]
    assert engine.stats.evicted == 1
    assert engine.stats.warnings() == [
        "flow table full: 1 oldest flows evicted early; raise --max-flows"]


def test_conn_end_comes_before_the_yield_and_finish_last():
    calls = []

    class Ends(_Listener):
        def on_conn_end(self, conn):
            calls.append(("end", conn.uid))

        def on_finish(self):
            calls.append(("finish", ""))

    for conn in Engine([Ends()], FlowConfig(uid_seed=1)).run(http_exchange()):
        calls.append(("yield", conn.uid))
    uid = calls[0][1]
    assert calls == [("end", uid), ("yield", uid), ("finish", "")]


def test_uids_are_zeek_shaped_and_reproducible_per_seed():
    a = one(http_exchange(), FlowConfig(uid_seed=7)).uid
    b = one(http_exchange(), FlowConfig(uid_seed=7)).uid
    c = one(http_exchange(), FlowConfig(uid_seed=8)).uid
    assert a == b != c
    assert a[0] == "C" and len(a) == 18 and a[1:].isalnum()


def test_expire_finishes_idle_flows_while_the_source_waits():
    engine = Engine(config=FlowConfig())
    expired = []

    def live_source():
        yield udp(T0, CLIENT, 50000, SERVER, 9999, b"x")
        expired.extend(engine.expire(T0 + 61 * 10**9))  # no packets for a minute

    assert list(engine.run(live_source())) == []
    assert [c.orig_p for c in expired] == [50000]


def test_active_lists_live_connections_with_current_counts():
    engine = Engine(config=FlowConfig())
    seen = []

    def source():
        yield udp(T0, CLIENT, 50000, SERVER, 9999, b"x")
        seen.extend((c.orig_p, c.orig_pkts, c.conn_state) for c in engine.active())

    list(engine.run(source()))
    assert seen == [(50000, 1, "S0")]


DNS_QUERY = bytes.fromhex("1234010000010000000000000373766303636f6d0000010001")
DNS_ANSWER = bytes.fromhex("1234818000010001000000000373766303636f6d0000010001"
                           "c00c000100010000001e00040a000005")


def test_dns_exchange_is_service_dns_with_both_messages():
    events = Events()
    (conn,) = conns([udp(T0, CLIENT, 50000, SERVER, 53, DNS_QUERY),
                     udp(T0 + MS, SERVER, 53, CLIENT, 50000, DNS_ANSWER)], listeners=[events])
    assert conn.service == "dns"
    assert [(e.query, e.is_response) for e in events.seen] == [
        ("svc.com", False), ("svc.com", True)]


def test_first_fragment_counts_in_its_flow_but_is_not_parsed():
    frag = udp(T0, CLIENT, 50000, SERVER, 53, DNS_QUERY[:8])
    frag.frag = True
    events = Events()
    engine = Engine([events], FlowConfig())
    (conn,) = engine.run([frag])
    assert (conn.orig_pkts, conn.service, events.seen) == (1, "", [])
    assert engine.stats.fragments == 1


def test_dns_connection_expires_as_zeek_s_dns_session_timeout_says():
    # Zeek's DNS analyzer looks every 10 s from the start and removes the connection once it
    # idled 9 s: the query at T0 and answer at +1 s end at the check at +10 s.
    query_again = udp(T0 + 10 * 10**9, CLIENT, 50000, SERVER, 53, DNS_QUERY)
    first, second = conns([udp(T0, CLIENT, 50000, SERVER, 53, DNS_QUERY),
                           udp(T0 + 10**9, SERVER, 53, CLIENT, 50000, DNS_ANSWER), query_again])
    assert (first.orig_pkts, first.resp_pkts, second.orig_pkts) == (1, 1, 1)


def test_dns_connection_active_at_a_check_lives_to_the_next_one():
    # Idle only 8 s at the check at +10 s: the query at +12 s still belongs to it.
    conn = one([udp(T0, CLIENT, 50000, SERVER, 53, DNS_QUERY),
                udp(T0 + 2 * 10**9, SERVER, 53, CLIENT, 50000, DNS_ANSWER),
                udp(T0 + 12 * 10**9, CLIENT, 50000, SERVER, 53, DNS_QUERY)])
    assert (conn.orig_pkts, conn.resp_pkts) == (2, 1)


def test_expired_dns_connection_is_emitted_while_the_capture_goes_on():
    other = [udp(T0, CLIENT, 40000, SERVER, 9999, b"x"),
             udp(T0 + 15 * 10**9, CLIENT, 40000, SERVER, 9999, b"y")]
    dns = udp(T0 + MS, CLIENT, 50000, SERVER, 53, DNS_QUERY)
    assert [c.resp_p for c in conns([other[0], dns, other[1]])] == [53, 9999]
