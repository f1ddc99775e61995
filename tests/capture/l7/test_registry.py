"""Parser choice from a connection's first payload chunk: content first, ports as a hint."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dns import DNS, DNSQR

from kubectl_netmon.capture.l7.registry import parser_for
from tests.capture.l7.samples import HELLO

DNS_QUERY = bytes(DNS(id=1, qd=DNSQR(qname="example.com")))
LDAP_BIND = bytes.fromhex("300c020101600702010304008000")

CASES = {
    "http request on an http port": ("tcp", 8080, True, b"GET / HTTP/1.1\r\n", "http"),
    "http request on an odd port": ("tcp", 31337, True, b"POST /x HTTP/1.1\r\n", "http"),
    "first chunk holds only the method": ("tcp", 8080, True, b"GET ", "http"),
    "made-up method carrying a payload": (
        "tcp", 80, True, b"${jndi:ldap://a/b} / HTTP/1.1\r\n", "http"),
    "response seen first": ("tcp", 8000, False, b"HTTP/1.1 200 OK\r\n", "http"),
    "http on the tls port": ("tcp", 443, True, b"GET / HTTP/1.1\r\n", "http"),
    "tls client hello": ("tcp", 443, True, HELLO, "ssl"),
    "tls on an http port": ("tcp", 80, True, HELLO, "ssl"),
    "dns over tcp": ("tcp", 53, True, struct.pack("!H", len(DNS_QUERY)) + DNS_QUERY, "dns"),
    "dns over udp": ("udp", 53, True, DNS_QUERY, "dns"),
    "dns on an odd udp port": ("udp", 40000, True, DNS_QUERY, "dns"),
    "mdns port with a short datagram": ("udp", 5353, True, b"\x00" * 12, "dns"),
    "ldap bind": ("tcp", 1389, True, LDAP_BIND, None),
    "ssh banner": ("tcp", 22, True, b"SSH-2.0-OpenSSH_9.6\r\n", None),
    "random udp": ("udp", 40000, True, b"\x13\x37" * 20, None),
    "too short for dns": ("udp", 53, True, b"\x00\x01", None),
    "lowercase method is not http": ("tcp", 80, True, b"get / http/1.1\r\n", None),
    "icmp": ("icmp", 0, True, b"\x00" * 32, None),
}


@pytest.mark.parametrize("proto, port, from_orig, data, service", CASES.values(),
                         ids=CASES.keys())
def test_parser_for(proto, port, from_orig, data, service):
    parser = parser_for(proto, port, from_orig, data)
    assert (parser.service if parser else None) == service


def test_each_connection_gets_its_own_parser():
    assert parser_for("tcp", 80, True, b"GET ") is not parser_for("tcp", 80, True, b"GET ")
