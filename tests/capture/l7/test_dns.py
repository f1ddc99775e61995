"""DNS parser: datagrams and TCP streams in, DnsMessage events out (scapy builds the messages)."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX

from kubectl_netmon.capture.l7.dns import DnsParser, looks_like_dns, parse_message
from kubectl_netmon.capture.l7.events import DnsMessage
from tests.capture.l7.samples import QUERY, answers_message

CASES = {
    "query": (QUERY, DnsMessage(ts_ns=1, trans_id=0x1234, is_response=False,
                                query="www.example.com", qtype=28)),
    "answers of every summarised type, with TTLs": (
        answers_message(DNSRR(rrname="q.example", type="CNAME", ttl=1, rdata="c.example"),
                        DNSRR(rrname="c.example", type="A", ttl=2, rdata="192.0.2.7"),
                        DNSRR(rrname="c.example", type="AAAA", ttl=3, rdata="2001:db8::7"),
                        DNSRR(rrname="c.example", type="NS", ttl=4, rdata="ns.example"),
                        DNSRR(rrname="7.2.0.192.in-addr.arpa", type="PTR", ttl=5,
                              rdata="p.example"),
                        DNSRRMX(rrname="c.example", ttl=6, preference=10, exchange="mx.example"),
                        DNSRR(rrname="c.example", type="TXT", ttl=7, rdata=["v=1", "k=x"])),
        DnsMessage(ts_ns=1, trans_id=9, is_response=True, query="q.example", qtype=255,
                   answers=("c.example", "192.0.2.7", "2001:db8::7", "ns.example", "p.example",
                            "mx.example", "TXT 3 v=1 TXT 3 k=x"),
                   ttls=(1, 2, 3, 4, 5, 6, 7))),
    "compressed names": (
        bytes(DNS(id=9, qr=1, qd=DNSQR(qname="q.example"),
                  an=DNSRR(rrname="q.example", type="CNAME", rdata="w.q.example")).compress()),
        DnsMessage(ts_ns=1, trans_id=9, is_response=True, query="q.example", qtype=1,
                   answers=("w.q.example",), ttls=(0,))),
    "rcode of an error response": (
        bytes(DNS(id=5, qr=1, rcode=3, qd=DNSQR(qname="nx.example"))),
        DnsMessage(ts_ns=1, trans_id=5, is_response=True, query="nx.example", qtype=1, rcode=3)),
    "exfiltrated secret with non-printable bytes kept": (
        bytes(DNS(id=1, qd=DNSQR(qname=b"s3cr\x1bt\x00.attacker.example"))),
        DnsMessage(ts_ns=1, trans_id=1, is_response=False, query="s3cr\x1bt\x00.attacker.example",
                   qtype=1)),
    "unsummarised record types left out": (
        answers_message(DNSRR(rrname="q.example", type="NULL", ttl=9, rdata=b"\x00" * 7),
                        DNSRR(rrname="q.example", type="A", ttl=8, rdata="192.0.2.8")),
        DnsMessage(ts_ns=1, trans_id=9, is_response=True, query="q.example", qtype=255,
                   answers=("192.0.2.8",), ttls=(8,))),
}


@pytest.mark.parametrize("datagram, expected", CASES.values(), ids=CASES.keys())
def test_udp_datagram(datagram, expected):
    assert DnsParser(tcp=False).feed(True, datagram, 1) == [expected]


HEADER = struct.pack("!HHHHHH", 1, 0x8180, 1, 1, 0, 0)
MALFORMED = {
    "pointer to itself": HEADER + b"\xc0\x0c\x00\x01\x00\x01",
    "pointer back to the start of its own name": HEADER + b"\x01a\xc0\x0c\x00\x01\x00\x01",
    "forward pointer": HEADER + b"\xc0\x20\x00\x01\x00\x01" + b"\x00" * 32,
    "label past the end": HEADER + b"\x3fabc",
    "name over 255 bytes": HEADER + b"\x3f" + b"a" * 63 + (b"\x3f" + b"a" * 63) * 4 + b"\x00",
    "header only": HEADER[:11],
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_question_gives_no_event(data):
    assert parse_message(data, 1) is None


def test_malformed_answer_keeps_the_question_and_earlieranswers_message():
    good = answers_message(DNSRR(rrname="q.example", type="A", ttl=1, rdata="192.0.2.1"),
                           DNSRR(rrname="q.example", type="A", ttl=1, rdata="192.0.2.2"))
    event = parse_message(good[:-3], 1)
    assert (event.query, event.answers) == ("q.example", ("192.0.2.1",))


def test_tcp_messages_with_length_prefix_split_at_every_byte_boundary():
    stream = b"".join(struct.pack("!H", len(m)) + m for m in (QUERY, QUERY))
    for cut in range(1, len(stream)):
        parser = DnsParser(tcp=True)
        events = parser.feed(True, stream[:cut], 1) + parser.feed(True, stream[cut:], 1)
        assert [e.query for e in events] == ["www.example.com"] * 2, cut


def test_tcp_garbage_stops_that_direction():
    parser = DnsParser(tcp=True)
    assert parser.feed(True, b"\x00\x03abc" + struct.pack("!H", len(QUERY)) + QUERY, 1) == []
    assert parser.feed(False, struct.pack("!H", len(QUERY)) + QUERY, 2)[0].trans_id == 0x1234


@pytest.mark.parametrize("data, expected", [
    (QUERY, True),
    (CASES["answers of every summarised type, with TTLs"][0], True),
    (QUERY + b"trailing", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    (bytes(12), False),
], ids=["query", "response", "trailing bytes", "http", "zeros"])
def test_sniffing_dns_on_any_port(data, expected):
    assert looks_like_dns(data) is expected
