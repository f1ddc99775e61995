"""DNS answers in `analyze -o json` dns records agree with tshark's dissector, record by record
and in order, with their TTLs, on a capture of typical resolver replies over UDP and TCP.

The shared captures hold DNS queries only (log4j-dns_exfil.pcap: unanswered TXT queries), so the
replies are written with scapy. tshark's `-e dns.a` lists addresses of every section; Zeek's
answers are the answer section's only, so the oracle reads that section from tshark's PDML.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRROPT, DNSRRSOA, DNSRRSRV
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from tests.cli.test_analyze import analyze, records

CLIENT, RESOLVER = "10.244.1.23", "10.96.0.10"
T0 = 1_700_000_000.0
# tshark's fields holding the data of the answer types logged as is (A, AAAA, CNAME, NS, PTR, MX)
RDATA_FIELDS = ("dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.ptr.domain_name",
                "dns.mx.mail_exchange")


def reply(trans_id: int, qname: str, qtype: str, answers: list, rcode: int = 0,
          authority: list | None = None, additional: list | None = None) -> tuple:
    """A query and its reply, as DNS messages; the reply's names compressed, as servers do."""
    question = DNSQR(qname=qname, qtype=qtype)
    return (DNS(id=trans_id, rd=1, qd=question),
            DNS(id=trans_id, qr=1, rd=1, ra=1, rcode=rcode, qd=question, an=answers,
                ns=authority or [], ar=additional or []).compress())


EXCHANGES = [
    # a Service's name through a CNAME to two addresses, with referral sections around it
    reply(0x1001, "www.shop.example", "A",
          [DNSRR(rrname="www.shop.example", type="CNAME", rdata="web.shop.example", ttl=30),
           DNSRR(rrname="web.shop.example", rdata="10.96.12.7", ttl=60),
           DNSRR(rrname="web.shop.example", rdata="10.96.12.8", ttl=60)],
          authority=[DNSRR(rrname="shop.example", type="NS", rdata="ns1.shop.example")],
          additional=[DNSRR(rrname="ns1.shop.example", rdata="10.9.9.9")]),
    reply(0x1002, "web.shop.example", "AAAA",
          [DNSRR(rrname="web.shop.example", type="AAAA", rdata="fd00:96::7", ttl=5),
           DNSRR(rrname="web.shop.example", type="AAAA", rdata="2001:db8::1:0:0:1", ttl=5)],
          additional=[DNSRROPT(rclass=1232)]),  # EDNS
    reply(0x1003, "nope.shop.example", "A", [], rcode=3),
    reply(0x1004, "7.12.96.10.in-addr.arpa", "PTR",
          [DNSRR(rrname="7.12.96.10.in-addr.arpa", type="PTR",
                 rdata="web.shop.svc.cluster.local", ttl=30)]),
    reply(0x1005, "shop.example", "MX",
          [DNSRRMX(rrname="shop.example", preference=10, exchange="mail.shop.example", ttl=300)]),
    reply(0x1006, "shop.example", "NS",
          [DNSRR(rrname="shop.example", type="NS", rdata="ns1.shop.example", ttl=3600),
           DNSRR(rrname="shop.example", type="NS", rdata="ns2.shop.example", ttl=3600)]),
]
OVER_TCP = [  # a reply too big for UDP, asked again over TCP: one connection, two exchanges
    reply(0x2001, "big.shop.example", "A",
          [DNSRR(rrname="big.shop.example", rdata=f"10.96.13.{i}", ttl=10) for i in range(1, 40)]),
    reply(0x2002, "big.shop.example", "AAAA",
          [DNSRR(rrname="big.shop.example", type="AAAA", rdata=f"fd00:96::13:{i}", ttl=10)
           for i in range(1, 40)]),
]


def udp_exchanges(exchanges: list) -> list:
    pkts = []
    for i, (query, answer) in enumerate(exchanges):
        port = 41000 + i
        pkts += [Ether() / IP(src=CLIENT, dst=RESOLVER) / UDP(sport=port, dport=53) / query,
                 Ether() / IP(src=RESOLVER, dst=CLIENT) / UDP(sport=53, dport=port) / answer]
    return pkts


