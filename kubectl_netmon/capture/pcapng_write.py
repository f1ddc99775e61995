"""Write pcapng that Wireshark and `tshark -N n` show with pod names: interfaces with names and
descriptions, packets with comments (EPB opt_comment), and Name Resolution Blocks (IP -> name,
with comments saying more about the names). The section header names the writing application
(shb_userappl), so a reader can tell whose conventions the names and comments follow.

One little-endian section; blocks go straight to the file object, so a reader of a pipe sees
each packet as soon as `flush()` is called.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from typing import BinaryIO

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


def _option(code: int, value: bytes) -> bytes:
    return _OPT.pack(code, len(value)) + value + b"\0" * (-len(value) % 4)


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    return b"".join(_option(c, v) for c, v in opts) + _END_OF_OPTIONS


class PcapngWriter:
    """Streams one pcapng section to `fileobj`; the section header is written at once,
    naming `userappl` as the application that wrote the file."""

    def __init__(self, fileobj: BinaryIO, userappl: str = "") -> None:
        self._file = fileobj
        self._ns: list[bool] = []  # per interface: timestamps in ns (else us)
        opts = [(OPT_SHB_USERAPPL, userappl.encode())] if userappl else []
        self._block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(opts))

    def add_interface(self, linktype: int, name: str = "", description: str = "",
                      snaplen: int = 262144, tsresol_ns: bool = True) -> int:
        """Describe an interface; returns the id `write_packet` takes."""
        opts = []
        if name:
            opts.append((OPT_IF_NAME, name.encode()))
        if description:
            opts.append((OPT_IF_DESCRIPTION, description.encode()))
        if tsresol_ns:
            opts.append((OPT_IF_TSRESOL, bytes([TSRESOL_NS])))
        self._block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options(opts))
        self._ns.append(tsresol_ns)
        return len(self._ns) - 1

    def write_packet(self, iface: int, ts_ns: int, data: bytes, wirelen: int | None = None,
                     comment: str | None = None) -> None:
        """One Enhanced Packet Block; `wirelen` is the packet's length on the wire when `data`
        was cut at the snap length; `comment` shows as frame.comment in Wireshark."""
        if not 0 <= iface < len(self._ns):
            raise ValueError(f"interface {iface} was not added")
        units = ts_ns if self._ns[iface] else ts_ns // 1000
        cap = len(data)
        opts = _options([(OPT_COMMENT, comment.encode())]) if comment else b""
        length = 32 + cap + (-cap & 3) + len(opts)
        # header, data, tail written apart: the packet bytes are copied once, into the buffer
        write = self._file.write
        write(_EPB.pack(EPB, length, iface, units >> 32, units & 0xFFFFFFFF, cap,
                        wirelen if wirelen is not None and wirelen > cap else cap))
        write(data)
        write(_PADS[cap & 3] + opts + _U32.pack(length))

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

    def flush(self) -> None:
        """Push written blocks to the file (for a reader at the other end of a pipe)."""
        self._file.flush()

    def _block(self, btype: int, body: bytes) -> None:
        length = len(body) + 12
        self._file.write(_HEAD.pack(btype, length) + body + _U32.pack(length))
