"""LOG4J_LDAP_JAVA: an LDAP search result entry that hands the client a Java object.

A connection is LDAP when the client's first bytes parse as an LDAPMessage request (RFC 4511),
whatever the port. The server's replies are then parsed as BER; a SearchResultEntry whose
attributes describe a Java object (javaClassName, javaCodeBase, javaSerializedData, javaFactory,
objectClass javaNamingReference) is the JNDI exploit's answer.
"""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell import notes
from kubectl_netmon.detect.log4shell.ber import BerError, children, expect, header
from kubectl_netmon.detect.log4shell.correlate import Tracker, endpoint
from kubectl_netmon.detect.log4shell.opening import Openings

SEQUENCE, INTEGER, OCTET_STRING, SET = 0x30, 0x02, 0x04, 0x31
SEARCH_RESULT_ENTRY = 0x64
# Client operations (RFC 4511 [APPLICATION n]): bind, unbind, search, modify, add, del, modDN,
# compare, abandon, extended.
REQUEST_OPS = frozenset((0x60, 0x42, 0x63, 0x66, 0x68, 0x4A, 0x6C, 0x6E, 0x50, 0x77))
JAVA_ATTRIBUTES = frozenset((b"javaclassname", b"javacodebase", b"javaserializeddata",
                             b"javafactory", b"javareferenceaddress", b"javaremotelocation"))
JAVA_OBJECT_CLASSES = frozenset((b"javanamingreference", b"javaserializedobject",
                                 b"javamarshalledobject", b"javaobject", b"javacontainer"))
SAMPLE_BYTES = 1024
OPENING_BYTES = 7  # SEQUENCE header, message id, operation tag


def is_ldap_request(data: bytes) -> bool:
    """True when data opens with an LDAPMessage carrying a client operation (it may be cut)."""
    if len(data) < OPENING_BYTES or data[0] != SEQUENCE:
        return False
    try:
        msg_id = header(data, _content_start(data), len(data))
    except BerError:
        return False
    if msg_id is None or msg_id[0] != INTEGER or msg_id[2] - msg_id[1] > 4:
        return False
    return msg_id[2] < len(data) and data[msg_id[2]] in REQUEST_OPS


def _content_start(data: bytes) -> int:
    """Where the content of the TLV at 0 starts, even if its content is not all there."""
    if data[1] < 0x80:
        return 2
    count = data[1] & 0x7F
    if count == 0 or count > 4:
        raise BerError("unsupported BER length")
    return 2 + count


def java_entry(msg: bytes) -> tuple[bytes, dict[bytes, list[bytes]]] | None:
    """(dn, {lower-case attribute: values}) of a SearchResultEntry describing a Java object."""
    start, end = expect(msg, 0, len(msg), SEQUENCE)
    pos = expect(msg, start, end, INTEGER)[1]
    op = header(msg, pos, end)
    if op is None or op[0] != SEARCH_RESULT_ENTRY:
        return None
    dn_start, dn_end = expect(msg, op[1], op[2], OCTET_STRING)
    attrs_start, attrs_end = expect(msg, dn_end, op[2], SEQUENCE)
    attributes: dict[bytes, list[bytes]] = {}
    for tag, a_start, a_end in children(msg, attrs_start, attrs_end):
        if tag != SEQUENCE:
            raise BerError("attribute is not a SEQUENCE")
        t_start, t_end = expect(msg, a_start, a_end, OCTET_STRING)
        v_start, v_end = expect(msg, t_end, a_end, SET)
        attributes[msg[t_start:t_end].lower()] = [msg[s:e] for _, s, e in
                                                  children(msg, v_start, v_end)]
    classes = {v.lower() for v in attributes.get(b"objectclass", ())}
    if JAVA_ATTRIBUTES.isdisjoint(attributes) and JAVA_OBJECT_CLASSES.isdisjoint(classes):
        return None
    return msg[dn_start:dn_end], attributes


class _Replies:
    """The server side of one LDAP connection, buffered until whole messages are in."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = b""

    def messages(self, data: bytes, limit: int):
        """Each complete LDAPMessage now available (raises BerError on garbage)."""
        buf = self.buf + data if self.buf else data
        pos = 0
        while True:
            tlv = header(buf, pos, len(buf))
            if tlv is None:
                break
            if tlv[0] != SEQUENCE:
                raise BerError("LDAP message is not a SEQUENCE")
            yield buf[pos:tlv[2]]
            pos = tlv[2]
        self.buf = buf[pos:]
        if len(self.buf) > limit:
            raise BerError("LDAP message larger than the buffer limit")


class LdapJavaDetector(Detector):
    """Raises LOG4J_LDAP_JAVA once per victim and LDAP server per suppression window (repeats
    are counted): Zeek keys on the server alone, which would hide a second victim's stage."""

    name = "log4shell.ldap_java"

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker
        self._conns: Openings[_Replies] = Openings(
            "ldap", bytes((SEQUENCE,)), OPENING_BYTES, lambda opening: True,
            lambda opening: _Replies() if is_ldap_request(opening) else None)

    def on_data(self, conn: Conn, from_orig: bool, data: bytes, ts_ns: int) -> None:
        if conn.service:  # an L7 parser recognised another protocol
            return
        replies = self._conns.state(conn, from_orig, data)
        if replies is None or from_orig:
            return
        if conn.proto == "udp":
            replies.buf = b""
        try:
            for msg in replies.messages(data, self._tracker.config.ldap_buffer_bytes):
                found = java_entry(msg)
                if found is not None:
                    self._raise(conn, ts_ns, msg, *found)
        except BerError:
            self._conns.set(conn, None)

    def on_conn_end(self, conn: Conn) -> None:
        self._conns.end(conn)

    def _raise(self, conn: Conn, ts_ns: int, msg: bytes, dn: bytes,
               attributes: dict[bytes, list[bytes]]) -> None:
        def first(name: bytes) -> str:
            values = attributes.get(name)
            return values[0].decode("latin-1") if values else ""

        notice = Notice.for_conn(
            conn, ts_ns, notes.LDAP_JAVA, notes.MSG[notes.LDAP_JAVA],
            sub=msg[:SAMPLE_BYTES].decode("latin-1"), identifier=f"{conn.orig_h}->{conn.resp_h}",
            extra={"ldap.dn": dn.decode("latin-1"), "java.class_name": first(b"javaclassname"),
                   "java.codebase": first(b"javacodebase"), "java.factory": first(b"javafactory"),
                   "java.serialized": b"javaserializeddata" in attributes})
        self._tracker.report(self, notice, conn.orig_h, attacker=conn.resp_h,
                             callback=endpoint(conn.resp_h, conn.resp_p), delivered=True)
