"""Merging live capture streams: time order across streams, each packet once, streams that drop.

The streams are pcapng bytes built from the format spec (tests.capture.captures_gen) and handed
over in uneven chunks, as an exec stream delivers them.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.merge import (
    Dedupe,
    MergedStreams,
    RecordHeap,
    Source,
    packet_key,
    record_heap,
)
from kubectl_netmon.errors import ClusterError
from tests.capture.captures_gen import (
    LINKTYPE_ETHERNET,
    LINKTYPE_SLL2,
    epb,
    idb,
    shb,
    sll_frame,
)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def udp(n: int, ttl: int = 64, src: str = "10.244.1.2", dst: str = "10.244.2.2"):
    return IP(src=src, dst=dst, ttl=ttl, id=n) / UDP(sport=4000, dport=53) / f"query {n}".encode()


def eth(packet) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)


def stream(frames: list[tuple[int, bytes]], linktype: int = LINKTYPE_ETHERNET,
           name: str = "eth0") -> bytes:
    """A pcapng stream as dumpcap writes it: header, one interface (ns), then packets."""
    return shb() + idb(linktype, name=name, tsresol=9) + b"".join(
        epb(0, ts, data) for ts, data in frames)


def chunked(data: bytes, size: int = 37) -> Iterator[bytes]:
    """The stream in small uneven pieces, cutting blocks in the middle."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def merged(*streams: bytes, **kw) -> tuple[MergedStreams, list[tuple]]:
    m = MergedStreams([Source(f"p{i}", chunked(s)) for i, s in enumerate(streams)], **kw)
    return m, [(ts, iface, buf[start:end]) for ts, iface, buf, start, end in m.records()]


def test_streams_interleave_in_capture_time_order(speedups_off):
    a = stream([(T0 + i * 10 * MS, eth(udp(i))) for i in range(0, 20, 2)])
    b = stream([(T0 + i * 10 * MS, eth(udp(i))) for i in range(1, 20, 2)])

    _, recs = merged(a, b)

    assert [ts for ts, _, _ in recs] == [T0 + i * 10 * MS for i in range(20)]


def test_a_packet_captured_at_both_ends_counts_once(speedups_off):
    """Seen leaving one pod and entering another across a router: TTL and checksums differ."""
    sent = udp(1, ttl=64)
    received = IP(bytes(sent))
    received.ttl = 63
    del received.chksum
    received[UDP].chksum = 0  # offload: the sender's capture has no UDP checksum yet
    a = stream([(T0, eth(sent))])
    b = stream([(T0 + 2 * MS, sll_frame(received))], LINKTYPE_SLL2)

    m, recs = merged(a, b)

    assert len(recs) == 1 and m.stats.duplicates == 1


def test_a_packet_repeated_on_one_interface_counts_twice(speedups_off):
    """A retransmission with identical bytes is traffic, not a second sighting."""
    a = stream([(T0, eth(udp(1))), (T0 + MS, eth(udp(1)))])

    m, recs = merged(a)

    assert len(recs) == 2 and m.stats.duplicates == 0


def test_the_same_bytes_after_the_window_count_again(speedups_off):
    a = stream([(T0, eth(udp(1)))])
    b = stream([(T0 + 5_000 * MS, eth(udp(1)))])

    _, recs = merged(a, b, dedupe_ns=200 * MS)

    assert len(recs) == 2


@pytest.fixture(params=["python", "compiled"])
def key_of(request) -> Callable[[bytes, int, int], int | None]:
    """merge.packet_key, and the compiled Deduper's (with a secret of its own)."""
    if request.param == "python":
        return packet_key
    if speedups.fast is None:
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    return speedups.fast.Deduper(200 * MS, os.urandom(16)).packet_key


@pytest.fixture(params=["python", "compiled"])
def new_dedupe(request) -> Callable[[int], object]:
    """Makes merge.Dedupe, or the compiled Deduper, for a window."""
    if request.param == "python":
        return Dedupe
    if speedups.fast is None:
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    return lambda window_ns: speedups.fast.Deduper(window_ns, os.urandom(16))


