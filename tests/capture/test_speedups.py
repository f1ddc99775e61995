"""The compiled fast paths (capture/_speedups.c) give exactly what the Python code gives: the
same records, damage and notes from the readers, the same Packets and counters from the decoder,
the same bytes from the pcapng writer and from a recording with pod comments. Every capture is
read in small chunks, so records straddle the reads."""

from __future__ import annotations

import gc
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.decode import DecodeStats, count, packets
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.model import Packet, reverse_key
from kubectl_netmon.capture.pcapng_write import PcapngWriter, packet_options
from kubectl_netmon.capture.reader import open_stream
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.recording import Recording
from tests.capture.captures_gen import (
    CLIENT4,
    LINKTYPE_ETHERNET,
    LINKTYPE_LOOP,
    LINKTYPE_RAW,
    LINKTYPE_SLL,
    LINKTYPE_SLL2,
    SERVER4,
    T0_NS,
    epb,
    ether_frames,
    fragmented_packets,
    idb,
    ip_packets,
    ipv6_ext_packets,
    loopback_frame,
    pb,
    pcap_bytes,
    pcap_header,
    pcap_record,
    shb,
    sll_frame,
    spb,
    synthetic_pcap,
    vlan_frames,
)

REPO = Path(__file__).resolve().parents[2]
CHUNK = 1000  # bytes per read: records straddle reads


