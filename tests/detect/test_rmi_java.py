"""LOG4J_RMI_JAVA: a JRMI handshake followed by a serialized Java object in the reply."""

from __future__ import annotations

from tests.detect import wire
from tests.detect.harness import Hooks

VICTIM, SERVER = "10.0.0.5", "203.0.113.7"


def rmi_session(hooks: Hooks, reply: bytes, hello: bytes = wire.JRMI_HELLO, chunk: int = 0):
    conn = hooks.conn(VICTIM, 40000, SERVER, 1099)
    replies = [reply[i:i + chunk] for i in range(0, len(reply), chunk)] if chunk else [reply]
    hooks.talk(conn, (True, hello), (False, wire.JRMI_ACK), (True, wire.JRMI_CALL),
               *[(False, r) for r in replies])
    return hooks


def test_serialized_object_reply_is_raised():
    hooks = rmi_session(Hooks(), wire.JRMI_RETURN)
    assert hooks.notes() == ["LOG4J_RMI_JAVA"]
    assert hooks.notices[0].extra["java.reference"] is True


def test_class_file_reply_is_raised():
    hooks = rmi_session(Hooks(), b"\x51" + wire.CLASS_FILE)
    assert hooks.notes() == ["LOG4J_RMI_JAVA"]
    assert hooks.notices[0].extra["java.serialized"] is False


def test_return_marker_split_across_chunks_is_found():
    hooks = rmi_session(Hooks(), wire.JRMI_RETURN, chunk=2)
    assert hooks.notes() == ["LOG4J_RMI_JAVA"]


def test_serialized_bytes_without_jrmi_handshake_are_not_raised():
    hooks = rmi_session(Hooks(), wire.JRMI_RETURN, hello=b"HELO example\r\n")
    assert hooks.notices == []


def test_handshake_without_object_reply_is_not_raised():
    hooks = rmi_session(Hooks(), b"\x51\x00\x00\x00")
    assert hooks.notices == []
