"""Parsers never raise: valid messages with bytes flipped, cut short and re-chunked."""

from __future__ import annotations

import random
import struct

import pytest

from kubectl_netmon.capture.l7.dns import DnsParser
from kubectl_netmon.capture.l7.http import HttpParser
from kubectl_netmon.capture.l7.tls import TlsParser
from tests.capture.l7.samples import CHUNKED_POST, DNS_ANSWERS, GET, HELLO

RESPONSE = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"

SAMPLES = {
    "http": (HttpParser, [(True, GET + CHUNKED_POST), (False, RESPONSE * 2)]),
    "tls": (TlsParser, [(True, HELLO)]),
    "dns udp": (lambda: DnsParser(tcp=False), [(True, DNS_ANSWERS)]),
    "dns tcp": (lambda: DnsParser(tcp=True), [(True, struct.pack("!H", len(DNS_ANSWERS))
                                                + DNS_ANSWERS)]),
}


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out[:rng.randint(1, len(out))])


def chunks(rng: random.Random, data: bytes) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1))) if len(data) > 1 else []
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


@pytest.mark.parametrize("make, sample", SAMPLES.values(), ids=SAMPLES.keys())
def test_mutated_input_never_raises(make, sample):
    rng = random.Random(7)
    for _ in range(500):
        parser = make()
        for from_orig, data in sample:
            for piece in chunks(rng, mutate(rng, data)):
                assert isinstance(parser.feed(from_orig, piece, 1), list)
        assert isinstance(parser.close(2), list)
