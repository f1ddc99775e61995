"""Zeek's ASCII (TSV) log format: header directives and cell escaping as Zeek's writer does them.

A TSV log starts with `#separator \\x09`, then `#set_separator`, `#empty_field`, `#unset_field`,
`#path`, `#open`, `#fields` and `#types` lines (values split by the separator), and may end with
`#close`. Zeek's writer escapes, inside a string, every non-printable byte, every backslash and
every occurrence of the separator as \\xNN, and writes a value that equals the unset or empty
marker with its first byte escaped, so a reader can always tell them apart
(zeek src/Desc.cc FirstEscapeLoc, src/threading/formatters/Ascii.cc).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_SEPARATOR = b"\t"
DEFAULT_SET_SEPARATOR = b","
DEFAULT_EMPTY = b"(empty)"
DEFAULT_UNSET = b"-"
_HEX = re.compile(rb"\\x([0-9a-fA-F]{2})")
_PRINTABLE = frozenset(range(0x20, 0x7F)) - {0x5C}


@dataclass
class Header:
    """The directives of a TSV log as raw bytes (separator already unescaped)."""

    separator: bytes = DEFAULT_SEPARATOR
    set_separator: bytes = DEFAULT_SET_SEPARATOR
    empty_field: bytes = DEFAULT_EMPTY
    unset_field: bytes = DEFAULT_UNSET

    def absorb(self, line: bytes) -> None:
        """Take the marker directives from one header line (without its newline)."""
        if line.startswith(b"#separator "):
            self.separator = unescape(line[len(b"#separator "):].strip())
            return
        key, _, value = line.partition(self.separator)
        if key == b"#set_separator":
            self.set_separator = value
        elif key == b"#empty_field":
            self.empty_field = value
        elif key == b"#unset_field":
            self.unset_field = value

    def values(self, line: bytes) -> list[bytes]:
        """The values of a `#fields` or `#types` line."""
        return line.split(self.separator)[1:]


def unescape(text: bytes) -> bytes:
    """\\xNN sequences back to bytes (how `#separator \\x09` is written)."""
    return _HEX.sub(lambda m: bytes((int(m.group(1), 16),)), text)


def escape_cell(value: str, header: Header) -> bytes:
    """One string value as Zeek's ASCII writer writes it: "" is the empty marker; non-printable
    bytes, backslash and the separator as \\xNN; a value equal to a marker has its first byte
    escaped."""
    raw = value.encode("utf-8")
    if not raw:
        return header.empty_field
    if raw in (header.unset_field, header.empty_field):
        return b"\\x%02x" % raw[0] + raw[1:]
    if all(b in _PRINTABLE for b in raw) and header.separator not in raw:
        return raw
    out = bytearray()
    i = 0
    sep = header.separator
    while i < len(raw):
        if raw.startswith(sep, i):
            out += b"".join(b"\\x%02x" % b for b in sep)
            i += len(sep)
            continue
        b = raw[i]
        out += bytes((b,)) if b in _PRINTABLE else b"\\x%02x" % b
        i += 1
    return bytes(out)


def directive(name: str, values: list[bytes], header: Header) -> bytes:
    """A `#name<sep>v1<sep>v2` header line with its newline."""
    return header.separator.join([b"#" + name.encode(), *values]) + b"\n"
