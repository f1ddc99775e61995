"""pcapng: interfaces of several link types, several sections with their own byte order and
interface list, if_tsresol/if_tsoffset, EPB/SPB/PB, Name Resolution Blocks, unknown blocks."""

from __future__ import annotations

import ipaddress

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.reader import Interface, open_capture
from tests.capture.captures_gen import (
    CLIENT4,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    LINKTYPE_SLL2,
    SERVER6,
    T0_NS,
    block,
    epb,
    ether_frames,
    idb,
    ip_packets,
    nrb,
    pb,
    shb,
    sll_frame,
    spb,
    write,
)
from tests.capture.readers_oracle import our_rows, tshark_rows

T0_US = T0_NS // 1000


def two_interfaces(order: str = "<") -> bytes:
    """Section with an Ethernet and a raw-IP interface, packets interleaved."""
    eth, raw = ether_frames()[:4], [bytes(p) for p in ip_packets()[4:8]]
    out = shb(order) + idb(LINKTYPE_ETHERNET, order, name="eth0") + idb(LINKTYPE_RAW, order)
    for i in range(4):
        out += epb(0, T0_US + 2 * i, eth[i], order) + epb(1, T0_US + 2 * i + 1, raw[i], order)
    return out


def second_section(order: str) -> bytes:
    """Section with one SLL2 interface (its index restarts at 0 within the section)."""
    frames = [sll_frame(p) for p in ip_packets()[:3]]
    return shb(order) + idb(LINKTYPE_SLL2, order, name="any") + b"".join(
        epb(0, T0_US + 100 + i, f, order) for i, f in enumerate(frames))


def iface_of_each_packet(path) -> list[int]:
    with open_capture(str(path)) as reader:
        return [p.iface for p in packets(reader, DecodeStats())]


def test_two_interfaces_of_different_link_types_match_tshark(tmp_path, tshark):
    path = write(tmp_path / "x.pcapng", two_interfaces())
    assert our_rows(path) == tshark_rows(tshark, path)


def test_each_packet_carries_its_interface_index(tmp_path):
    path = write(tmp_path / "x.pcapng", two_interfaces())
    assert iface_of_each_packet(path) == [0, 1] * 4


def test_interfaces_list_link_type_name_description_and_snap_length(tmp_path):
    data = shb() + idb(LINKTYPE_ETHERNET, name="eth0", description="pod web-1", snaplen=9000)
    with open_capture(str(write(tmp_path / "x.pcapng", data))) as reader:
        list(reader)
    assert reader.interfaces == [Interface(LINKTYPE_ETHERNET, "eth0", "pod web-1", 9000)]


@pytest.mark.parametrize("orders", [("<", ">"), (">", "<")], ids=["le-then-be", "be-then-le"])
def test_two_sections_with_their_own_byte_order_match_tshark(tmp_path, tshark, orders):
    path = write(tmp_path / "x.pcapng", two_interfaces(orders[0]) + second_section(orders[1]))
    assert our_rows(path) == tshark_rows(tshark, path)


def test_interfaces_of_a_later_section_get_the_next_global_indexes(tmp_path):
    path = write(tmp_path / "x.pcapng", two_interfaces() + second_section(">"))
    assert iface_of_each_packet(path)[-3:] == [2, 2, 2]
    with open_capture(str(path)) as reader:
        list(reader)
    assert [i.linktype for i in reader.interfaces] == [LINKTYPE_ETHERNET, LINKTYPE_RAW,
                                                       LINKTYPE_SLL2]


def stamps(path) -> list[int]:
    with open_capture(str(path)) as reader:
        return [ts for ts, _iface, _data in reader]


def test_timestamps_default_to_microseconds(tmp_path):
    data = shb() + idb(LINKTYPE_ETHERNET) + epb(0, T0_US, ether_frames()[0])
    assert stamps(write(tmp_path / "x.pcapng", data)) == [T0_US * 1000]


def test_if_tsresol_in_nanoseconds_is_honoured(tmp_path):
    data = shb() + idb(LINKTYPE_ETHERNET, tsresol=9) + epb(0, T0_NS, ether_frames()[0])
    assert stamps(write(tmp_path / "x.pcapng", data)) == [T0_NS]


def test_if_tsresol_as_a_power_of_two_is_honoured(tmp_path):
    data = shb() + idb(LINKTYPE_ETHERNET, tsresol=0x80 | 10) + epb(0, 3 * 1024 + 512,
                                                                  ether_frames()[0])
    assert stamps(write(tmp_path / "x.pcapng", data)) == [3_500_000_000]


def test_if_tsoffset_seconds_are_added(tmp_path):
    data = shb() + idb(LINKTYPE_ETHERNET, tsoffset=1_000) + epb(0, 5, ether_frames()[0])
    assert stamps(write(tmp_path / "x.pcapng", data)) == [1_000_000_005_000]


def test_interfaces_keep_their_own_resolution(tmp_path):
    frame = ether_frames()[0]
    data = (shb() + idb(LINKTYPE_ETHERNET) + idb(LINKTYPE_ETHERNET, tsresol=9)
            + epb(0, T0_US, frame) + epb(1, T0_NS, frame))
    assert stamps(write(tmp_path / "x.pcapng", data)) == [T0_US * 1000, T0_NS]


def test_simple_and_obsolete_packet_blocks_match_tshark(tmp_path, tshark):
    frames = ether_frames()[:3]
    data = (shb() + idb(LINKTYPE_ETHERNET) + epb(0, T0_US, frames[0]) + spb(frames[1])
            + pb(0, T0_US + 5, frames[2]))
    path = write(tmp_path / "x.pcapng", data)
    assert our_rows(path) == tshark_rows(tshark, path)


def test_a_simple_packet_block_takes_the_previous_timestamp(tmp_path):
    frames = ether_frames()[:2]
    data = shb() + idb(LINKTYPE_ETHERNET) + epb(0, T0_US, frames[0]) + spb(frames[1])
    assert stamps(write(tmp_path / "x.pcapng", data)) == [T0_US * 1000] * 2


def test_name_resolution_records_of_ipv4_and_ipv6_are_collected(tmp_path):
    records = [(1, ipaddress.ip_address(CLIENT4).packed, "web-1"),
               (2, ipaddress.ip_address(SERVER6).packed, "db-0.prod")]
    data = shb() + nrb(records) + idb(LINKTYPE_ETHERNET) + epb(0, T0_US, ether_frames()[0])
    with open_capture(str(write(tmp_path / "x.pcapng", data))) as reader:
        list(reader)
    assert reader.name_records == {CLIENT4: "web-1", SERVER6: "db-0.prod"}


def test_an_unknown_block_type_is_skipped_without_damage(tmp_path):
    frames = ether_frames()[:2]
    data = (shb() + idb(LINKTYPE_ETHERNET) + epb(0, T0_US, frames[0])
            + block(0x7777, b"future block body") + epb(0, T0_US + 1, frames[1]))
    path = write(tmp_path / "x.pcapng", data)
    with open_capture(str(path)) as reader:
        assert len(list(reader)) == 2
    assert reader.damage is None
