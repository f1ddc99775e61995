"""conn_state is a pure function of the endpoints' states: one row per case Zeek documents."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.conn_state import (
    CLOSED,
    ESTABLISHED,
    INACTIVE,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
    tcp_conn_state,
    udp_conn_state,
)

TCP_CASES = [
    # orig, resp, orig_size, resp_size, history, expected: Zeek's meaning
    (SYN_SENT, INACTIVE, 0, 0, "S", "S0"),  # attempt seen, no reply
    (ESTABLISHED, ESTABLISHED, 10, 20, "ShADad", "S1"),  # established, not terminated
    (CLOSED, CLOSED, 10, 20, "ShADadFf", "SF"),  # normal establishment and termination
    (SYN_SENT, RESET, 0, 0, "Sr", "REJ"),  # attempt rejected
    (SYN_ACK_SENT, RESET, 0, 0, "Hr", "REJ"),
    (RESET, RESET, 0, 0, "SrR", "REJ"),  # both reset, nothing sent
    (CLOSED, ESTABLISHED, 10, 0, "ShADF", "S2"),  # close by originator only
    (ESTABLISHED, CLOSED, 10, 0, "ShADf", "S3"),  # close by responder only
    (RESET, ESTABLISHED, 10, 0, "ShADR", "RSTO"),  # established, originator aborted
    (ESTABLISHED, RESET, 10, 0, "ShADr", "RSTR"),  # responder sent a RST
    (RESET, INACTIVE, 0, 0, "SR", "RSTOS0"),  # SYN then RST, never a SYN-ACK
    (RESET, PARTIAL, 0, 0, "^SR", "RSTOS0"),
    (RESET, INACTIVE, 5, 0, "DR", "OTH"),  # a RST mid-stream with no SYN is no RSTOS0
    (INACTIVE, RESET, 0, 0, "hr", "RSTRH"),  # SYN-ACK then RST, never a SYN
    (CLOSED, INACTIVE, 0, 0, "SF", "SH"),  # SYN then FIN, half open
    (INACTIVE, CLOSED, 0, 0, "hf", "SHR"),  # SYN-ACK then FIN, no SYN seen
    (PARTIAL, PARTIAL, 10, 20, "Dd", "OTH"),  # midstream traffic
    (PARTIAL, ESTABLISHED, 10, 20, "^hDd", "OTH"),
]


@pytest.mark.parametrize("orig,resp,osize,rsize,history,expected", TCP_CASES)
def test_tcp_conn_state_matches_zeek(orig, resp, osize, rsize, history, expected):
    assert tcp_conn_state(orig, resp, osize, rsize, history) == expected


@pytest.mark.parametrize("orig_active,resp_active,expected", [
    (True, True, "SF"), (True, False, "S0"), (False, True, "SHR"), (False, False, "OTH"),
])
def test_udp_conn_state_is_who_sent(orig_active, resp_active, expected):
    assert udp_conn_state(orig_active, resp_active) == expected
