"""One TCP direction's in-order delivery: first copy wins, holes held, gaps counted."""

from __future__ import annotations

from kubectl_netmon.capture.reassembly import Limits, Stream


def stream(deliver: int = 1000, hold_bytes: int = 1000, hold_segments: int = 8) -> Stream:
    return Stream(Limits(deliver, hold_bytes, hold_segments))


def test_in_order_segments_pass_through():
    s = stream()
    assert s.add(1, b"abc") == b"abc"
    assert s.add(4, b"def") == b"def"
    assert s.missed == 0


def test_retransmission_delivers_nothing_new():
    s = stream()
    s.add(1, b"abc")
    assert s.add(1, b"abc") == b""


def test_overlap_keeps_the_first_copy():
    s = stream()
    s.add(1, b"abc")
    assert s.add(2, b"XYde") == b"de"


def test_out_of_order_segment_waits_for_the_hole():
    s = stream()
    assert s.add(4, b"def") == b""
    assert s.add(1, b"abc") == b"abcdef"


def test_overlapping_held_segments_keep_the_first_copy():
    s = stream()
    s.add(4, b"de")
    s.add(4, b"XYZ")
    assert s.add(1, b"abc") == b"abcdeZ"


def test_full_hold_buffer_gives_up_on_the_hole():
    s = stream(hold_segments=2)
    s.add(1, b"a")
    s.add(5, b"e")
    s.add(7, b"g")
    assert s.add(9, b"i") == b"e"  # third held segment: the hole 2..4 is skipped
    assert (s.missed, s.gaps) == (3, 1)


def test_acknowledged_data_never_seen_is_a_gap():
    s = stream()
    s.add(1, b"abc")
    s.add(8, b"hi")
    assert s.ack(10) == b"hi"
    assert s.missed == 4


def test_acknowledgement_within_delivered_data_changes_nothing():
    s = stream()
    s.add(1, b"abc")
    assert s.ack(4) == b""
    assert s.missed == 0


def test_flush_skips_holes_and_delivers_held_data():
    s = stream()
    s.add(1, b"a")
    s.add(3, b"c")
    s.add(6, b"f")
    assert s.flush() == b"cf"
    assert (s.missed, s.gaps) == (3, 2)


def test_only_the_first_bytes_are_delivered_but_positions_go_on():
    s = stream(deliver=4)
    assert s.add(1, b"abc") == b"abc"
    assert s.add(4, b"def") == b"d"
    assert s.add(7, b"ghi") == b""
    s.add(20, b"x")
    s.ack(21)
    assert s.missed == 10  # the gap 10..19 is counted beyond the delivery limit too
