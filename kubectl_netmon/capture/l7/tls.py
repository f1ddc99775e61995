"""The server name (SNI) and version from a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3).

Handshake messages may be fragmented over several records and records over several chunks, so
each direction gathers handshake bytes until its first message is complete, then stops.
"""

from __future__ import annotations

import struct

from kubectl_netmon.capture.l7.events import TlsClientHello

_RECORD = struct.Struct("!BBBH")  # content type, version major, version minor, length
_U16 = struct.Struct("!H")
_EXT = struct.Struct("!HH")  # extension type, length

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
EXT_SERVER_NAME = 0
EXT_SUPPORTED_VERSIONS = 43
MAX_RECORD = 2**14 + 2048  # RFC 8446 5.2: a longer record is not TLS
MAX_HELLO = 64 * 1024  # longer ClientHellos are not worth holding


class _Side:
    __slots__ = ("records", "handshake", "done")

    def __init__(self) -> None:
        self.records = bytearray()  # unparsed record bytes
        self.handshake = bytearray()  # handshake-layer bytes gathered from records
        self.done = False


class TlsParser:
    """Zeek service "ssl": emits one TlsClientHello for the side that sends it."""

    service = "ssl"

    def __init__(self) -> None:
        self._sides = {True: _Side(), False: _Side()}

    def feed(self, from_orig: bool, data: bytes, ts_ns: int) -> list:
        """Gather one chunk; returns [TlsClientHello] once that side's first message is whole."""
        side = self._sides[from_orig]
        if side.done:
            return []
        side.records += data
        if not _gather(side):
            side.done = True
            return []
        hs = side.handshake
        if len(hs) < 4:
            return []
        length = int.from_bytes(hs[1:4], "big")
        if hs[0] != HANDSHAKE_CLIENT_HELLO or length > MAX_HELLO:
            side.done = True
            return []
        if len(hs) < 4 + length:
            return []
        side.done = True
        hello = parse_client_hello(bytes(hs[4:4 + length]))
        side.records.clear()
        side.handshake.clear()
        if hello is None:
            return []
        return [TlsClientHello(ts_ns=ts_ns, server_name=hello[0], version=hello[1])]

    def close(self, ts_ns: int) -> list:
        """A ClientHello cut short carries no reliable SNI: nothing to flush."""
        return []


def _gather(side: _Side) -> bool:
    """Move complete handshake records' payload to side.handshake; False when it is not TLS."""
    records = side.records
    while len(records) >= _RECORD.size:
        ctype, major, _, length = _RECORD.unpack_from(records)
        if ctype != CONTENT_HANDSHAKE or major != 3 or length > MAX_RECORD:
            return False
        end = _RECORD.size + length
        if len(records) < end:
            break
        side.handshake += records[_RECORD.size:end]
        del records[:end]
    return True


def parse_client_hello(body: bytes) -> tuple[str, int] | None:
    """(server name or "", highest offered version) from a ClientHello body; None if malformed."""
    try:
        version = _U16.unpack_from(body)[0]
        off = 2 + 32  # legacy_version, random
        off += 1 + body[off]  # legacy_session_id
        off += 2 + _U16.unpack_from(body, off)[0]  # cipher_suites
        off += 1 + body[off]  # legacy_compression_methods
        if off > len(body):
            return None
        if off == len(body):
            return "", version  # no extensions (SSL 3.0 style)
        end = off + 2 + _U16.unpack_from(body, off)[0]
        off += 2
        server_name = ""
        while off + _EXT.size <= min(end, len(body)):
            etype, elen = _EXT.unpack_from(body, off)
            data = body[off + _EXT.size:off + _EXT.size + elen]
            off += _EXT.size + elen
            if etype == EXT_SERVER_NAME:
                server_name = _server_name(data)
            elif etype == EXT_SUPPORTED_VERSIONS:
                version = max(_versions(data), default=version)
    except (IndexError, struct.error):
        return None
    return server_name, version


def _server_name(data: bytes) -> str:
    """The first host_name entry of a server_name extension."""
    off = 2  # server_name_list length
    while off + 3 <= len(data):
        name_type = data[off]
        length = _U16.unpack_from(data, off + 1)[0]
        if name_type == 0:
            return data[off + 3:off + 3 + length].decode("latin-1")
        off += 3 + length
    return ""


def _versions(data: bytes) -> list[int]:
    """Versions from a ClientHello supported_versions extension, GREASE values left out."""
    count = data[0] if data else 0
    found = (_U16.unpack_from(data, 1 + i)[0] for i in range(0, min(count, len(data) - 1) - 1, 2))
    return [v for v in found if v & 0x0F0F != 0x0A0A]
