"""pipeline.run: packets through the real engine and detectors into every output, streaming."""

from __future__ import annotations

import socket

import pytest

from kubectl_netmon import pipeline
from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.model import PROTO_UDP, Packet, packet_key
from kubectl_netmon.capture.reader import open_capture
from kubectl_netmon.detect.base import Detector, Notice

S = 1_000_000_000


def udp(ts_s: float, sport: int, payload: bytes = b"\0" * 20, reply: bool = False) -> Packet:
    """One DNS-sized datagram 10.244.1.23:sport -> 10.96.0.10:53 (or back, a reply)."""
    ends = [(socket.inet_aton("10.244.1.23"), sport), (socket.inet_aton("10.96.0.10"), 53)]
    (src, sp), (dst, dp) = ends[::-1] if reply else ends
    return Packet(int(ts_s * S), 0, packet_key(src, dst, sp, dp), PROTO_UDP, sp, dp,
                  28 + len(payload), len(payload), payload)


# A query for svc.com (id 0x1234) and its answer; dns_id(n) gives them transaction id n.
DNS_QUERY = bytes.fromhex("1234010000010000000000000373766303636f6d0000010001")
DNS_ANSWER = bytes.fromhex("1234818000010001000000000373766303636f6d0000010001"
                           "c00c000100010000001e00040a000005")


def dns_id(message: bytes, n: int) -> bytes:
    return n.to_bytes(2, "big") + message[2:]


class Recorder:
    """An output that remembers what it got, and when (how far the source had got)."""

    def __init__(self, source_progress: list[int] | None = None) -> None:
        self.conns: list = []
        self.notices: list = []
        self.closed = False
        self._progress = source_progress
        self.seen_at: list[int] = []

    def conn(self, conn) -> None:
        self.conns.append(conn)
        if self._progress is not None:
            self.seen_at.append(self._progress[0])

    def notice(self, notice) -> None:
        self.notices.append(notice)

    def close(self) -> None:
        self.closed = True


class L7Recorder(Recorder):
    """An output that also takes http/dns/ssl records; keeps what came in order."""

    def __init__(self, source_progress: list[int]) -> None:
        super().__init__(source_progress)
        self.order: list[tuple[str, int]] = []  # (log path, source progress)

    def conn(self, conn) -> None:
        super().conn(conn)
        self.order.append(("conn", self._progress[0]))

    def l7_log(self, path: str, rec: dict) -> None:
        self.order.append((path, self._progress[0]))


class EveryConnEnd(Detector):
    """A detector that raises one notice per finished connection."""

    def on_conn_end(self, conn) -> None:
        self.emit(Notice.for_conn(conn, conn.last_ns, "Test::END", "ended"))


def test_each_connection_reaches_the_outputs_as_soon_as_it_is_final():
    progress = [0]

    def source():
        for i, ts in enumerate((0, 100, 200, 300)):  # 60 s UDP timeout: each ends the previous
            progress[0] = i + 1
            yield udp(ts, 40000 + i)

    out = Recorder(progress)
    pipeline.run(source(), [out])
    assert len(out.conns) == 4
    assert out.seen_at[0] < 4  # the first flow was out before the source was done


def test_a_dns_record_reaches_the_outputs_when_its_answer_comes_not_when_its_flow_ends():
    progress = [0]
    exchange = [udp(0, 40000, dns_id(DNS_QUERY, 1)), udp(0.1, 40000, dns_id(DNS_ANSWER, 1), True),
                udp(1, 40000, dns_id(DNS_QUERY, 2)), udp(1.1, 40000, dns_id(DNS_ANSWER, 2), True)]

    def source():
        for i, packet in enumerate(exchange):
            progress[0] = i + 1
            yield packet

    out = L7Recorder(progress)
    pipeline.run(source(), [out])
    assert out.order == [("dns", 2), ("dns", 4), ("conn", 4)]


def test_an_unanswered_query_reaches_the_outputs_with_its_flow_before_its_conn_record():
    out = L7Recorder([0])
    pipeline.run([udp(0, 40000, DNS_QUERY)], [out])
    assert [path for path, _ in out.order] == ["dns", "conn"]


def test_every_output_gets_every_connection_and_is_closed():
    outs = [Recorder(), Recorder()]
    result = pipeline.run([udp(0, 1), udp(0.5, 2)], outs)
    assert [len(o.conns) for o in outs] == [2, 2] and all(o.closed for o in outs)
    assert result.flows == 2


def test_notices_from_detectors_reach_every_output_and_are_counted():
    outs = [Recorder(), Recorder()]
    result = pipeline.run([udp(0, 1), udp(0.5, 2)], outs, [EveryConnEnd()])
    assert [len(o.notices) for o in outs] == [2, 2] and result.notices == 2
    assert outs[0].notices[0].note == "Test::END"


def test_outputs_are_closed_even_when_the_source_fails():
    def failing():
        yield udp(0, 1)
        raise OSError("stream lost")

    out = Recorder()
    with pytest.raises(OSError):
        pipeline.run(failing(), [out])
    assert out.closed


def read(path):
    with open_capture(str(path)) as reader:
        yield from packets(reader, DecodeStats())


def test_find_conn_returns_the_flow_with_that_uid_as_a_full_run_names_it(shared_pcaps):
    pcap = shared_pcaps / "log4j-attack.pcap"
    out = Recorder()
    pipeline.run(read(pcap), [out])
    target = out.conns[3]
    found = pipeline.find_conn(read(pcap), target.uid)
    assert (found.orig_h, found.orig_p, found.resp_h, found.resp_p) == (
        target.orig_h, target.orig_p, target.resp_h, target.resp_p)


def test_find_conn_of_an_unknown_uid_is_none(shared_pcaps):
    assert pipeline.find_conn(read(shared_pcaps / "log4j-attack.pcap"), "Cnope") is None
