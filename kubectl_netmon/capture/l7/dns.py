"""DNS messages (RFC 1035) from UDP datagrams or TCP streams with the 2-byte length prefix.

Names keep every byte (decoded latin-1; escaping is the output's job), because exfiltrated
secrets travel in query names. Compression pointers must point strictly before every earlier
jump of the same name, which bounds the walk and rules out loops.
"""

from __future__ import annotations

import socket
import struct

from kubectl_netmon.capture.l7.events import DnsMessage

_HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_QUESTION = struct.Struct("!HH")  # qtype, qclass
_RR = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_U16 = struct.Struct("!H")

MAX_NAME = 255  # RFC 1035 3.1: octets in a name, length bytes included
TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_MX, TYPE_TXT, TYPE_AAAA = 1, 2, 5, 12, 15, 16, 28
TYPE_SOA, TYPE_SRV, TYPE_SPF = 6, 33, 99
# types whose data is a name (SOA: its first, the primary server's, as Zeek logs soa$mname)
_NAME_TYPES = frozenset((TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_SOA))
_STRING_TYPES = {TYPE_TXT: "TXT", TYPE_SPF: "SPF"}  # Zeek: "TXT <length> <string>" for each
_OPCODES = frozenset((0, 1, 2, 4, 5))  # query, iquery, status, notify, update


class _Malformed(Exception):
    """Internal: the message ends or points somewhere it must not."""


def read_name(msg: bytes, off: int) -> tuple[str, int]:
    """The name at off as dotted text, and the offset just after it in the message."""
    labels: list[bytes] = []
    after = -1
    limit = off  # a pointer must jump strictly before this
    size = 0
    while True:
        if off >= len(msg):
            raise _Malformed
        n = msg[off]
        if n == 0:
            return _text(b".".join(labels)), off + 1 if after < 0 else after
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise _Malformed
            target = (n & 0x3F) << 8 | msg[off + 1]
            if target >= limit:
                raise _Malformed
            if after < 0:
                after = off + 2
            off = limit = target
            continue
        if n & 0xC0 or off + 1 + n > len(msg):
            raise _Malformed
        size += n + 1
        if size > MAX_NAME:
            raise _Malformed
        labels.append(msg[off + 1:off + 1 + n])
        off += 1 + n


# Names as sent -> their text, shared by the events of every connection (queries and answers
# repeat; listeners keep a query until its response). Bounded: names come from
# packets.
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 4096


def _text(raw: bytes) -> str:
    text = _NAMES.get(raw)
    if text is None:
        text = raw.decode("latin-1")
        if len(_NAMES) < _NAMES_MAX:
            _NAMES[raw] = text
    return text


def parse_message(msg: bytes, ts_ns: int) -> DnsMessage | None:
    """One message; None unless the header and first question parse. Answers that follow a
    malformed record are dropped, the rest is kept."""
    if len(msg) < _HEADER.size:
        return None
    trans_id, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(msg)
    event = DnsMessage(ts_ns=ts_ns, trans_id=trans_id, is_response=bool(flags & 0x8000),
                       query="", rcode=flags & 0x000F)
    off = _HEADER.size
    try:
        for i in range(qdcount):
            name, off = read_name(msg, off)
            if off + _QUESTION.size > len(msg):
                raise _Malformed
            if i == 0:
                event.query = name
                event.qtype = _QUESTION.unpack_from(msg, off)[0]
            off += _QUESTION.size
    except _Malformed:
        return None
    answers: list[str] = []
    ttls: list[int] = []
    try:
        for _ in range(ancount):
            off = _answer(msg, off, answers, ttls)
    except _Malformed:
        pass
    if answers:
        event.answers, event.ttls = tuple(answers), tuple(ttls)
    return event


def looks_like_dns(data: bytes) -> bool:
    """Strict sniff for DNS on any port: one question, a known opcode, and every section parses
    to exactly the end of the datagram."""
    if len(data) < _HEADER.size:
        return False
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount != 1 or (flags >> 11) & 0xF not in _OPCODES:
        return False
    try:
        _, off = read_name(data, _HEADER.size)
        off += _QUESTION.size
        for _ in range(ancount + nscount + arcount):
            _, off = read_name(data, off)
            if off + _RR.size > len(data):
                return False
            off += _RR.size + _RR.unpack_from(data, off)[3]
    except _Malformed:
        return False
    return off == len(data)


def _answer(msg: bytes, off: int, answers: list[str], ttls: list[int]) -> int:
    """Add one answer record's rdata (as text) and TTL to the lists; return the next offset."""
    _, off = read_name(msg, off)
    if off + _RR.size > len(msg):
        raise _Malformed
    rtype, _, ttl, rdlen = _RR.unpack_from(msg, off)
    start = off + _RR.size
    end = start + rdlen
    if end > len(msg):
        raise _Malformed
    text = _rdata(msg, rtype, start, end)
    if text is not None:
        answers.append(text)
        ttls.append(ttl)
    return end


def _rdata(msg: bytes, rtype: int, start: int, end: int) -> str | None:
    """Record data as Zeek's dns.log shows it; None for types we do not summarise."""
    rdata = msg[start:end]
    if rtype == TYPE_A and len(rdata) == 4:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == TYPE_AAAA and len(rdata) == 16:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype in _NAME_TYPES:
        return read_name(msg, start)[0]
    if rtype == TYPE_MX and len(rdata) > 2:
        return read_name(msg, start + 2)[0]
    if rtype == TYPE_SRV and len(rdata) > 6:  # priority, weight, port, then the target
        return read_name(msg, start + 6)[0]
    if rtype in _STRING_TYPES:
        kind = _STRING_TYPES[rtype]
        return " ".join(f"{kind} {len(s)} {s.decode('latin-1')}" for s in _character_strings(rdata))
    return None


def _character_strings(rdata: bytes) -> list[bytes]:
    out = []
    i = 0
    while i < len(rdata):
        n = rdata[i]
        out.append(rdata[i + 1:i + 1 + n])
        i += 1 + n
    return out


class DnsParser:
    """Zeek service "dns": one DnsMessage per datagram (UDP) or length-prefixed message (TCP)."""

    service = "dns"
    __slots__ = ("_tcp", "_bufs", "_dead")

    def __init__(self, tcp: bool) -> None:
        self._tcp = tcp
        # Per direction (from_orig -> ...), TCP only, made on the first chunk: a UDP parser
        # holds no state, so one serves every UDP connection.
        self._bufs: dict[bool, bytearray] | None = None
        self._dead: dict[bool, bool] | None = None

    def feed(self, from_orig: bool, data: bytes, ts_ns: int) -> list:
        """Parse a datagram, or the TCP messages this chunk completes."""
        if not self._tcp:
            event = parse_message(data, ts_ns)
            return [] if event is None else [event]
        if self._bufs is None:
            self._bufs = {True: bytearray(), False: bytearray()}
            self._dead = {True: False, False: False}
        if self._dead[from_orig]:
            return []
        buf = self._bufs[from_orig]
        buf += data
        out = []
        while len(buf) >= 2:
            end = 2 + _U16.unpack_from(buf)[0]
            if len(buf) < end:
                break
            event = parse_message(bytes(buf[2:end]), ts_ns)
            del buf[:end]
            if event is None:
                self._dead[from_orig] = True
                buf.clear()
                break
            out.append(event)
        return out

    def close(self, ts_ns: int) -> list:
        """Nothing is held back: a partial TCP message is not a message."""
        return []
