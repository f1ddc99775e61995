"""Write pcapng that Wireshark and `tshark -N n` show with pod names: interfaces with names and
descriptions, packets with comments (EPB opt_comment), and Name Resolution Blocks (IP -> name,
with comments saying more about the names). The section header names the writing application
(shb_userappl), so a reader can tell whose conventions the names and comments follow.

One little-endian section. Packet blocks are gathered into writes of WRITE_SIZE (one call per
packet costs more than the packet), the other blocks go straight to the file object; a reader
of a pipe sees each packet as soon as `flush()` is called.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from kubectl_netmon.capture.source import Record

SHB, IDB, NRB, EPB = 0x0A0D0D0A, 1, 4, 6
OPT_END, OPT_COMMENT = 0, 1
OPT_SHB_USERAPPL = 4
OPT_IF_NAME, OPT_IF_DESCRIPTION, OPT_IF_TSRESOL = 2, 3, 9
NRB_IPV4, NRB_IPV6 = 1, 2
TSRESOL_NS = 9

_HEAD = struct.Struct("<II")
_U32 = struct.Struct("<I")
_OPT = struct.Struct("<HH")
_EPB = struct.Struct("<IIIIIII")  # block type and length, then the EPB's own fields
WRITE_SIZE = 1 << 20  # packet blocks are gathered and handed to the file in writes this large
_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")  # after data of length 4n, 4n+1, 4n+2, 4n+3
_END_OF_OPTIONS = _OPT.pack(OPT_END, 0)
# A record's original length: the 4 bytes before its data, in its file's byte order
# (capture.source.Interface.byteorder).
_WIRELEN = {order: struct.Struct(order + "I").unpack_from for order in "<>"}
_PACK_U32 = {order: struct.Struct(order + "I").pack for order in "<>"}


def _option(code: int, value: bytes) -> bytes:
    return _OPT.pack(code, len(value)) + value + b"\0" * (-len(value) % 4)


def packet_options(comment: str | None) -> bytes:
    """The options area of a packet block carrying `comment` (none for None or "")."""
    return _options([(OPT_COMMENT, comment.encode())]) if comment else b""


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    return b"".join(_option(c, v) for c, v in opts) + _END_OF_OPTIONS


class PcapngWriter:
    """Streams one pcapng section to `fileobj`; the section header is written at once,
    naming `userappl` as the application that wrote the file."""

    def __init__(self, fileobj: BinaryIO, userappl: str = "") -> None:
        self._file = fileobj
        # per interface: ns per timestamp unit (1 or 1000), wirelen of its records, byte order
        self._ifaces: list[tuple] = []
        self._pending = bytearray()  # packet blocks not handed to the file yet
        opts = [(OPT_SHB_USERAPPL, userappl.encode())] if userappl else []
        self._block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(opts))

    def add_interface(self, linktype: int, name: str = "", description: str = "",
                      snaplen: int = 262144, tsresol_ns: bool = True, byteorder: str = "<"
                      ) -> int:
        """Describe an interface; returns the id `write_packet` takes. `byteorder`: that of
        the records write_records gets on it."""
        opts = []
        if name:
            opts.append((OPT_IF_NAME, name.encode()))
        if description:
            opts.append((OPT_IF_DESCRIPTION, description.encode()))
        if tsresol_ns:
            opts.append((OPT_IF_TSRESOL, bytes([TSRESOL_NS])))
        self._block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options(opts))
        self._ifaces.append((1 if tsresol_ns else 1000, _WIRELEN[byteorder], byteorder))
        return len(self._ifaces) - 1

    def write_packet(self, iface: int, ts_ns: int, data: bytes, wirelen: int | None = None,
                     comment: str | None = None) -> None:
        """One Enhanced Packet Block; `wirelen` is the packet's length on the wire when `data`
        was cut at the snap length; `comment` shows as frame.comment in Wireshark."""
        if not 0 <= iface < len(self._ifaces):
            _not_added(iface)
        opts = packet_options(comment)
        # as a record: the original length in the interface's byte order before the data
        record = (ts_ns, iface, _PACK_U32[self._ifaces[iface][2]](wirelen or 0) + data, 4,
                  4 + len(data))
        for _ in self.write_records((record,), lambda *_: opts, _not_added):
            pass

    def add_names(self, names: Iterable[tuple[str, str]], comments: Iterable[str] = ()) -> None:
        """A Name Resolution Block of (ip, name) pairs and comments; before or between
        packets. Nothing when both are empty."""
        records = []
        for ip, name in names:
            addr = ipaddress.ip_address(ip)
            rtype = NRB_IPV4 if addr.version == 4 else NRB_IPV6
            records.append(_option(rtype, addr.packed + name.encode() + b"\0"))
        opts = _options([(OPT_COMMENT, c.encode()) for c in comments])
        if records or opts:
            self._block(NRB, b"".join(records) + _END_OF_OPTIONS + opts)

    def write_records(self, records: Iterable[Record],
                      options_of: Callable[[int, int, bytes, int, int], bytes],
                      add_interfaces: Callable[[int], None]) -> Iterator[Record]:
        """Write each record (capture.source.Record) as it passes; the hot path of a recording.
        Its block gets options_of(ts, iface, buf, start, end) (packet_options) and the original
        length from the record's header; add_interfaces(iface) is called for an interface
        not added yet (it must add_interface up to it, with the source's byteorder)."""
        head, tail, pads = _EPB.pack, _U32.pack, _PADS
        ifaces, out = self._ifaces, self._pending
        for rec in records:
            ts, iface, buf, start, end = rec
            if iface >= len(ifaces):
                add_interfaces(iface)
            div, wirelen, _ = ifaces[iface]
            opts = options_of(ts, iface, buf, start, end)
            units = ts // div
            cap = end - start
            length = 32 + cap + (-cap & 3) + len(opts)
            wire = wirelen(buf, start - 4)[0]
            out += head(EPB, length, iface, units >> 32, units & 0xFFFFFFFF, cap,
                        wire if wire > cap else cap)
            out += buf[start:end]
            out += pads[cap & 3] + opts + tail(length)
            if len(out) >= WRITE_SIZE:
                self._file.write(out)  # the file may keep it: gather into a new one
                self._pending = out = bytearray()
            yield rec
        self._drain()

    def flush(self) -> None:
        """Push written blocks to the file (for a reader at the other end of a pipe)."""
        self._drain()
        self._file.flush()

    def _drain(self) -> None:
        """Packets gathered so far to the file (emptied in place: write_records holds it)."""
        if self._pending:
            self._file.write(bytes(self._pending))
            self._pending.clear()

    def _block(self, btype: int, body: bytes) -> None:
        self._drain()
        length = len(body) + 12
        self._file.write(_HEAD.pack(btype, length) + body + _U32.pack(length))


def _not_added(iface: int) -> None:
    raise ValueError(f"interface {iface} was not added")
