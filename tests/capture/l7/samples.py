"""Sample inputs the L7 parser tests share: HTTP requests, real TLS hellos, DNS messages."""

from __future__ import annotations

import ssl
import struct

from scapy.layers.dns import DNS, DNSQR, DNSRR

GET = (b"GET /index.html?q=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.0\r\n"
       b"Accept: */*\r\n\r\n")
CHUNKED_POST = (b"POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                b"4;ext=1\r\n{\"a\"\r\n6\r\n:\"${j}\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n")


def openssl_hello(server_name: str | None, maximum: ssl.TLSVersion | None = None) -> bytes:
    """The bytes a real TLS client (OpenSSL via Python's ssl) sends first."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    out = ssl.MemoryBIO()
    conn = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=server_name)
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        return out.read()  # the hello is out; the handshake waits for the server
    raise AssertionError("a TLS handshake cannot finish without a server")


def handshake_records(msg_type: int, body: bytes, size: int = 2**14) -> bytes:
    """A handshake message cut into records of at most size bytes."""
    msg = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(msg[i:i + size])) + msg[i:i + size]
                    for i in range(0, len(msg), size))


def hello_body(server_name: bytes) -> bytes:
    """A minimal TLS 1.2 ClientHello body with one server_name extension."""
    entry = b"\x00" + struct.pack("!H", len(server_name)) + server_name
    sni = struct.pack("!H", len(entry)) + entry
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    return (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
            + struct.pack("!H", len(extensions)) + extensions)


HELLO = openssl_hello("api.example.internal")


def answers_message(*records: DNSRR) -> bytes:
    """A response to "q.example" carrying these answer records."""
    return bytes(DNS(id=9, qr=1, qd=DNSQR(qname="q.example", qtype=255), an=list(records)))


QUERY = bytes(DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com", qtype="AAAA")))
DNS_ANSWERS = answers_message(DNSRR(rrname="q.example", type="A", ttl=1, rdata="192.0.2.1"),
                              DNSRR(rrname="q.example", type="CNAME", ttl=1, rdata="c.example"))