def tcp_exchanges(exchanges: list) -> list:
    """One TCP connection carrying each message with its 2-byte length prefix."""
    c, s = (CLIENT, 42000), (RESOLVER, 53)
    seq = {c: 1001, s: 5001}

    def seg(src, dst, flags, data=b""):
        p = Ether() / IP(src=src[0], dst=dst[0]) / TCP(
            sport=src[1], dport=dst[1], flags=flags, seq=seq[src], ack=seq[dst]) / data
        seq[src] += len(data) + ("F" in flags)
        return p

    pkts = [Ether() / IP(src=CLIENT, dst=RESOLVER) / TCP(sport=c[1], dport=53, flags="S",
                                                          seq=1000),
            Ether() / IP(src=RESOLVER, dst=CLIENT) / TCP(sport=53, dport=c[1], flags="SA",
                                                          seq=5000, ack=1001),
            seg(c, s, "A")]
    for query, answer in exchanges:
        for src, dst, msg in ((c, s, bytes(query)), (s, c, bytes(answer))):
            pkts.append(seg(src, dst, "PA", len(msg).to_bytes(2, "big") + msg))
    return pkts + [seg(c, s, "FA"), seg(s, c, "FA"), seg(c, s, "A")]


def capture(path: Path, udp: list, tcp: list) -> Path:
    pkts = udp_exchanges(udp) + (tcp_exchanges(tcp) if tcp else [])
    for i, p in enumerate(pkts):
        p.time = T0 + i / 100
    wrpcap(str(path), pkts)
    return path


def rdata(rr: ET.Element) -> str:
    """An answer record's data as tshark shows it."""
    return next(f.get("show") for f in rr if f.get("name") in RDATA_FIELDS)


def zeek_rdata(rr: ET.Element) -> str:
    """An SRV, SOA or TXT record's data as Zeek's dns.log gives it (base/protocols/dns/main.zeek:
    the SRV target, the SOA mname, each TXT string as "TXT <length> <string>")."""
    fields = {f.get("name"): f.get("show") for f in rr}
    if "dns.srv.target" in fields:
        return fields["dns.srv.target"]
    if "dns.soa.mname" in fields:
        return fields["dns.soa.mname"]
    return " ".join(f"TXT {len(s)} {s}" for s in (f.get("show") for f in rr
                                                   if f.get("name") == "dns.txt"))


def tshark_answers(tshark: str, path: Path, text: Callable[[ET.Element], str] = rdata,
                   ) -> dict[int, list[tuple[str, float]]]:
    """Transaction id -> (text(record), TTL) of each record in the answer section of each
    reply."""
    pdml = subprocess.run([tshark, "-r", str(path), "-Y", "dns.flags.response == 1", "-T",
                           "pdml"], capture_output=True, check=True).stdout
    found = {}
    for dns in ET.fromstring(pdml).iter("proto"):
        if dns.get("name") != "dns":
            continue
        trans_id = int(dns.find("field[@name='dns.id']").get("show"), 16)
        section = dns.find("field[@show='Answers']")
        found[trans_id] = [] if section is None else [
            (text(rr), float(rr.find("field[@name='dns.resp.ttl']").get("show")))
            for rr in section]
    return found


def our_answers(path: Path) -> dict[int, list[tuple[str, float]]]:
    proc = analyze(path, "-o", "json", "--no-detect")
    assert proc.returncode == 0
    return {r["trans_id"]: list(zip(r.get("answers", []), r.get("TTLs", []), strict=True))
            for r in records(proc.stdout) if r["_path"] == "dns"}


def test_answers_and_ttls_match_tshark_over_udp_and_tcp(tshark, tmp_path):
    path = capture(tmp_path / "dns.pcap", EXCHANGES, OVER_TCP)
    expected = tshark_answers(tshark, path)
    assert len(expected) == len(EXCHANGES) + len(OVER_TCP)
    assert expected[0x1001][0] == ("web.shop.example", 30.0)  # the oracle read the CNAME
    assert b"\xc0" in bytes(EXCHANGES[0][1])  # a compression pointer
    assert our_answers(path) == expected


ZEEK_FORMATTED = [  # answers Zeek's dns.log renders in its own way
    reply(0x3001, "_http._tcp.web.shop.svc.cluster.local", "SRV",  # a headless Service's port
          [DNSRRSRV(rrname="_http._tcp.web.shop.svc.cluster.local", port=80, weight=50, ttl=5,
                    target=f"web-{i}.web.shop.svc.cluster.local") for i in range(2)]),
    reply(0x3002, "shop.example", "SOA",
          [DNSRRSOA(rrname="shop.example", mname="ns1.shop.example", rname="admin.shop.example",
                    ttl=3600)]),
    reply(0x3003, "shop.example", "TXT",
          [DNSRR(rrname="shop.example", type="TXT", rdata=[b"v=spf1", b"-all"], ttl=300)]),
]


def test_srv_soa_and_txt_answers_are_logged_as_zeek_logs_them(tshark, tmp_path):
    path = capture(tmp_path / "dns.pcap", ZEEK_FORMATTED, [])
    expected = tshark_answers(tshark, path, zeek_rdata)
    assert expected[0x3003] == [("TXT 6 v=spf1 TXT 4 -all", 300.0)]
    assert our_answers(path) == expected
