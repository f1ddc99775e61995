"""What the readers expose beyond packets: each pcapng section's header options and Name
Resolution Block comments, and each record's original (on-wire) length, which sits just before
its data in the interface's byte order (pcap records, pcapng EPB, SPB and PB alike)."""

from __future__ import annotations

import struct

import pytest

from kubectl_netmon.capture.pcapng import Section
from kubectl_netmon.capture.reader import open_capture
from tests.capture.captures_gen import (
    LINKTYPE_ETHERNET,
    T0_NS,
    block,
    epb,
    ether_frames,
    idb,
    nrb,
    options,
    pb,
    pcap_header,
    pcap_record,
    shb,
    write,
)

FRAME = ether_frames()[2]  # TCP with payload: long enough to cut
CUT = 40


def shb_with(order: str, opts: list[tuple[int, bytes]]) -> bytes:
    """A Section Header Block with options: 1 comment, 2 hardware, 3 os, 4 userappl."""
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
                 + options(opts, order), order)


def nrb_with_comments(order: str, comments: list[str]) -> bytes:
    """A Name Resolution Block with one name and the given comments (option 1)."""
    body = nrb([(1, bytes([10, 0, 0, 1]), "web.demo")], order)[8:-4]
    return block(4, body + options([(1, c.encode()) for c in comments], order), order)


def read_all(path):
    with open_capture(str(path)) as reader:
        return [(iface, buf, start, end) for _ts, iface, buf, start, end in reader.records()], \
            reader


@pytest.mark.parametrize("order", ["<", ">"])
def test_each_section_reports_who_wrote_it_and_on_what(tmp_path, order):
    path = write(tmp_path / "x.pcapng",
                 shb_with(order, [(2, b"x86_64"), (3, b"Linux 6.1"), (4, b"kubectl-netmon 0.2.0")])
                 + idb(LINKTYPE_ETHERNET, order) + epb(0, 1, FRAME, order)
                 + shb(order) + idb(LINKTYPE_ETHERNET, order) + epb(0, 2, FRAME, order))

    _, reader = read_all(path)

    assert reader.sections == [Section("x86_64", "Linux 6.1", "kubectl-netmon 0.2.0"), Section()]


@pytest.mark.parametrize("order", ["<", ">"])
def test_name_block_comments_are_kept_in_their_section_in_order(tmp_path, order):
    path = write(tmp_path / "x.pcapng",
                 shb_with(order, [(4, b"one")]) + nrb_with_comments(order, ["a", "b"])
                 + shb_with(order, [(4, b"two")]) + nrb_with_comments(order, ["c"])
                 + nrb_with_comments(order, []))

    _, reader = read_all(path)

    assert [s.name_comments for s in reader.sections] == [["a", "b"], ["c"]]
    assert reader.name_records == {"10.0.0.1": "web.demo"}


def cut_capture(fmt: str, order: str) -> bytes:
    """FRAME cut to CUT bytes at a snap length of CUT, in a pcap or in one pcapng packet block."""
    cut, wire = FRAME[:CUT], len(FRAME)
    if fmt == "pcap":
        return pcap_header(LINKTYPE_ETHERNET, order, snaplen=CUT) + pcap_record(
            T0_NS, cut, order, wirelen=wire)
    if fmt == "epb":
        packet = epb(0, 1, cut, order, wirelen=wire)
    elif fmt == "pb":  # the builder writes the captured length as original: patch it
        whole = pb(0, 1, cut, order)
        packet = whole[:24] + struct.pack(order + "I", wire) + whole[28:]
    else:
        packet = block(3, struct.pack(order + "I", wire) + cut, order)
    return shb(order) + idb(LINKTYPE_ETHERNET, order, snaplen=CUT) + packet


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("fmt", ["pcap", "epb", "pb", "spb"])
def test_the_original_length_precedes_each_records_data(tmp_path, order, fmt):
    records, reader = read_all(write(tmp_path / "x.cap", cut_capture(fmt, order)))

    [(iface, buf, start, end)] = records
    byteorder = reader.interfaces[iface].byteorder
    assert (struct.unpack(byteorder + "I", buf[start - 4:start])[0], end - start) == \
        (len(FRAME), CUT)
