"""Bad input: what cannot be read at all raises CaptureError with one line; damage later in a
stream stops reading there, keeps every packet before it and says where in `reader.damage`."""

from __future__ import annotations

import gzip
import socket
import struct

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.reader import open_capture, open_stream
from kubectl_netmon.errors import CaptureError
from tests.capture.captures_gen import (
    LINKTYPE_ETHERNET,
    T0_NS,
    epb,
    ether_frames,
    idb,
    pcap_bytes,
    pcap_record,
    shb,
    write,
)

FRAMES = ether_frames()[:4]


def read_all(path) -> tuple[int, str | None]:
    """(packets decoded, str(damage) or None)."""
    with open_capture(str(path)) as reader:
        count = sum(1 for _ in packets(reader, DecodeStats()))
    return count, None if reader.damage is None else str(reader.damage)


def error_of(path: str) -> str:
    with pytest.raises(CaptureError) as e:
        open_capture(path)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_missing_file_is_named_with_what_to_do(tmp_path):
    path = str(tmp_path / "nope.pcap")
    assert error_of(path) == f"{path}: no such file; check the path"


def test_a_directory_is_refused(tmp_path):
    assert "is a directory" in error_of(str(tmp_path))


def test_a_file_that_fails_to_read_is_refused():
    assert error_of("/proc/self/mem").startswith("/proc/self/mem: cannot read (")


def test_an_empty_file_is_refused(tmp_path):
    path = write(tmp_path / "empty.pcap", b"")
    assert error_of(str(path)).startswith(f"{path}: empty, no capture in it; ")


def test_a_file_that_is_not_a_capture_shows_its_first_bytes_and_what_to_do(tmp_path):
    path = write(tmp_path / "page.pcap", b"<html><body>not a capture</body></html>")
    assert error_of(str(path)) == (
        f"{path}: not a pcap or pcapng capture (first bytes 3c 68 74 6d 6c 3e 3c 62); give a "
        "file written by tcpdump, dumpcap or Wireshark, or convert it with "
        "`editcap -F pcapng IN OUT`")


def test_a_gzip_compressed_capture_is_read_through(tmp_path):
    path = write(tmp_path / "x.pcap.gz", gzip.compress(pcap_bytes(FRAMES)))
    assert read_all(path) == (len(FRAMES), None)


def test_a_gzip_compressed_stream_is_read_through(tmp_path):
    with open(write(tmp_path / "x.gz", gzip.compress(pcap_bytes(FRAMES))), "rb") as f:
        reader = open_stream(f, "stdin", owns_file=False)
        assert sum(1 for _ in packets(reader, DecodeStats())) == len(FRAMES)