def test_packet_key_ignores_ttl_and_checksums_but_not_payload(key_of):
    def key(pkt) -> int:
        raw = bytes(pkt)
        return key_of(raw, 0, len(raw))

    routed = IP(bytes(udp(1)))
    routed.ttl = 1
    del routed.chksum

    assert key(udp(1)) == key(IP(bytes(routed)))
    assert key(udp(1)) != key(udp(2))
    assert key(IP(dst="10.0.0.1") / TCP(dport=80)) != key(IP(dst="10.0.0.2") / TCP(dport=80))


def test_link_padding_after_the_ip_length_is_not_part_of_the_packet(key_of):
    pkt = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(flags="A"))  # 40 bytes
    padded = pkt + b"\0" * 6  # Ethernet's 60-byte minimum

    assert key_of(pkt, 0, len(pkt)) == key_of(padded, 0, len(padded))


def test_a_packet_that_is_not_ip_has_no_key(key_of):
    arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + bytes(20)

    assert key_of(arp, 0, len(arp)) is None
    assert key_of(b"\x45" + bytes(10), 0, 11) is None  # shorter than an IPv4 header


def test_compiled_keys_depend_on_the_runs_secret():
    """Nobody can make a packet whose key equals another's without knowing the secret."""
    if speedups.fast is None:
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    raw = bytes(udp(1))
    one, other = (speedups.fast.Deduper(MS, os.urandom(16)).packet_key(raw, 0, len(raw))
                  for _ in range(2))

    assert one != other


@pytest.mark.parametrize(("window", "keys", "shift"), [
    (50, 5_000, 44),  # every key in one probe run: expired keys leave from its middle
    (10**9, 150_000, 0),  # nothing expires: the table grows to hold them all
    (400, 4_000, 0),  # keys all over a table near full, expiring
])
def test_the_compiled_check_decides_as_the_python_one(window, keys, shift):
    """Keys, times and sources at random, many repeats: the same answers."""
    if speedups.fast is None:
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    rng = random.Random(7)
    python, compiled = Dedupe(window), speedups.fast.Deduper(window, bytes(16))
    ts = 0
    for _ in range(200_000):
        ts += rng.randrange(3)
        key, source = rng.randrange(keys) << shift, rng.randrange(-1, 3)
        assert compiled.duplicate(key, ts, source) == python.duplicate(key, ts, source), ts


@pytest.mark.parametrize("seed", range(3))
def test_the_compiled_reorder_heap_gives_what_the_python_one_gives(seed):
    """Batches of records with times at random (ties among them), let go through floors and
    size bounds at random: the same records in the same order (time, then arrival)."""
    if speedups.fast is None:
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    rng = random.Random(seed)
    buf = bytes(64)
    python, compiled = RecordHeap(), speedups.fast.RecordHeap()
    for _ in range(300):
        batch = [(rng.randrange(1_000), rng.randrange(3), buf, 4, rng.randrange(4, 64))
                 for _ in range(rng.randrange(40))]
        python.push(batch)
        compiled.push(batch)
        floor, bound = rng.randrange(-1, 1_000), rng.randrange(1, 200)
        assert compiled.pop_through(floor, bound) == python.pop_through(floor, bound)
        assert len(compiled) == len(python)
    assert compiled.drain() == python.drain()


def test_the_reorder_heap_takes_any_64_bit_capture_time(speedups_off):
    """A damaged capture's time is any 64-bit number: held and let go as any other."""
    heap = record_heap()
    last = (2**64 - 1, 0, bytes(8), 4, 8)
    heap.push([last, (5, 0, bytes(8), 4, 8)])

    assert heap.pop_through(-1, 10) == []
    assert heap.pop_through(2**64 - 1, 10) == [(5, 0, bytes(8), 4, 8), last]


def test_dedupe_on_a_cooked_interface_takes_any_repeat_as_a_duplicate(new_dedupe):
    """`-i any` on a node sees a packet on the veth and on the bridge under one interface id."""
    d = new_dedupe(200 * MS)

    assert not d.duplicate(7, T0, -1)
    assert d.duplicate(7, T0 + 1, -1)


