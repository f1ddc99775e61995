"""The one escaping function for untrusted text (payloads, headers, names from packets or pods)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^\x20-\x5b\x5d-\x7e]")


def _esc(m: re.Match) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def escape(text: str | bytes) -> str:
    """Printable ASCII as is, backslash doubled, anything else as \\xNN (\\uNNNN above latin-1).

    Zeek's style for bytes (bytes read as latin-1 so each byte maps to one \\xNN): the result can
    never carry a control character or terminal escape sequence.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("latin-1")
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text  # the common case, without the regex machinery
    return _UNSAFE.sub(_esc, text)
