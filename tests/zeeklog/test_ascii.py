"""Zeek ASCII writer escaping of one string cell (zeek src/Desc.cc, formatters/Ascii.cc)."""

from __future__ import annotations

import pytest

from kubectl_netmon.zeeklog.ascii import Header, escape_cell, unescape


@pytest.mark.parametrize(("value", "cell"), [
    ("web-1", b"web-1"),
    ("", b"(empty)"),
    ("-", b"\\x2d"),
    ("(empty)", b"\\x28empty)"),
    ("a\tb", b"a\\x09b"),
    ("back\\slash", b"back\\x5cslash"),
    ("\x1b[31m", b"\\x1b[31m"),
    ("caf\u00e9", b"caf\\xc3\\xa9"),
])
def test_a_value_is_written_as_zeeks_ascii_writer_writes_it(value, cell):
    assert escape_cell(value, Header()) == cell


def test_a_custom_separator_is_escaped_instead_of_the_tab():
    header = Header()
    header.absorb(b"#separator \\x7c")
    assert escape_cell("a|b\tc", header) == b"a\\x7cb\\x09c"


def test_the_separator_directive_is_read_from_its_escaped_form():
    assert unescape(b"\\x09") == b"\t"