def test_one_node_capture_on_any_counts_a_packet_seen_on_two_devices_once(speedups_off):
    """A node capture (`-i any`, one stream read in the consumer's thread) sees a pod's packet
    on its veth and again on the bridge; counted once, and --count counts after that."""
    repeated = stream([(T0, sll_frame(udp(1))), (T0 + 1, sll_frame(udp(1))),
                       (T0 + MS, sll_frame(udp(2))), (T0 + 2 * MS, sll_frame(udp(3)))],
                      LINKTYPE_SLL2, name="any")

    m, recs = merged(repeated, count=2)

    assert [buf[-1:] for _, _, buf in recs] == [b"1", b"2"]
    assert (m.stats.packets, m.stats.duplicates) == (2, 1)


def test_a_vlan_tagged_copy_is_found_by_its_link_decoder_and_counts_once(speedups_off):
    """A packet whose IP header is not where a plain link header puts it (802.1Q): the link
    decoder finds it, and its copy from a node's cooked capture is a duplicate."""
    tagged = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=7)
                   / udp(1))
    a = stream([(T0, tagged)])
    b = stream([(T0 + MS, sll_frame(udp(1)))], LINKTYPE_SLL2)

    m, recs = merged(a, b)

    assert len(recs) == 1 and m.stats.duplicates == 1


def test_a_dropped_stream_keeps_its_packets_and_says_why():
    def dropping() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1))), (T0 + MS, eth(udp(2)))])
        raise ClusterError("exec in pod demo/web: stream dropped: connection reset")

    m = MergedStreams([Source("demo/web", dropping()),
                       Source("demo/ldap", chunked(stream([(T0 + 2 * MS, eth(udp(3)))])))])
    recs = list(m.records())

    assert len(recs) == 3
    assert m.streams[0].packets == 2 and "connection reset" in m.streams[0].error
    assert m.streams[1].error == ""


def test_count_stops_the_merge_after_that_many_packets():
    a = stream([(T0 + i * MS, eth(udp(i))) for i in range(10)])

    _, recs = merged(a, count=4)

    assert len(recs) == 4


def test_finishing_asks_the_sources_to_end_and_keeps_their_last_packets():
    """Ctrl-C or the duration: the remote captures flush what they hold, then end."""
    asked = threading.Event()

    def capture() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1)))])
        # a remote capture sends its last packets only once asked to end; b"": still quiet
        while not asked.wait(0.05):
            yield b""
        yield epb(0, T0 + MS, eth(udp(2)))

    m = MergedStreams([Source("demo/web", capture())], ask_finish=asked.set)
    threading.Timer(0.5, m.finish).start()
    recs = list(m.records())

    assert asked.is_set() and len(recs) == 2


def test_a_duration_without_anyone_to_ask_ends_the_merge_at_once():
    ended = threading.Event()

    def quiet_for_long() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1)))])
        for _ in range(600):
            time.sleep(0.05)
            yield b""  # quiet, as an exec stream says every TICK_S
        ended.set()

    m = MergedStreams([Source("a", quiet_for_long())], duration_s=0.3)

    assert len(list(m.records())) == 1 and not ended.is_set()


def test_interfaces_carry_the_capture_point_names_and_link_types():
    a = stream([(T0, eth(udp(1)))])
    b = stream([(T0 + MS, sll_frame(udp(2)))], LINKTYPE_SLL2, name="any")

    m = MergedStreams([Source("demo/web", chunked(a), "pod demo/web on node-1"),
                       Source("node-2", chunked(b), "node node-2")])
    list(m.records())

    assert [(i.name, i.linktype) for i in m.interfaces] == [("demo/web", 1), ("node-2", 276)]
    assert m.interfaces[0].description == "pod demo/web on node-1; captured on eth0"


def test_the_merged_stream_decodes_like_a_file():
    a = stream([(T0, eth(udp(1)))])
    b = stream([(T0 + MS, sll_frame(udp(2, src="10.244.2.2", dst="10.244.1.2")))],
               LINKTYPE_SLL2)
    m = MergedStreams([Source("a", chunked(a)), Source("b", chunked(b))])

    decoded = list(packets(m, DecodeStats()))

    assert [(p.iface, p.sport, p.payload) for p in decoded] == [
        (0, 4000, b"query 1"), (1, 4000, b"query 2")]


