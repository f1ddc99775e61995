"""Classic libpcap files: both byte orders, micro- and nanosecond timestamps, one interface.

Byte order, record Struct and timestamp scale are chosen once from the magic number.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.source import MAX_SNAPLEN, CaptureReader, Chunks, Interface, Record
from kubectl_netmon.errors import CaptureError
from kubectl_netmon.output.escape import escape

HEADER_LEN = 24
RECORD_LEN = 16
# magic as read big-endian -> (byte order, nanoseconds per timestamp fraction unit)
MAGICS = {
    0xA1B2C3D4: (">", 1000), 0xD4C3B2A1: ("<", 1000),
    0xA1B23C4D: (">", 1), 0x4D3CB2A1: ("<", 1),
}
_MAGIC = struct.Struct(">I")


class PcapReader(CaptureReader):
    """Reader of one classic pcap stream; `head` holds at least the file header when possible."""

    def __init__(self, name: str, fileobj: BinaryIO, head: bytes, owns_file: bool = True,
                 chunks: Chunks | None = None) -> None:
        super().__init__(name, fileobj, head, owns_file, chunks)
        if len(head) < HEADER_LEN:
            raise CaptureError(f"{escape(name)}: pcap file header cut short ({len(head)} of "
                               f"{HEADER_LEN} bytes); the file is truncated, capture again")
        order, self._frac_ns = MAGICS[_MAGIC.unpack_from(head)[0]]
        snaplen, network = struct.unpack_from(order + "16xII", head)
        self._record = struct.Struct(order + "IIII")
        self._limit = snaplen or MAX_SNAPLEN
        # The upper bits of the link-type field carry FCS information, not the link type.
        self.interfaces.append(Interface(network & 0xFFFF, "", "", snaplen, order))

    def _parse(self, out: list[Record]) -> Iterator[None]:
        append = out.append
        big = self._record.format.startswith(">")
        unpack = self._record.unpack_from
        frac_ns, limit, chunks = self._frac_ns, self._limit, self._chunks
        refill = chunks.refill
        buf, pos = self._head, HEADER_LEN
        self._head = b""
        size = len(buf)
        n = 0
        while True:
            # every complete record in the buffer, with no call beyond the unpack
            if speedups.fast is not None:
                pos, k = speedups.fast.pcap_records(buf, pos, size, big, frac_ns, limit, out)
                n += k
            while True:
                start = pos + 16
                if start > size:
                    break
                sec, frac, incl, _orig = unpack(buf, pos)
                end = start + incl
                if end > size or incl > limit:
                    break
                append((sec * 1_000_000_000 + frac * frac_ns, 0, buf, start, end))
                n += 1
                pos = end
            # a record header or body crosses the end of the buffer, or the record is bad
            incl = unpack(buf, pos)[2] if size - pos >= RECORD_LEN else 0
            if incl > limit:
                self._damaged(self._chunks.base + pos, n, "damaged",
                              f"record header says {incl} bytes, snap length {limit}")
                return
            need = RECORD_LEN + incl
            if not chunks.holds(need):
                yield  # the records so far go on before a read that may wait
            buf, pos = refill(buf, pos, need)
            size = len(buf)
            have = size - pos
            if have < need:
                if have:
                    self._cut(pos, n, f"record header has {have} of {RECORD_LEN} bytes"
                              if have < RECORD_LEN else
                              f"record needs {need - RECORD_LEN} bytes, {have - RECORD_LEN} "
                              "present")
                return
