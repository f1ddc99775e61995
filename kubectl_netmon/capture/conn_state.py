"""Zeek's conn_state: a pure function of the two endpoints' states (base/protocols/conn/main.zeek).

The flow table tracks each TCP endpoint through Zeek's endpoint states (INACTIVE, SYN_SENT,
SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET); UDP endpoints are active once they sent a
datagram. The record's conn_state is derived from those states only when the record is filled.
"""

from __future__ import annotations

import re

# TCP endpoint states, as in Zeek's TCP_Endpoint.
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)

# A SYN from the originator, then a RST from it, with nothing from the responder in between.
_SYN_THEN_RST = re.compile(r"\^?S[^HAFGIQ]*R")


def tcp_conn_state(orig: int, resp: int, orig_size: int, resp_size: int, history: str) -> str:
    """conn_state of a TCP connection from its endpoints' states, sizes and history."""
    o_inactive = orig in (INACTIVE, PARTIAL)
    r_inactive = resp in (INACTIVE, PARTIAL)
    if resp == RESET:
        if orig in (SYN_SENT, SYN_ACK_SENT) or (orig == RESET and orig_size == 0
                                                 and resp_size == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if orig == RESET:
        if r_inactive:
            return "RSTOS0" if _SYN_THEN_RST.match(history) else "OTH"
        return "RSTO"
    if orig == CLOSED and resp == CLOSED:
        return "SF"
    if orig == CLOSED:
        return "SH" if r_inactive else "S2"
    if resp == CLOSED:
        return "SHR" if o_inactive else "S3"
    if orig == SYN_SENT and resp == INACTIVE:
        return "S0"
    if orig == ESTABLISHED and resp == ESTABLISHED:
        return "S1"
    return "OTH"


def udp_conn_state(orig_active: bool, resp_active: bool) -> str:
    """conn_state of a UDP flow: who sent anything (Zeek's UDP_ACTIVE)."""
    if orig_active:
        return "SF" if resp_active else "S0"
    return "SHR" if resp_active else "OTH"
