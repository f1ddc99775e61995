"""The BER reader under the LDAP detector: definite lengths, incomplete input, bad lengths."""

from __future__ import annotations

import pytest

from kubectl_netmon.detect.log4shell.ber import BerError, children, expect, header
from tests.detect.wire import tlv


def test_short_form_length():
    assert header(b"\x04\x03abc", 0, 5) == (0x04, 2, 5)


def test_long_form_length():
    data = tlv(0x04, b"x" * 300)
    assert header(data, 0, len(data)) == (0x04, 4, 304)


def test_incomplete_element_is_none_not_an_error():
    data = tlv(0x04, b"x" * 300)
    assert header(data[:100], 0, 100) is None


@pytest.mark.parametrize("data", [b"\x30\x80\x00\x00", b"\x30\x85\x01\x02\x03\x04\x05"])
def test_indefinite_or_oversized_length_is_an_error(data):
    with pytest.raises(BerError):
        header(data, 0, len(data))


def test_children_walks_a_constructed_value():
    data = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, b"ab"))
    assert [(tag, data[s:e]) for tag, s, e in children(data, 2, len(data))] == [
        (0x02, b"\x01"), (0x04, b"ab")]


def test_expect_rejects_another_tag():
    with pytest.raises(BerError):
        expect(tlv(0x04, b"a"), 0, 3, 0x02)
