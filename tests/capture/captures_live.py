"""A real capture for tests: `dumpcap -i any -y LINUX_SLL2` inside a network namespace pair
(prefix nmrd-) while TCP and UDP traffic flows between them over a veth pair.

Needs root (ip netns) and dumpcap. Only the namespaces' own addresses are used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.reader import open_stream

ADDR_A, ADDR_B = "10.251.0.1", "10.251.0.2"
ADDR6_A, ADDR6_B = "fd00:251::1", "fd00:251::2"

SERVER = """
import socket, sys
tcp = socket.create_server((sys.argv[1], 8080))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind((sys.argv[1], 5353))
tcp6 = socket.create_server((sys.argv[2], 8443), family=socket.AF_INET6)
print("ready", flush=True)
data, peer = udp.recvfrom(2048); udp.sendto(data.upper(), peer)
for srv in (tcp, tcp6):
    conn, _ = srv.accept()
    request = b"".join(iter(lambda: conn.recv(65536), b""))  # all of it: unread data means RST
    conn.sendall(request.upper()); conn.close()
"""

CLIENT = """
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.sendto(b"hello over udp", (sys.argv[1], 5353)); udp.recvfrom(2048)
for host, port in ((sys.argv[1], 8080), (sys.argv[2], 8443)):
    with socket.create_connection((host, port)) as c:
        c.sendall(b"GET / HTTP/1.1\\r\\n\\r\\n" * 200); c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextmanager
def namespace_pair() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair with IPv4 and IPv6 addresses; removed afterwards."""
    tag = f"{os.getpid() % 100000}"
    a, b = f"nmrd-a{tag}", f"nmrd-b{tag}"
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b)
        for ns, v4, v6 in ((a, ADDR_A, ADDR6_A), (b, ADDR_B, ADDR6_B)):
            _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", "veth0")
            _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", "veth0", "nodad")
            _ip("-n", ns, "link", "set", "veth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


END_MARKER = b"nmrd end of traffic"
SEND_END_MARKER = (
    "import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
    ".sendto(sys.argv[2].encode(), (sys.argv[1], 9))"
)


class _Tee:
    """A binary stream that copies what is read from `src` into `dst`."""

    def __init__(self, src: BinaryIO, dst: BinaryIO) -> None:
        self.src, self.dst = src, dst

    def read1(self, size: int = -1) -> bytes:
        data = self.src.read1(size)
        self.dst.write(data)
        return data


def record_sll2_traffic(path: Path) -> Path:
    """Capture TCP (IPv4 and IPv6) and UDP traffic between two namespaces into `path` (pcapng,
    LINUX_SLL2 from `dumpcap -i any`).

    libpcap hands packets over in ring-buffer blocks and dumpcap drops an unfinished block when
    interrupted, so the capture is read live from dumpcap's stdout (and copied to `path`) until an
    end-marker datagram sent after the traffic shows up; only then is dumpcap stopped.
    """
    with namespace_pair() as (a, b), open(path, "wb") as out:
        dumpcap = subprocess.Popen(
            ["ip", "netns", "exec", a, "dumpcap", "-q", "-i", "any", "-y", "LINUX_SLL2", "-w", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watchdog = threading.Timer(60, dumpcap.send_signal, (signal.SIGINT,))
        watchdog.start()
        try:
            for line in dumpcap.stderr:  # dumpcap says so once the capture socket is open
                if line.startswith(b"Capturing on"):
                    break
            server = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", SERVER,
                                       ADDR_B, ADDR6_B], stdout=subprocess.PIPE, text=True)
            server.stdout.readline()
            for ns, script, args in ((a, CLIENT, (ADDR_B, ADDR6_B)),
                                     (a, SEND_END_MARKER, (ADDR_B, END_MARKER.decode()))):
                subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script, *args],
                               check=True, timeout=60)
            server.wait(timeout=60)
            reader = open_stream(_Tee(dumpcap.stdout, out), "dumpcap")
            for pkt in packets(reader, DecodeStats()):
                if pkt.payload == END_MARKER:
                    break
        finally:
            watchdog.cancel()
            dumpcap.send_signal(signal.SIGINT)
            out.write(dumpcap.stdout.read())
            dumpcap.wait(timeout=60)
    return path
