"""Write pcapng that Wireshark and `tshark -N n` show with pod names: interfaces with names and
descriptions, packets with comments (EPB opt_comment), and Name Resolution Blocks (IP -> name,
with comments saying more about the names). The section header names the writing application
(shb_userappl), so a reader can tell whose conventions the names and comments follow.

One little-endian section. The packet blocks of a batch go to the file object in one write (one
call per packet costs more than the packet), the other blocks each in one; a reader of a pipe
sees each packet as soon as `flush()` is called.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from kubectl_netmon.capture import speedups
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
        opts = [(OPT_SHB_USERAPPL, userappl.encode())] if userappl else []
        self._block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(opts))

    def add_interface(self, linktype: int, name: str = "", description: str = "",
                      snaplen: int = 262144, tsresol_ns: bool = True, byteorder: str = "<"
                      ) -> int:
        """Describe an interface; returns the id `write_packet` takes. `byteorder`: that of
        the records write_batch gets on it."""
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
        self.write_batch([record], [opts])

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

    def write_batch(self, batch: list[Record], options: list[bytes] | None = None) -> None:
        """Write each record (capture.source.Record) of a batch, the hot path of a recording,
        with the original length from its header and options[i] (packet_options) on the
        i-th. Its interfaces must have been added, each with the byteorder of its records."""
        fast = speedups.fast
        if fast is not None:  # a compiled FileWriter writes the pieces where they are
            blocks = fast.epb_gather(batch, options or None, self._ifaces)
            self._file.write(blocks if type(self._file) is fast.FileWriter else bytes(blocks))
            return
        head, tail, pads = _EPB.pack, _U32.pack, _PADS
        ifaces = self._ifaces
        if max(rec[1] for rec in batch) >= len(ifaces):
            _not_added(max(rec[1] for rec in batch))
        parts: list = []
        add = parts.append
        view, viewed = None, None  # the data goes into the write once, not via a slice first
        for (ts, iface, buf, start, end), opts in zip(batch, options or _no_options(batch)):
            div, wirelen, _ = ifaces[iface]
            if div != 1:
                ts //= div
            cap = end - start
            length = 32 + cap + (-cap & 3) + len(opts)
            wire = wirelen(buf, start - 4)[0]
            if buf is not viewed:
                view, viewed = memoryview(buf), buf
            add(head(EPB, length, iface, ts >> 32, ts & 0xFFFFFFFF, cap,
                     wire if wire > cap else cap))
            add(view[start:end])
            add(pads[cap & 3] + opts + tail(length) if opts else pads[cap & 3] + tail(length))
        self._file.write(b"".join(parts))

    def flush(self) -> None:
        """Push written blocks to the file (for a reader at the other end of a pipe)."""
        self._file.flush()

    def _block(self, btype: int, body: bytes) -> None:
        length = len(body) + 12
        self._file.write(_HEAD.pack(btype, length) + body + _U32.pack(length))


def _no_options(batch: list[Record]) -> Iterator[bytes]:
    return itertools.repeat(b"", len(batch))


def _not_added(iface: int) -> None:
    raise ValueError(f"interface {iface} was not added")
