"""PcapngWriter output as tshark and our reader see it: pod names through Name Resolution
Blocks (`tshark -N n`), per-packet comments, interface names and descriptions, timestamps."""

from __future__ import annotations

import struct
import subprocess

import pytest

from kubectl_netmon.capture.pcapng_write import PcapngWriter, packet_options
from kubectl_netmon.capture.reader import Interface, open_capture
from tests.capture.captures_gen import (
    CLIENT4,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    SERVER4,
    SERVER6,
    T0_NS,
    ether_frames,
    ip_packets,
)
from tests.capture.readers_oracle import our_rows, tshark_rows

FRAMES = ether_frames()[:8]  # 5 IPv4 then 3 IPv6


def fields(tshark: str, path, *names: str, resolve: bool = False) -> list[list[str]]:
    """tshark's values of `names` per packet; `resolve` shows names from the file (-N n)."""
    cmd = [tshark, "-r", str(path), *(["-N", "n"] if resolve else ["-n"]), "-T", "fields"]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.fixture
def written(tmp_path):
    """Ethernet and raw-IP interfaces, names before the packets, comments on two packets."""
    path = tmp_path / "pods.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        eth = w.add_interface(LINKTYPE_ETHERNET, "eth0", "pod default/web-1")
        raw = w.add_interface(LINKTYPE_RAW, "any", tsresol_ns=False)
        w.add_names([(CLIENT4, "web-1.default"), (SERVER6, "db-0.prod")])
        for i, frame in enumerate(FRAMES):
            w.write_packet(eth, T0_NS + i, frame, comment="to db-0" if i in (1, 6) else None)
        w.write_packet(raw, T0_NS + 10_000, bytes(ip_packets()[0]), comment="raw ünicode")
        w.flush()
    return path


def test_tshark_reads_every_packet_back(written, tshark):
    assert our_rows(written) == tshark_rows(tshark, written) and len(our_rows(written)) == 9


def test_tshark_shows_pod_names_from_the_name_resolution_block(written, tshark):
    hosts = fields(tshark, written, "ip.src_host", "ipv6.dst_host", resolve=True)
    assert (hosts[0][0], hosts[5][1]) == ("web-1.default", "db-0.prod")


def test_tshark_shows_per_packet_comments(written, tshark):
    comments = [row[0] for row in fields(tshark, written, "frame.comment")]
    assert comments == ["", "to db-0", "", "", "", "", "to db-0", "", "raw ünicode"]


def test_tshark_shows_interface_names_and_descriptions(written, tshark):
    rows = fields(tshark, written, "frame.interface_name", "frame.interface_description")
    assert (rows[0], rows[-1]) == (["eth0", "pod default/web-1"], ["any", ""])


def test_timestamps_keep_nanoseconds_or_microseconds_per_interface(written, tshark):
    stamps = [row[0] for row in fields(tshark, written, "frame.time_epoch")]
    assert (stamps[1], stamps[-1]) == ("1700000000.123456790", "1700000000.123466000")


def read_back(path):
    """(frames as (iface, data), reader) after reading the whole file with our reader."""
    with open_capture(str(path)) as reader:
        return [(iface, data) for _ts, iface, data in reader], reader


def test_our_reader_gets_the_frames_back_on_their_interfaces(written):
    frames, _reader = read_back(written)
    assert frames == [(0, f) for f in FRAMES] + [(1, bytes(ip_packets()[0]))]


def test_our_reader_gets_the_interface_names_back(written):
    _frames, reader = read_back(written)
    assert reader.interfaces == [Interface(LINKTYPE_ETHERNET, "eth0", "pod default/web-1", 262144),
                                 Interface(LINKTYPE_RAW, "any", "", 262144)]


def test_our_reader_gets_the_pod_names_back(written):
    _frames, reader = read_back(written)
    assert reader.name_records == {CLIENT4: "web-1.default", SERVER6: "db-0.prod"}


def test_names_can_be_added_between_packets(tmp_path):
    path = tmp_path / "late.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.write_packet(w.add_interface(LINKTYPE_ETHERNET), T0_NS, FRAMES[0])
        w.add_names([(SERVER4, "api-7")])
    frames, reader = read_back(path)
    assert (len(frames), reader.name_records) == (1, {SERVER4: "api-7"})


def test_original_length_is_kept_when_the_data_was_cut(tmp_path, tshark):
    path = tmp_path / "cut.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.write_packet(w.add_interface(LINKTYPE_ETHERNET, snaplen=64), T0_NS, FRAMES[2][:64],
                       wirelen=len(FRAMES[2]))
    assert fields(tshark, path, "frame.len", "frame.cap_len") == [[str(len(FRAMES[2])), "64"]]


def test_a_packet_on_an_interface_never_added_is_refused(tmp_path):
    with open(tmp_path / "x.pcapng", "wb") as f, pytest.raises(ValueError):
        PcapngWriter(f).write_packet(0, T0_NS, FRAMES[0])


def test_the_section_header_names_the_writing_application(tmp_path, tshark):
    path = tmp_path / "app.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f, "kubectl-netmon 1.2.3")
        w.write_packet(w.add_interface(LINKTYPE_ETHERNET), T0_NS, FRAMES[0])
    capinfos = subprocess.run([tshark.replace("tshark", "capinfos"), str(path)],
                              check=True, capture_output=True, text=True).stdout

    assert "Capture application: kubectl-netmon 1.2.3" in capinfos
    assert read_back(path)[1].sections[0].userappl == "kubectl-netmon 1.2.3"


def test_name_blocks_carry_comments_and_tshark_still_reads_their_names(tmp_path, tshark):
    path = tmp_path / "comments.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.add_names([(CLIENT4, "web-1.default")], ["first", "second"])
        w.add_names([], ["only a comment"])
        w.write_packet(w.add_interface(LINKTYPE_ETHERNET), T0_NS, FRAMES[0])

    assert fields(tshark, path, "ip.src_host", resolve=True) == [["web-1.default"]]
    assert read_back(path)[1].sections[0].name_comments == ["first", "second", "only a comment"]


def records_of(frames: list[bytes], order: str = "<") -> list[tuple]:
    """Records as a reader yields them: each frame after its original length (Record)."""
    return [(T0_NS + i, 0, struct.pack(order + "I", len(f)) + f, 4, 4 + len(f))
            for i, f in enumerate(frames)]


def test_a_batch_of_records_is_written_in_order(tmp_path):
    """Records as a big-endian reader yields them (the original length before the data)."""
    with open(tmp_path / "rec.pcapng", "wb") as f:
        w = PcapngWriter(f)
        w.add_interface(LINKTYPE_ETHERNET, byteorder=">")
        w.write_batch(records_of(FRAMES, ">"))
    assert read_back(tmp_path / "rec.pcapng")[0] == [(0, f) for f in FRAMES]


def test_records_carry_the_options_given_per_packet(tmp_path, tshark):
    path = tmp_path / "opts.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.add_interface(LINKTYPE_ETHERNET)
        w.write_batch(records_of(FRAMES[:3]), [b"", packet_options("second"), b""])
    assert [row[0] for row in fields(tshark, path, "frame.comment")] == ["", "second", ""]


def test_a_batch_is_in_the_file_once_written_and_flushed(tmp_path):
    path = tmp_path / "mid.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.add_interface(LINKTYPE_ETHERNET)
        w.write_batch(records_of(FRAMES[:3]))
        w.flush()
        assert len(read_back(path)[0]) == 3
        w.write_batch(records_of(FRAMES[3:]))
    assert len(read_back(path)[0]) == len(FRAMES)
