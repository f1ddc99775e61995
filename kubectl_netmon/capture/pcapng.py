"""pcapng: several sections (each with its own byte order and interfaces), EPB, SPB, the obsolete
PB, interface options (name, description, if_tsresol, if_tsoffset), the section header's
options (who wrote it, on what) and Name Resolution Blocks (names, and the blocks' comments).

Unknown block types are skipped; a block whose leading and trailing lengths disagree is damage.
The block Structs and each interface's timestamp scale are chosen once per section/interface.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.source import MAX_SNAPLEN, CaptureReader, Chunks, Interface, Record
from kubectl_netmon.output.escape import escape

SHB, IDB, PB, SPB, NRB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 6
BOM = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
MAX_BLOCK = 16 << 20
OPT_COMMENT = 1
OPT_NAME, OPT_DESCRIPTION, OPT_TSRESOL, OPT_TSOFFSET = 2, 3, 9, 14
OPT_SHB_HARDWARE, OPT_SHB_OS, OPT_SHB_USERAPPL = 2, 3, 4
NRB_IPV4, NRB_IPV6 = 1, 2


class _Order:
    """The Structs of one byte order; a section picks one when its header is read."""

    def __init__(self, c: str) -> None:
        self.c = c
        # type, length, then an EPB's interface, ts high, ts low, captured and original length
        self.head = struct.Struct(c + "IIIIIII").unpack_from
        self.u32 = struct.Struct(c + "I").unpack_from
        self.opt = struct.Struct(c + "HH").unpack_from
        self.pb = struct.Struct(c + "HHIIII").unpack_from
        self.idb = struct.Struct(c + "HxxI").unpack_from
        self.shb = struct.Struct(c + "HH").unpack_from
        self.i64 = struct.Struct(c + "q").unpack_from


ORDERS = {c: _Order(c) for c in "<>"}
_ZEROS = bytes(28)


def ts_scale(tsresol: int) -> tuple[int, int]:
    """(mul, div) turning if_tsresol units into ns: 10^-n if the top bit is clear, else 2^-n."""
    exp = tsresol & 0x7F
    if tsresol & 0x80:
        return 1_000_000_000, 1 << exp
    if exp <= 9:
        return 10 ** (9 - exp), 1
    return 1, 10 ** (exp - 9)


@dataclass
class Section:
    """One section's header options (untrusted text), and the comments of its Name Resolution
    Blocks in file order: a writer may say more about its names there."""

    hardware: str = ""
    os: str = ""
    userappl: str = ""
    name_comments: list[str] = field(default_factory=list)


class PcapngReader(CaptureReader):
    """Reader of one pcapng stream; `head` starts with the first Section Header Block.

    `sections` grows as the stream is read: each section's header and NRB comments.
    """

    def __init__(self, name: str, fileobj: BinaryIO, head: bytes, owns_file: bool = True,
                 chunks: Chunks | None = None) -> None:
        super().__init__(name, fileobj, head, owns_file, chunks)
        self.sections: list[Section] = []

    def _parse(self, out: list[Record]) -> Iterator[None]:
        append = out.append
        chunks = self._chunks
        refill = chunks.refill
        buf, pos = self._head, 0
        self._head = b""
        size = len(buf)
        n = ts = 0
        o = ORDERS["<"]
        head, u32 = o.head, o.u32
        # this section's interfaces: (global index, ts mul, ts div, ts offset ns, snap length)
        sect: list[tuple[int, int, int, int, int]] = []
        while True:
            # every valid EPB wholly in the buffer, with nothing beyond two unpacks
            if speedups.fast is not None:
                pos, k, last = speedups.fast.epbs(buf, pos, size, o.c == ">", sect, out)
                if k:
                    n, ts = n + k, last
            while pos + 28 <= size:
                btype, blen, a, b, c, cap, _ = head(buf, pos)
                end = pos + blen
                if (btype != 6 or end > size or blen & 3 or u32(buf, end - 4)[0] != blen
                        or a >= len(sect) or 32 + cap > blen):
                    break
                g, mul, div, off, snap = sect[a]
                if cap > snap:
                    break
                ts = b << 32 | c
                if div != 1 or mul != 1 or off:  # not dumpcap's nanoseconds
                    ts = ts * mul // div + off
                append((ts, g, buf, pos + 28, pos + 28 + cap))
                n += 1
                pos = end
            # any other block, one crossing the end of the buffer, or a bad one
            if size - pos < 28:
                if not chunks.holds(28):
                    yield  # the records so far go on before a read that may wait
                buf, pos = refill(buf, pos, 28)
                size = len(buf)
                if size - pos < 12:
                    if size - pos:
                        self._cut(pos, n, f"block header has {size - pos} of 12 bytes")
                    return
                btype, blen, a, b, c, cap, _ = head(buf + _ZEROS if size - pos < 28 else buf, pos)
            else:
                btype, blen, a, b, c, cap, _ = head(buf, pos)
            if btype == SHB:
                order = BOM.get(buf[pos + 8:pos + 12])
                if order is None:
                    magic = buf[pos + 8:pos + 12].hex()
                    self._bad(pos, n, f"section header with byte-order magic {magic}")
                    return
                o = ORDERS[order]
                head, u32 = o.head, o.u32
                blen = u32(buf, pos + 4)[0]
            end = pos + blen
            if blen & 3 or not 12 <= blen <= MAX_BLOCK or end > size:
                if blen & 3 or not 12 <= blen <= MAX_BLOCK:
                    self._bad(pos, n, f"block of type {btype:#x} says it has {blen} bytes")
                    return
                yield
                buf, pos = refill(buf, pos, blen)
                size = len(buf)
                end = pos + blen
                if end > size:
                    self._cut(pos, n, f"block needs {blen} bytes, {size - pos} present")
                    return
            tail = u32(buf, end - 4)[0]
            if tail != blen:
                self._bad(pos, n, f"block lengths disagree: {blen} at its start, {tail} at its end")
                return
            if btype == EPB:
                if not (a < len(sect) and 32 + cap <= blen):
                    self._bad(pos, n, self._epb_problem(a, len(sect), cap, blen))
                    return
                g, mul, div, off, snap = sect[a]
                if cap > snap:  # read on, as tshark does; said once per interface
                    self._oversized(pos, g, cap, snap)
                    sect[a] = g, mul, div, off, MAX_BLOCK
                ts = (b << 32 | c) * mul // div + off
                append((ts, g, buf, pos + 28, pos + 28 + cap))
                n += 1
            elif btype == SHB:
                major = o.shb(buf, pos + 12)[0] if blen >= 28 else 0
                if major != 1:
                    self._bad(pos, n, f"pcapng version {major} is not supported")
                    return
                sect = []
                self.sections.append(self._section(o, buf, pos + 24, end - 4))
            elif btype == IDB:
                if blen < 20:
                    self._bad(pos, n, f"interface block of {blen} bytes")
                    return
                sect.append(self._interface(o, buf, pos, end))
            elif btype == SPB:
                if not sect or blen < 16:
                    self._bad(pos, n, "simple packet block without an interface block")
                    return
                g, _mul, _div, _off, snap = sect[0]
                # a = original length; a simple packet has no timestamp: keep the last one seen.
                append((ts, g, buf, pos + 12, pos + 12 + min(a, blen - 16, snap)))
                n += 1
            elif btype == PB:
                iface, _drops, th, tl, cap, _len = o.pb(buf, pos + 8)
                if not (iface < len(sect) and 32 + cap <= blen):
                    self._bad(pos, n, self._epb_problem(iface, len(sect), cap, blen))
                    return
                g, mul, div, off, _snap = sect[iface]
                ts = (th << 32 | tl) * mul // div + off
                append((ts, g, buf, pos + 28, pos + 28 + cap))
                n += 1
            elif btype == NRB:
                self._names(o, buf, pos + 8, end - 4)
            pos = end

    def _interface(self, o: _Order, buf: bytes, pos: int, end: int) -> tuple[int, ...]:
        """Record an Interface Description Block; return its per-section entry."""
        linktype, snaplen = o.idb(buf, pos + 8)
        opts = _options(o, buf, pos + 16, end - 4)
        tsresol, tsoffset = opts.get(OPT_TSRESOL), opts.get(OPT_TSOFFSET, b"")
        mul, div = ts_scale(tsresol[0]) if tsresol else (1000, 1)
        offset = o.i64(tsoffset)[0] * 1_000_000_000 if len(tsoffset) == 8 else 0
        self.interfaces.append(Interface(linktype, _text(opts.get(OPT_NAME, b"")),
                                         _text(opts.get(OPT_DESCRIPTION, b"")), snaplen, o.c))
        return len(self.interfaces) - 1, mul, div, offset, snaplen or MAX_SNAPLEN

    @staticmethod
    def _section(o: _Order, buf: bytes, pos: int, stop: int) -> Section:
        opts = _options(o, buf, pos, stop)
        return Section(*(_text(opts.get(code, b"")) for code in
                         (OPT_SHB_HARDWARE, OPT_SHB_OS, OPT_SHB_USERAPPL)))

    def _names(self, o: _Order, buf: bytes, pos: int, stop: int) -> None:
        """Collect IPv4/IPv6 records of a Name Resolution Block (first name of each address),
        and the block's comments into its section."""
        while pos + 4 <= stop:
            rtype, rlen = o.opt(buf, pos)
            value = buf[pos + 4:min(pos + 4 + rlen, stop)]
            if rtype == 0:
                self.sections[-1].name_comments.extend(
                    _text(v) for code, v in _option_list(o, buf, pos + 4, stop)
                    if code == OPT_COMMENT)
                return
            width = 4 if rtype == NRB_IPV4 else 16 if rtype == NRB_IPV6 else 0
            if width and len(value) > width:
                family = socket.AF_INET if width == 4 else socket.AF_INET6
                name = value[width:].split(b"\0", 1)[0]
                if name:
                    self.name_records[socket.inet_ntop(family, value[:width])] = _text(name)
            pos += 4 + (rlen + 3 & ~3)

    @staticmethod
    def _epb_problem(iface: int, count: int, cap: int, blen: int) -> str:
        if iface >= count:
            return f"packet on interface {iface}, but the section describes {count}"
        return f"packet block of {blen} bytes says it holds {cap} captured bytes"

    def _oversized(self, pos: int, iface: int, cap: int, snap: int) -> None:
        """A packet longer than its interface's snap length: the block framing says it is whole,
        so it is read (tshark reads it too), and the user is told once per interface."""
        name = self.interfaces[iface].name
        where = f"interface {iface}" + (f" ({escape(name)})" if name else "")
        self.notes.append(f"{escape(self.name)}: packet at byte {self._chunks.base + pos} has "
                          f"{cap} bytes, more than the snap length {snap} of {where}; read "
                          "whole, as tshark reads it")

    def _bad(self, pos: int, packets: int, detail: str) -> None:
        self._damaged(self._chunks.base + pos, packets, "damaged", detail)


def _options(o: _Order, buf: bytes, pos: int, stop: int) -> dict[int, bytes]:
    """Option code -> value (first occurrence) from an options area ending at `stop`."""
    found: dict[int, bytes] = {}
    for code, value in _option_list(o, buf, pos, stop):
        found.setdefault(code, value)
    return found


def _option_list(o: _Order, buf: bytes, pos: int, stop: int) -> list[tuple[int, bytes]]:
    """Every (code, value) of an options area ending at `stop`, in order (comments repeat)."""
    found = []
    while pos + 4 <= stop:
        code, length = o.opt(buf, pos)
        if code == 0:
            break
        found.append((code, buf[pos + 4:min(pos + 4 + length, stop)]))
        pos += 4 + (length + 3 & ~3)
    return found


def _text(value: bytes) -> str:
    """An option string: UTF-8 up to the first NUL (some writers add one); bad bytes replaced."""
    return value.split(b"\0", 1)[0].decode("utf-8", "replace")
