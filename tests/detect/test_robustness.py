"""Hostile input never breaks a detector: mutated lookups and replies are handled, not raised."""

from __future__ import annotations

import random

from kubectl_netmon.detect.log4shell.normalise import find_lookups
from tests.detect import wire
from tests.detect.cases import OBFUSCATED
from tests.detect.harness import Hooks

SEEDS = [p.encode("utf-8") for p, *_ in OBFUSCATED] + [
    b"${jndi:ldap://h:\xb2/a}", b"${jndi:ldap://[::1/a}", b"${base64:!!!}", b"${date:'}",
    b"${upper:\xff\xfe}", b"${jndi:ldap://h:99999/a}", b"\\u00zz%2%%24%7"]


def mutations(seed: bytes, rng: random.Random, count: int):
    alphabet = b"${}:-%\\u0123456789abcdefjndiJNDI/.#[]@' \x00\xff"
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 6)):
            pos = rng.randrange(len(data) + 1)
            op = rng.randrange(3)
            if op == 0:
                data.insert(pos, rng.choice(alphabet))
            elif op == 1 and pos < len(data):
                del data[pos]
            elif pos < len(data):
                data[pos] = rng.choice(alphabet)
        yield bytes(data)


def test_mutated_lookup_strings_never_raise():
    rng = random.Random(44228)
    for seed in SEEDS:
        for data in mutations(seed, rng, 300):
            for lookup in find_lookups(data, allow_bare=True):
                assert 0 <= lookup.port < 65536


def test_mutated_ldap_replies_never_raise():
    rng = random.Random(45046)
    hooks = Hooks()
    entry = wire.java_reference_entry()
    for n, reply in enumerate(mutations(entry, rng, 2000)):
        conn = hooks.conn("10.0.0.5", 0, f"203.0.113.{n % 250}", 1389)
        hooks.talk(conn, (True, wire.bind_request()), (False, reply))
    assert all(n.note.endswith("LOG4J_LDAP_JAVA") for n in hooks.notices)


def test_random_bytes_in_every_protocol_raise_nothing():
    rng = random.Random(1)
    hooks = Hooks()
    for port, opening in ((1389, wire.bind_request()), (1099, wire.JRMI_HELLO), (80, b"")):
        for _ in range(50):
            conn = hooks.conn("10.0.0.5", 0, "203.0.113.9", port)
            hooks.talk(conn, (True, opening + rng.randbytes(300)), (False, rng.randbytes(3000)))
    assert hooks.notices == []
