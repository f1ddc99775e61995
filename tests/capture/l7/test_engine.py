"""The registry's parsers at work inside the product's reader and flow engine."""

from __future__ import annotations

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.capture.reader import open_capture


def test_engine_labels_services_and_keeps_events(shared_pcaps):
    reader = open_capture(str(shared_pcaps / "log4j-attack.pcap"))
    conns = list(Engine().run(packets(reader, DecodeStats())))
    http = sorted((c.orig_p, [type(e) for e in c.l7]) for c in conns if c.service == "http")
    assert http == [(43418, [HttpRequest, HttpResponse]), (43420, [HttpRequest, HttpResponse]),
                    (43422, [HttpRequest]), (56958, [HttpRequest, HttpResponse])]
    assert {c.resp_p for c in conns if not c.service} == {389, 1389, 9001}
