"""Classic pcap: both byte orders, micro- and nanosecond timestamps, constant memory."""

from __future__ import annotations

import tracemalloc

import pytest

from kubectl_netmon.capture.reader import Interface, open_capture
from tests.capture.captures_gen import (
    LINKTYPE_RAW,
    T0_NS,
    ether_frames,
    pcap_bytes,
    synthetic_pcap,
    write,
)
from tests.capture.readers_oracle import our_rows, tshark_rows


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("nsec", [False, True], ids=["usec", "nsec"])
def test_packets_match_tshark_in_each_byte_order_and_resolution(tmp_path, tshark, order, nsec):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames(), order=order, nsec=nsec))
    assert our_rows(path) == tshark_rows(tshark, path)


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_microsecond_timestamps_become_nanoseconds(tmp_path, order):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames()[:2], order=order))
    with open_capture(str(path)) as reader:
        stamps = [ts for ts, _iface, _data in reader]
    us = T0_NS // 1000 * 1000
    assert stamps == [us, us + 1_000_000]


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_nanosecond_timestamps_are_kept_exactly(tmp_path, order):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames()[:2], order=order, nsec=True))
    with open_capture(str(path)) as reader:
        assert [ts for ts, _iface, _data in reader] == [T0_NS, T0_NS + 1_000_000]


def test_iterating_yields_interface_zero_and_the_frame_bytes(tmp_path):
    frames = ether_frames()
    path = write(tmp_path / "x.pcap", pcap_bytes(frames))
    with open_capture(str(path)) as reader:
        assert [(iface, data) for _ts, iface, data in reader] == [(0, f) for f in frames]


def test_the_one_interface_has_the_file_link_type_and_snap_length(tmp_path):
    path = write(tmp_path / "x.pcap", pcap_bytes([b"\x45"], linktype=LINKTYPE_RAW, snaplen=1500))
    with open_capture(str(path)) as reader:
        assert reader.interfaces == [Interface(LINKTYPE_RAW, "", "", 1500)]


def test_a_clean_end_of_file_is_not_damage(tmp_path):
    path = write(tmp_path / "x.pcap", pcap_bytes(ether_frames()))
    with open_capture(str(path)) as reader:
        list(reader)
    assert reader.damage is None


def test_reading_keeps_memory_constant_in_the_number_of_packets(tmp_path):
    """What the reader holds is one read buffer and the records parsed from it, whatever the
    length of the file."""

    def peak_reading(packets: int) -> int:
        path = synthetic_pcap(tmp_path / f"{packets}.pcap", packets)
        tracemalloc.start()
        try:
            with open_capture(str(path)) as reader:
                assert sum(1 for _ in reader.records()) == packets
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak_reading(50_000), peak_reading(150_000)  # 6.5 and 20 MB
    assert large < small + (1 << 20) and large < 8 << 20
