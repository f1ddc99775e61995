"""The little BER (X.690) an LDAP message needs: definite-length TLVs, read without copying."""

from __future__ import annotations


class BerError(ValueError):
    """Bytes that cannot be BER here (indefinite or oversized length, wrong tag)."""


def header(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the TLV at pos, or None if it is not complete yet.

    Single-byte tags only (all LDAP needs); raises BerError on an impossible length.
    """
    if end - pos < 2:
        return None
    tag = buf[pos]
    first = buf[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise BerError("unsupported BER length")
        if end - start < count:
            return None
        length = int.from_bytes(buf[start:start + count], "big")
        start += count
    if start + length > end:
        return None
    return tag, start, start + length


def children(buf: bytes, start: int, end: int):
    """(tag, content start, content end) of each TLV inside a constructed value."""
    pos = start
    while pos < end:
        tlv = header(buf, pos, end)
        if tlv is None:
            raise BerError("truncated BER element")
        yield tlv
        pos = tlv[2]


def expect(buf: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Content (start, end) of the complete TLV at pos, which must carry tag."""
    tlv = header(buf, pos, end)
    if tlv is None or tlv[0] != tag:
        raise BerError(f"expected BER tag 0x{tag:02x}")
    return tlv[1], tlv[2]