def test_a_cut_off_gzip_capture_keeps_the_packets_before_the_cut(tmp_path):
    squeezed = gzip.compress(pcap_bytes(FRAMES * 50), compresslevel=0)
    path = write(tmp_path / "x.pcap.gz", squeezed[: len(squeezed) // 2])
    count, damage = read_all(path)
    assert 0 < count < len(FRAMES) * 50
    assert "read failed: gzip stream cut off or damaged" in damage


def test_a_zstd_compressed_capture_is_refused_with_how_to_stream_it(tmp_path):
    path = write(tmp_path / "x.pcap.zst", b"\x28\xb5\x2f\xfd" + bytes(40))
    assert error_of(str(path)) == (f"{path}: zstd-compressed; stream it decompressed: "
                                   "`zstd -dc FILE | kubectl netmon analyze -`")


def test_a_pcap_file_header_cut_short_is_refused(tmp_path):
    path = write(tmp_path / "x.pcap", pcap_bytes([])[:10])
    assert "pcap file header cut short (10 of 24 bytes)" in error_of(str(path))


def test_a_truncated_last_record_keeps_the_packets_before_it(tmp_path):
    data = pcap_bytes(FRAMES)
    path = write(tmp_path / "x.pcap", data[:-10])
    last = len(data) - 16 - len(FRAMES[-1])
    assert read_all(path) == (3, f"{path}: capture truncated at byte {last} after 3 packets "
                                 f"(record needs {len(FRAMES[-1])} bytes, "
                                 f"{len(FRAMES[-1]) - 10} present)")


def test_a_truncated_record_header_is_damage(tmp_path):
    data = pcap_bytes(FRAMES) + pcap_record(T0_NS, FRAMES[0])[:7]
    path = write(tmp_path / "x.pcap", data)
    assert read_all(path) == (4, f"{path}: capture truncated at byte {len(data) - 7} after 4 "
                                 "packets (record header has 7 of 16 bytes)")


def test_a_record_larger_than_the_snap_length_is_damage(tmp_path):
    data = pcap_bytes(FRAMES[:2], snaplen=65535) + pcap_record(T0_NS, b"\0" * 70000)
    path = write(tmp_path / "x.pcap", data)
    assert read_all(path) == (2, f"{path}: capture damaged at byte {len(data) - 70016} after 2 "
                                 "packets (record header says 70000 bytes, snap length 65535)")


def test_garbage_in_the_middle_of_a_pcap_stops_there(tmp_path):
    good = pcap_bytes(FRAMES[:3])
    path = write(tmp_path / "x.pcap", good + b"\xde\xad\xbe\xef" * 8 + pcap_bytes(FRAMES)[24:])
    count, damage = read_all(path)
    assert (count, damage.split(" (")[0]) == (
        3, f"{path}: capture damaged at byte {len(good)} after 3 packets")


def pcapng(*blocks: bytes) -> bytes:
    return shb() + idb(LINKTYPE_ETHERNET) + b"".join(blocks)


def test_a_pcapng_block_whose_lengths_disagree_is_damage(tmp_path):
    bad = bytearray(epb(0, 2, FRAMES[1]))
    bad[-4:] = (len(bad) + 4).to_bytes(4, "little")
    head = pcapng(epb(0, 1, FRAMES[0]))
    path = write(tmp_path / "x.pcapng", head + bytes(bad) + epb(0, 3, FRAMES[2]))
    assert read_all(path) == (1, f"{path}: capture damaged at byte {len(head)} after 1 packet "
                                 f"(block lengths disagree: {len(bad)} at its start, "
                                 f"{len(bad) + 4} at its end)")


def test_a_truncated_last_pcapng_block_keeps_the_packets_before_it(tmp_path):
    head = pcapng(epb(0, 1, FRAMES[0]), epb(0, 2, FRAMES[1]))
    last = epb(0, 3, FRAMES[2])
    path = write(tmp_path / "x.pcapng", head + last[:-20])
    assert read_all(path) == (2, f"{path}: capture truncated at byte {len(head)} after 2 "
                                 f"packets (block needs {len(last)} bytes, "
                                 f"{len(last) - 20} present)")


def test_garbage_in_the_middle_of_a_pcapng_stops_there(tmp_path):
    head = pcapng(epb(0, 1, FRAMES[0]))
    path = write(tmp_path / "x.pcapng", head + b"\xff" * 64 + epb(0, 2, FRAMES[1]))
    count, damage = read_all(path)
    assert (count, damage.split(" (")[0]) == (
        1, f"{path}: capture damaged at byte {len(head)} after 1 packet")


def test_a_packet_on_an_undescribed_interface_is_damage(tmp_path):
    path = write(tmp_path / "x.pcapng", pcapng(epb(0, 1, FRAMES[0]), epb(3, 2, FRAMES[1])))
    assert read_all(path)[1].endswith(
        "after 1 packet (packet on interface 3, but the section describes 1)")


def test_a_read_error_mid_stream_keeps_the_packets_before_it():
    """A stream whose connection is reset (a real TCP RST on loopback) after 3 records."""
    data = pcap_bytes(FRAMES)
    cut = len(pcap_bytes(FRAMES[:3])) + 5
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    peer.sendall(data[:cut])
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    with client, server, client.makefile("rb") as stream:
        reader = open_stream(stream, "exec-stream")
        count = sum(1 for _ in packets(reader, DecodeStats()))
    assert (count, str(reader.damage)) == (
        3, f"exec-stream: capture truncated at byte {cut - 5} after 3 packets "
           "(read failed: Connection reset by peer)")