def test_chunkfile_reads_across_chunks_and_announces_each_wait():
    waits = []
    f = ChunkFile(iter([b"ab", b"", b"cde", b"f"]), before_wait=lambda: waits.append(1))

    assert f.read(4) == b"abcd"
    assert f.read1(10) == b"e"
    assert f.read() == b"f"
    assert f.read1(1) == b""
    # before "ab", for the empty chunk (the source is quiet), before "cde", "f", the end
    assert len(waits) == 5


def test_a_single_quiet_stream_keeps_the_clock_ticking():
    """One stream is read in the consumer's thread: its ticks run while the stream is quiet."""
    ticks = []

    def quiet() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1)))])
        while len(ticks) < 3:
            time.sleep(0.05)
            yield b""

    m = MergedStreams([Source("a", quiet())])
    m.on_tick = lambda: ticks.append(1)

    assert len(list(m.records())) == 1 and len(ticks) == 3


def test_a_failing_tick_is_raised_as_itself_not_as_the_stream_dropping():
    def quiet() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1)))])
        while True:
            time.sleep(0.05)
            yield b""

    def broken_output() -> None:
        raise BrokenPipeError("stdout closed")

    m = MergedStreams([Source("a", quiet())])
    m.on_tick = broken_output

    with pytest.raises(BrokenPipeError):
        list(m.records())
    assert m.streams[0].error == ""


def test_a_stream_added_mid_run_is_read_and_named_after_its_capture_point():
    """A watch of a workload gains a capture when a new pod of it starts."""
    def first() -> Iterator[bytes]:
        yield stream([(T0, eth(udp(1)))])
        while len(m.streams) < 2:  # quiet until the second stream joined
            time.sleep(0.05)
            yield b""

    m = MergedStreams([Source("demo/web-1", first())], growing=True)
    threading.Timer(0.3, m.add_source, [Source("demo/web-2", chunked(stream(
        [(T0 + MS, eth(udp(2, src="10.244.1.3")))])))]).start()
    recs = list(m.records())

    assert [(iface, ts) for ts, iface, _, _, _ in recs] == [(0, T0), (1, T0 + MS)]
    assert [i.name for i in m.interfaces] == ["demo/web-1", "demo/web-2"]
    assert [s.packets for s in m.streams] == [1, 1]


def test_a_growing_merge_waits_for_an_expected_stream_while_none_is_open():
    """A rollout ends the old pod's capture before the new pod's is connected."""
    m = MergedStreams([Source("demo/web-1", chunked(stream([(T0, eth(udp(1)))])))],
                      growing=True)
    m.expect()

    def connected() -> None:
        m.add_source(Source("demo/web-1", chunked(stream([(T0 + MS, eth(udp(2)))]))))
        m.expect(-1)

    threading.Timer(0.5, connected).start()
    recs = list(m.records())

    assert len(recs) == 2 and len(m.streams) == 2


def test_a_merge_that_cannot_grow_refuses_a_new_stream():
    m = MergedStreams([Source("a", chunked(stream([(T0, eth(udp(1)))])))])

    with pytest.raises(ValueError):
        m.add_source(Source("b", chunked(stream([]))))


def test_the_merge_benchmark_keeps_every_packet_once_on_both_sides():
    """scripts/bench-merge (its speed verdict aside): netmon's merge and the peer's each keep
    the transfer's packets once, or the script stops with what went wrong."""
    if shutil.which("mergecap") is None or shutil.which("editcap") is None:
        pytest.skip("mergecap and editcap (Wireshark's tools) are not installed")
    script = Path(__file__).parents[2] / "scripts" / "bench-merge"
    done = subprocess.run([sys.executable, str(script), "--count", "3000", "--runs", "1"],
                          capture_output=True, text=True, timeout=120)

    assert "bench-merge:" not in done.stderr, done.stderr
    assert "netmon merge (MergedStreams)" in done.stdout