def _odd_frames() -> list[bytes]:
    """Frames the fast paths must leave to the Python decoder, or decode at their edges: TSO
    (IP length 0), a TCP header length below 20, UDP lengths too short and too long, a frame
    cut inside TCP, IPv4 options, IPv6 with a zero payload length."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    tcp = bytes(eth / IP(src=CLIENT4, dst=SERVER4) / TCP(sport=1, dport=2, flags="A") / b"data")
    tso = bytearray(tcp)
    tso[16:18] = b"\0\0"
    short_doff = bytearray(tcp)
    short_doff[46] = 0x40
    udp = bytes(eth / IP(src=CLIENT4, dst=SERVER4) / UDP(sport=3, dport=4) / b"payload")
    udp_short, udp_long = bytearray(udp), bytearray(udp)
    udp_short[38:40] = b"\0\x04"
    udp_long[38:40] = b"\x0f\xff"
    v6 = bytearray(bytes(eth / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=5, dport=6)))
    v6[18:20] = b"\0\0"
    return [bytes(tso), bytes(short_doff), bytes(udp_short), bytes(udp_long), tcp[:40],
            tcp[:60], bytes(v6), b"\x02" * 13, b""]


def _captures() -> dict[str, bytes]:
    frames = ether_frames() + vlan_frames() + _odd_frames() + [
        bytes(Ether() / p) for p in ipv6_ext_packets() + fragmented_packets()]
    ips = ip_packets()
    many = pcap_bytes(frames * 20)
    return {
        "pcap": many,
        "pcap big-endian ns": pcap_bytes(frames, order=">", nsec=True),
        "pcap truncated": many[:-7],
        "pcap garbage": many[:5000] + b"\xff" * 64 + many[5000:],
        "pcap oversized record": pcap_header(LINKTYPE_ETHERNET, snaplen=64)
        + pcap_record(T0_NS, frames[0]) + pcap_record(T0_NS + 1, frames[2]),
        "pcap sll": pcap_bytes([sll_frame(p, 1) for p in ips], LINKTYPE_SLL),
        "pcap raw": pcap_bytes([bytes(p) for p in ips], LINKTYPE_RAW),
        "pcapng": _pcapng(frames * 20, "<"),
        "pcapng big-endian": _pcapng(frames, ">"),
        "pcapng truncated": _pcapng(frames * 20, "<")[:-9],
        "pcapng microseconds and offset": shb() + idb(LINKTYPE_ETHERNET, tsresol=6, tsoffset=5)
        + b"".join(epb(0, 1_700_000_000_000_000 + i, f) for i, f in enumerate(frames)),
        "pcapng binary resolution": shb() + idb(LINKTYPE_ETHERNET, tsresol=0x94)
        + b"".join(epb(0, (1 << 40) + i, f) for i, f in enumerate(frames)),
        "pcapng oversized": shb() + idb(LINKTYPE_ETHERNET, snaplen=64, tsresol=9)
        + b"".join(epb(0, T0_NS + i, f) for i, f in enumerate(frames)),
        "pcapng cut at the snap length": shb() + idb(LINKTYPE_ETHERNET, snaplen=60, tsresol=9)
        + b"".join(epb(0, T0_NS + i, f[:60], wirelen=len(f)) for i, f in enumerate(frames)),
        "pcapng bad interface": shb() + idb(LINKTYPE_ETHERNET) + epb(0, 1, frames[0])
        + epb(3, 2, frames[1]),
        "pcapng interfaces, sections, spb, pb": shb() + idb(LINKTYPE_SLL2, tsresol=9)
        + idb(LINKTYPE_LOOP) + b"".join(epb(i % 2, T0_NS // 1000 + i, sll_frame(p) if i % 2 == 0
                                             else loopback_frame(p, ">"))
                                         for i, p in enumerate(ips * 3))
        + spb(frames[0]) + pb(1, 5, loopback_frame(ips[0], ">"))
        + shb(">") + idb(LINKTYPE_ETHERNET, ">", tsresol=9)
        + b"".join(epb(0, T0_NS + i, f, ">") for i, f in enumerate(frames)),
    }


def _pcapng(frames: list[bytes], order: str) -> bytes:
    return shb(order) + idb(LINKTYPE_ETHERNET, order, tsresol=9) + idb(LINKTYPE_SLL2, order) \
        + b"".join(epb(i % 2, T0_NS + i if i % 2 == 0 else T0_NS // 1000 + i,
                       f if i % 2 == 0 else sll_frame(Ether(f).payload) if len(f) > 14 else f,
                       order) for i, f in enumerate(frames))


CAPTURES = _captures()


def _both(monkeypatch, run):
    """run() with the fast paths, then without."""
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    compiled = run()
    with monkeypatch.context() as m:
        m.setattr(speedups, "fast", None)
        pure = run()
    return compiled, pure


def _reader(data: bytes):
    return open_stream(ChunkFile(data[i:i + CHUNK] for i in range(0, len(data), CHUNK)), "cap")


def _read(data: bytes) -> tuple:
    reader = _reader(data)
    records = [(ts, iface, buf[start:end]) for ts, iface, buf, start, end in reader.records()]
    return records, str(reader.damage), reader.notes, reader.interfaces


def _decoded(data: bytes) -> tuple:
    stats = DecodeStats()
    out = [tuple(getattr(p, slot) for slot in Packet.__slots__)
           for p in packets(_reader(data), stats)]
    return (out, *_counts(stats))


def _counts(stats: DecodeStats) -> tuple:
    return stats.packets, stats.ip, stats.non_ip, stats.fragments, dict(stats.malformed)


@pytest.mark.parametrize("name", CAPTURES)
def test_readers_give_the_same_records_and_damage(name, monkeypatch):
    compiled, pure = _both(monkeypatch, lambda: _read(CAPTURES[name]))
    assert compiled == pure
    assert pure[0]


@pytest.mark.parametrize("name", CAPTURES)
def test_decoder_gives_the_same_packets_and_counts(name, monkeypatch):
    compiled, pure = _both(monkeypatch, lambda: _decoded(CAPTURES[name]))
    assert compiled == pure


@pytest.mark.parametrize("name", CAPTURES)
def test_counting_alone_gives_the_counts_of_decoding(name, speedups_off):
    counted = DecodeStats()
    count(_reader(CAPTURES[name]), counted)
    assert _counts(counted) == _decoded(CAPTURES[name])[1:]


def test_decoder_agrees_on_the_shared_capture(shared_pcaps, monkeypatch):
    data = (shared_pcaps / "log4j-attack.pcap").read_bytes()
    compiled, pure = _both(monkeypatch, lambda: _decoded(data))
    assert compiled == pure
    assert len(pure[0]) > 50


def _connections(data: bytes) -> list[tuple]:
    """Every field of every record the engine makes of a capture (L7 parsers on)."""
    fields = [s for s in Conn.__slots__ if s not in ("state", "_ext")]
    done = Engine().run(packets(_reader(data), DecodeStats()))
    return [tuple(getattr(conn, f) for f in fields) for conn in done]


@pytest.mark.parametrize("name", ["log4j-attack.pcap", "log4j-dns_exfil.pcap",
                                  "log4j-user_agent.pcap", "log4j-webapp.pcap"])
def test_engine_gives_the_same_connections_on_the_shared_captures(name, shared_pcaps,
                                                                  monkeypatch):
    data = (shared_pcaps / name).read_bytes()
    compiled, pure = _both(monkeypatch, lambda: _connections(data))
    assert compiled == pure
    assert pure


def test_engine_gives_the_same_connections_on_a_bulk_capture(tmp_path, monkeypatch):
    data = synthetic_pcap(tmp_path / "bulk.pcap", 3000, flows=50, payload=700).read_bytes()
    compiled, pure = _both(monkeypatch, lambda: _connections(data))
    assert compiled == pure
    assert len(pure) == 50


def test_fast_packets_are_packets(speedups_off):
    decoded = list(packets(_reader(CAPTURES["pcap"]), DecodeStats()))
    assert all(type(p) is Packet for p in decoded)
    assert decoded[0].src == bytes([10, 1, 0, 5]) and decoded[0].version == 4


@pytest.mark.parametrize("key", [bytes(range(12)), bytes(range(36))])
def test_reversed_keys_agree(key):
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    assert speedups.fast.reverse_key(key) == reverse_key(key)


def _written(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = PcapngWriter(out, "test")
    reader = _reader(data)
    for batch in reader.batches():
        for iface in reader.interfaces[len(writer._ifaces):]:
            writer.add_interface(iface.linktype, byteorder=iface.byteorder,
                                 tsresol_ns=iface.linktype != LINKTYPE_SLL2)
        writer.write_batch(batch, [packet_options(f"packet {rec[0]}" * (rec[0] % 3))
                                   for rec in batch])
    return out.getvalue()


@pytest.mark.parametrize("name", ["pcap big-endian ns", "pcapng", "pcapng big-endian",
                                  "pcapng cut at the snap length",
                                  "pcapng interfaces, sections, spb, pb"])
def test_writer_writes_the_same_bytes(name, monkeypatch):
    compiled, pure = _both(monkeypatch, lambda: _written(CAPTURES[name]))
    assert compiled == pure


@pytest.mark.parametrize("ts", [0, 2**62 + 7, 2**63 + 12345, 2**64 - 1])
def test_writer_writes_any_64_bit_timestamp_the_same(ts, monkeypatch):
    def written() -> bytes:
        out = io.BytesIO()
        writer = PcapngWriter(out)
        writer.add_interface(LINKTYPE_ETHERNET)
        writer.write_batch([(ts, 0, b"\0\0\0\x04data", 4, 8)])
        return out.getvalue()

    compiled, pure = _both(monkeypatch, written)
    assert compiled == pure


def test_writer_refuses_an_interface_not_added(speedups_off):
    writer = PcapngWriter(io.BytesIO())
    writer.add_interface(LINKTYPE_ETHERNET)
    with pytest.raises(ValueError, match="interface 1 was not added"):
        writer.write_batch([(1, 1, b"\0\0\0\0data", 4, 8)])


def _recorded(data: bytes) -> bytes:
    pods = PodMap()
    pods.add(CLIENT4, PodInfo("demo", "client", "node-1", "192.168.49.2"), T0_NS - 10**9)
    pods.add(SERVER4, PodInfo("demo", "server", "node-2", "192.168.49.3"))
    pods.add("fd00::5", PodInfo("demo", "six", "node-1", "192.168.49.2"))
    out = io.BytesIO()
    for _ in Recording(_reader(data), out, pods).batches():
        pass
    return out.getvalue()


@pytest.mark.parametrize("name", ["pcap", "pcapng", "pcapng interfaces, sections, spb, pb"])
def test_recording_writes_the_same_file(name, monkeypatch):
    compiled, pure = _both(monkeypatch, lambda: _recorded(CAPTURES[name]))
    assert compiled == pure
    assert b" -> demo/" in pure


def test_extension_is_built_where_a_compiler_is():
    """pip builds it with the package when a C compiler is at hand (as in CI)."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the package installed pure Python")
    if os.environ.get("NETMON_PURE_PYTHON"):
        pytest.skip("NETMON_PURE_PYTHON is set for this run")
    assert speedups.fast is not None


def test_environment_turns_the_fast_paths_off():
    probe = "from kubectl_netmon.capture import speedups; print(speedups.fast is None)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "NETMON_PURE_PYTHON": "1"}, check=True)
    assert run.stdout.strip() == "True"


def test_compiled_records_are_not_tracked_by_the_cycle_collector():
    """A record holds ints and bytes only: tracking one per packet made the collector run
    every few hundred packets for nothing."""
    if speedups.fast is None:
        pytest.skip("the compiled fast paths are not built here")
    for name in ("pcap", "pcapng"):
        record = next(_reader(CAPTURES[name]).records())
        assert not gc.is_tracked(record)
