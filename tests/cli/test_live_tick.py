"""A live run's tick pushes out what the outputs hold: the http record of a connection that is
still open reaches a `-o json` reader while the capture goes on, not when the connection ends."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from kubectl_netmon.capture.decode import DecodeStats
from kubectl_netmon.capture.reader import open_capture
from kubectl_netmon.cli.liveflags import LiveOptions
from kubectl_netmon.cli.liverun import LiveRun
from kubectl_netmon.output.writers import JsonLinesWriter
from tests.capture.captures_gen import LINKTYPE_ETHERNET, pcap_header, pcap_record, write

CLIENT, SERVER = "10.244.1.5", "10.244.2.9"
REQUEST = b"GET /cart HTTP/1.1\r\nHost: shop\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Flushed(io.StringIO):
    """Text a reader at the other end of a pipe would have: only what was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = ""

    def flush(self) -> None:
        self.seen = self.getvalue()


def keep_alive_exchange(tmp_path) -> Iterator:
    """A request and its response on a connection that stays open (no FIN)."""
    c, s = Ether() / IP(src=CLIENT, dst=SERVER), Ether() / IP(src=SERVER, dst=CLIENT)
    frames = [c / TCP(sport=40000, dport=80, flags="S", seq=1),
              s / TCP(sport=80, dport=40000, flags="SA", seq=100, ack=2),
              c / TCP(sport=40000, dport=80, flags="A", seq=2, ack=101),
              c / TCP(sport=40000, dport=80, flags="PA", seq=2, ack=101) / REQUEST,
              s / TCP(sport=80, dport=40000, flags="PA", seq=101, ack=2 + len(REQUEST)) / RESPONSE]
    now = time.time_ns()  # a live capture's packets: just now (older flows the tick expires)
    path = write(tmp_path / "open.pcap", pcap_header(LINKTYPE_ETHERNET) + b"".join(
        pcap_record(now + i * 1000, bytes(f)) for i, f in enumerate(frames)))
    return open_capture(str(path))


def test_an_open_connections_http_record_goes_out_on_the_next_tick(tmp_path):
    out = Flushed()
    live = LiveRun(None, LiveOptions(output="json"), lambda line: None)
    seen_at_tick = []

    class ThenTick:
        """The capture's records, then a tick: the stream is quiet, the connection open."""

        def __init__(self, reader) -> None:
            self.reader, self.interfaces = reader, reader.interfaces

        def batches(self) -> Iterator:
            yield from self.reader.batches()
            live._tick()
            seen_at_tick.append(out.seen)

    live._analyse(ThenTick(keep_alive_exchange(tmp_path)), DecodeStats(), [JsonLinesWriter(out)])

    records = [json.loads(line) for line in seen_at_tick[0].splitlines()]
    assert [(r["_path"], r.get("uri"), r.get("status_code")) for r in records] == [
        ("http", "/cart", 200)]
