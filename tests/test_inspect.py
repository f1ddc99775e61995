"""--inspect: Wireshark's dissection of one connection, via pyshark, as escaped text."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from kubectl_netmon.errors import CaptureError, NetmonError, UsageError
from kubectl_netmon.inspect import conversation_filter, dissect_conn

HTTP_CONN = ("203.0.113.217", 43418, "198.51.100.10", 8080, "tcp")  # POST /login, 10 packets
LDAP_CONN = ("198.51.100.10", 39010, "203.0.113.217", 1389, "tcp")  # LDAP on a non-LDAP port


@pytest.fixture(scope="module")
def attack_pcap(shared_pcaps, tshark) -> str:
    return str(shared_pcaps / "log4j-attack.pcap")


def test_every_packet_of_both_directions(attack_pcap):
    packets = list(dissect_conn(attack_pcap, *HTTP_CONN))
    assert len(packets) == 10
    assert any("Source Port: 43418" in p for p in packets)
    assert any("Source Port: 8080" in p for p in packets)


def test_http_is_dissected_with_its_uri(attack_pcap):
    text = "\n".join(dissect_conn(attack_pcap, *HTTP_CONN))
    assert "Hypertext Transfer Protocol" in text
    assert "Request URI: /login" in text


def test_decode_as_hint_dissects_ldap_on_another_port(attack_pcap):
    hinted = "\n".join(dissect_conn(attack_pcap, *LDAP_CONN, decode_as=["tcp.port==1389,ldap"]))
    plain = "\n".join(dissect_conn(attack_pcap, *LDAP_CONN))
    assert "Lightweight Directory Access Protocol" in hinted
    assert "Lightweight Directory Access Protocol" not in plain


def test_payload_text_is_escaped(tmp_path, tshark):
    path = str(tmp_path / "bidi.pcap")
    request = "GET /x HTTP/1.1\r\nX-Name: evil\u202etxt.exe\r\n\r\n".encode()
    wrpcap(path, [Ether() / IP(src="10.0.0.1", dst="10.0.0.2") /
                  TCP(sport=40000, dport=80, flags="PA") / request])
    [text] = dissect_conn(path, "10.0.0.1", 40000, "10.0.0.2", 80, "tcp")
    assert "X-Name: evil" in text
    assert all(" " <= c <= "~" for c in text.replace("\n", ""))


def test_unknown_connection_is_an_error(attack_pcap):
    with pytest.raises(CaptureError, match="no packets .* match connection"):
        list(dissect_conn(attack_pcap, "198.51.100.10", 1, "203.0.113.217", 2, "tcp"))


def test_missing_file_is_an_error(tmp_path, tshark):
    with pytest.raises(CaptureError, match="no such file"):
        list(dissect_conn(str(tmp_path / "none.pcap"), *HTTP_CONN))


def test_not_a_capture_is_an_error(tmp_path, tshark):
    path = tmp_path / "notes.txt"
    path.write_text("not a capture\n")
    with pytest.raises(CaptureError, match="isn.t a capture file"):
        list(dissect_conn(str(path), *HTTP_CONN))


def test_missing_tshark_says_how_to_install_it(attack_pcap, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NetmonError, match="tshark not found: install"):
        list(dissect_conn(attack_pcap, *HTTP_CONN))


@pytest.mark.parametrize("hint", ["tcp.port=1389,ldap", "ldap", "tcp.port==1389,ldap;rm -rf"])
def test_bad_decode_as_hint_is_a_usage_error(attack_pcap, hint):
    with pytest.raises(UsageError, match="decode-as"):
        list(dissect_conn(attack_pcap, *LDAP_CONN, decode_as=[hint]))


@pytest.mark.parametrize("conn, expected", [
    (("10.0.0.1", 1, "10.0.0.2", 2, "udp"),
     "(udp) && ((ip.src==10.0.0.1 && ip.dst==10.0.0.2 && udp.srcport==1 && udp.dstport==2) || "
     "(ip.src==10.0.0.2 && ip.dst==10.0.0.1 && udp.srcport==2 && udp.dstport==1))"),
    (("fd00::1", 8, "fd00::2", 0, "icmp"),
     "(icmp || icmpv6) && ((ipv6.src==fd00::1 && ipv6.dst==fd00::2) || "
     "(ipv6.src==fd00::2 && ipv6.dst==fd00::1))"),
], ids=["udp over ipv4", "icmp over ipv6"])
def test_conversation_filter(conn, expected):
    assert conversation_filter(*conn) == expected


def test_address_that_is_not_an_ip_is_a_usage_error():
    with pytest.raises(UsageError, match="not an IP address"):
        conversation_filter("10.0.0.1) || (1==1", 1, "10.0.0.2", 2, "tcp")


def test_capture_cut_short_keeps_the_packets_before_the_cut(attack_pcap, tmp_path):
    path = tmp_path / "cut.pcap"
    path.write_bytes(Path(attack_pcap).read_bytes()[:5000])
    seen = []
    with pytest.raises(CaptureError, match="cut short"):
        seen.extend(dissect_conn(str(path), *HTTP_CONN))
    assert len(seen) == 10


def test_unsupported_protocol_is_a_usage_error():
    with pytest.raises(UsageError, match="only tcp, udp and icmp"):
        conversation_filter("10.0.0.1", 1, "10.0.0.2", 2, "sctp")
