"""The connection states the rest of the engine tests do not reach, from whole packet stories
(Zeek's conn.log meanings)."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.model import ACK, FIN, PSH, RST, SYN
from tests.capture.test_engine import Talk, one

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")


def test_an_established_connection_still_open_at_the_end_is_s1():
    t = Talk()
    conn = one([*t.handshake(), t(True, PSH | ACK, b"hi"), t(False, PSH | ACK, b"ho")])
    assert conn.conn_state == "S1"


def test_a_close_by_the_responder_alone_is_s3():
    t = Talk()
    conn = one([*t.handshake(), t(True, PSH | ACK, b"hi"), t(False, FIN | ACK)])
    assert conn.conn_state == "S3"


def test_a_syn_ack_then_reset_from_the_responder_without_a_syn_is_rstrh():
    t = Talk()
    conn = one([t(False, SYN | ACK), t(False, RST)])
    assert conn.conn_state == "RSTRH"
