"""What a detector sees through the listener interface: every packet with its connection, and
each direction's payload in order, once."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.listener import FlowListener
from tests.capture.test_engine import REQUEST, RESPONSE, conns, http_exchange

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")


class Recorder(FlowListener):
    def __init__(self) -> None:
        self.packets: list[tuple[int, str]] = []
        self.data: list[tuple[bool, bytes]] = []

    def on_packet(self, pkt, conn) -> None:
        self.packets.append((pkt.ts_ns, conn.uid))

    def on_data(self, conn, from_orig, data, ts_ns) -> None:
        self.data.append((from_orig, data))


def test_on_packet_sees_every_packet_with_its_connection():
    packets = http_exchange()
    recorder = Recorder()
    (conn,) = conns(packets, listeners=[recorder])
    assert recorder.packets == [(p.ts_ns, conn.uid) for p in packets]


def test_on_data_sees_each_directions_payload_in_order_once():
    recorder = Recorder()
    conns(http_exchange(), listeners=[recorder])
    assert recorder.data == [(True, REQUEST), (False, RESPONSE)]
