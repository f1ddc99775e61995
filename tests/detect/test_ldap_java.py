"""LOG4J_LDAP_JAVA: found by parsing the LDAP BER of the server's reply, on any port."""

from __future__ import annotations

import pytest

from kubectl_netmon.detect.log4shell.ldap import is_ldap_request, java_entry
from tests.detect import wire
from tests.detect.harness import Hooks

VICTIM, SERVER = "10.0.0.5", "203.0.113.7"


def ldap_session(hooks: Hooks, reply: bytes, port: int = 1389, chunk: int = 0, server=SERVER,
                 victim=VICTIM):
    conn = hooks.conn(victim, 40000, server, port)
    replies = [reply[i:i + chunk] for i in range(0, len(reply), chunk)] if chunk else [reply]
    hooks.talk(conn, (True, wire.bind_request()), (False, wire.bind_response()),
               (True, wire.search_request()), *[(False, r) for r in replies])
    return hooks


@pytest.mark.parametrize("port", [389, 1389, 8080, 53])
def test_java_reference_entry_is_raised_on_any_port(port):
    hooks = ldap_session(Hooks(), wire.java_reference_entry() + wire.search_done(), port=port)
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]


@pytest.mark.parametrize("attribute", [
    (b"javaClassName", [b"foo"]),
    (b"javaCodeBase", [b"http://203.0.113.7/"]),
    (b"javaSerializedData", [wire.SERIALIZED]),
    (b"javaFactory", [b"Exploit"]),
    (b"objectClass", [b"javaNamingReference"]),
    (b"JAVACLASSNAME", [b"foo"]),
])
def test_each_java_attribute_alone_is_enough(attribute):
    hooks = ldap_session(Hooks(), wire.search_entry([attribute]))
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]


def test_reply_split_into_small_chunks_is_parsed():
    hooks = ldap_session(Hooks(), wire.java_reference_entry() + wire.search_done(), chunk=5)
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]


def test_notice_carries_class_codebase_and_factory():
    hooks = ldap_session(Hooks(), wire.java_reference_entry(b"http://203.0.113.7:8000/"))
    extra = hooks.notices[0].extra
    assert (extra["java.class_name"], extra["java.codebase"], extra["java.factory"]) == (
        "foo", "http://203.0.113.7:8000/", "Exploit")
    assert hooks.notices[0].sub.startswith("0\x81")  # the reply's bytes, read as latin-1


def test_client_opening_cut_into_tiny_chunks_is_still_recognised():
    hooks = Hooks()
    conn = hooks.conn(VICTIM, 40000, SERVER, 1389)
    bind = wire.bind_request()
    hooks.talk(conn, *[(True, bind[i:i + 2]) for i in range(0, len(bind), 2)],
               (False, wire.java_reference_entry()))
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]


def test_ordinary_directory_entry_is_not_raised():
    entry = wire.search_entry([(b"objectClass", [b"person"]), (b"cn", [b"javaClassName"])])
    assert ldap_session(Hooks(), entry).notices == []


def test_java_words_outside_ldap_are_not_raised():
    hooks = Hooks()
    conn = hooks.conn(VICTIM, 40000, SERVER, 1389)
    hooks.talk(conn, (True, b"GET / HTTP/1.1\r\n\r\n"), (False, wire.java_reference_entry()))
    assert hooks.notices == []


def test_second_server_reply_within_the_hour_is_suppressed_and_counted():
    hooks = Hooks()
    ldap_session(hooks, wire.java_reference_entry())
    ldap_session(hooks, wire.java_reference_entry())
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]
    assert hooks.notices[0].extra["suppressed"] == 1


def test_different_servers_are_raised_separately():
    hooks = Hooks()
    ldap_session(hooks, wire.java_reference_entry())
    ldap_session(hooks, wire.java_reference_entry(), server="198.51.100.9")
    assert hooks.notes() == ["LOG4J_LDAP_JAVA", "LOG4J_LDAP_JAVA"]


def test_one_server_answering_two_victims_is_raised_in_each_chain():
    hooks = Hooks()
    ldap_session(hooks, wire.java_reference_entry())
    ldap_session(hooks, wire.java_reference_entry(), victim="10.0.0.6")
    assert [n.extra["chain"] for n in hooks.notices] == ["log4shell-1", "log4shell-2"]


def test_garbage_from_the_server_stops_parsing_without_error():
    hooks = ldap_session(Hooks(), b"\x30\x85garbage" + wire.java_reference_entry())
    assert hooks.notices == []


def test_udp_ldap_reply_is_parsed():
    hooks = Hooks()
    conn = hooks.conn(VICTIM, 40000, SERVER, 389, proto="udp")
    hooks.talk(conn, (True, wire.search_request()), (False, wire.java_reference_entry()))
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]


@pytest.mark.parametrize(("data", "expected"), [
    (wire.bind_request(), True),
    (wire.search_request(), True),
    (wire.bind_request()[:7], True),
    (wire.bind_response(), False),
    (b"GET / HTTP/1.1\r\n", False),
    (b"\x30\x03\x02\x01", False),
])
def test_is_ldap_request(data, expected):
    assert is_ldap_request(data) is expected


def test_java_entry_reports_dn_and_attributes():
    dn, attrs = java_entry(wire.java_reference_entry())
    assert dn == b"a" and attrs[b"javafactory"] == [b"Exploit"]


def test_empty_datagrams_are_ignored():
    hooks = Hooks()
    conn = hooks.conn(VICTIM, 40000, SERVER, 389, proto="udp")
    hooks.talk(conn, (True, b""), (True, wire.search_request()), (False, b""),
               (False, wire.java_reference_entry()))
    assert hooks.notes() == ["LOG4J_LDAP_JAVA"]
