"""The registry's parsers at work inside the product's reader and flow engine."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.capture.listener import FlowListener
from kubectl_netmon.capture.reader import open_capture

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")


class EventTypes(FlowListener):
    """The types of each connection's L7 events, by originator port."""

    def __init__(self):
        self.by_port = {}

    def on_event(self, conn, event):
        self.by_port.setdefault(conn.orig_p, []).append(type(event))


def test_engine_labels_services_and_hands_on_events(shared_pcaps):
    reader = open_capture(str(shared_pcaps / "log4j-attack.pcap"))
    events = EventTypes()
    conns = list(Engine([events]).run(packets(reader, DecodeStats())))
    http = sorted((c.orig_p, events.by_port[c.orig_p]) for c in conns if c.service == "http")
    assert http == [(43418, [HttpRequest, HttpResponse]), (43420, [HttpRequest, HttpResponse]),
                    (43422, [HttpRequest]), (56958, [HttpRequest, HttpResponse])]
    assert {c.resp_p for c in conns if not c.service} == {389, 1389, 9001}
