"""TLS parser: SNI and version from real ClientHellos (OpenSSL through Python's ssl module)."""

from __future__ import annotations

import ssl

import pytest

from kubectl_netmon.capture.l7.events import TlsClientHello
from kubectl_netmon.capture.l7.tls import TlsParser
from tests.capture.l7.samples import HELLO, handshake_records, hello_body, openssl_hello
from tests.capture.l7.streams import feed_all

CLIENT, SERVER = True, False
HELLO_EVENT = TlsClientHello(ts_ns=1, server_name="api.example.internal", version=0x0304)


@pytest.mark.parametrize("data, expected", [
    (HELLO, HELLO_EVENT),
    (openssl_hello("old.example", ssl.TLSVersion.TLSv1_2),
     TlsClientHello(ts_ns=1, server_name="old.example", version=0x0303)),
    (openssl_hello(None), TlsClientHello(ts_ns=1, server_name="", version=0x0304)),
    (handshake_records(1, hello_body(b"${jndi:ldap://x/a}\x1b.example")),
     TlsClientHello(ts_ns=1, server_name="${jndi:ldap://x/a}\x1b.example", version=0x0303)),
], ids=["tls 1.3 client", "tls 1.2 client", "no sni", "odd bytes in the name kept"])
def test_client_hello(data, expected):
    assert feed_all(TlsParser(), [(CLIENT, data)]) == [expected]


def test_hello_split_at_every_byte_boundary():
    for cut in range(1, len(HELLO)):
        assert feed_all(TlsParser(), [(CLIENT, HELLO[:cut]), (CLIENT, HELLO[cut:])]) == \
            [HELLO_EVENT], cut


def test_hello_spread_over_several_records():
    records = handshake_records(1, HELLO[9:], size=50)  # HELLO[9:]: the ClientHello body
    assert records.count(b"\x16\x03\x01") > 5
    assert feed_all(TlsParser(), [(CLIENT, records)]) == [HELLO_EVENT]


def test_server_hello_gives_nothing():
    server_hello = handshake_records(2, b"\x03\x03" + bytes(32) + b"\x00\x00\x2f\x00")
    assert feed_all(TlsParser(), [(SERVER, server_hello), (CLIENT, HELLO)]) == [HELLO_EVENT]


@pytest.mark.parametrize("data", [
    b"\x17\x03\x03\x00\x05hello" + HELLO,  # application data first
    b"\x16\x03\x01\xff\xff" + HELLO,  # record longer than TLS allows
    handshake_records(1, hello_body(b"x")[:40]) + HELLO,  # hello cut inside its fields
    b"SSH-2.0-OpenSSH_9.6\r\n" + HELLO,
], ids=["application data", "oversized record", "truncated hello", "not tls"])
def test_garbage_stops_that_direction_without_events(data):
    assert feed_all(TlsParser(), [(CLIENT, data)]) == []
