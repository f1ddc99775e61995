"""A real capture for tests: `dumpcap -i any -y LINUX_SLL2` inside a network namespace pair
(prefix nmrd-) while TCP and UDP traffic flows between them over a veth pair.

Needs root (ip netns) and dumpcap. Only the namespaces' own addresses are used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    conn.sendall(conn.recv(65536).upper()); conn.close()
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


def record_sll2_traffic(path: Path) -> Path:
    """Capture TCP (IPv4 and IPv6) and UDP traffic between two namespaces into `path` (pcapng,
    LINUX_SLL2 from `dumpcap -i any`)."""
    with namespace_pair() as (a, b):
        dumpcap = subprocess.Popen(
            ["ip", "netns", "exec", a, "dumpcap", "-q", "-i", "any", "-y", "LINUX_SLL2", "-w",
             str(path)],
            stderr=subprocess.PIPE, text=True)
        try:
            for line in dumpcap.stderr:  # dumpcap says so once the capture socket is open
                if line.startswith("Capturing on"):
                    break
            server = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", SERVER,
                                       ADDR_B, ADDR6_B], stdout=subprocess.PIPE, text=True)
            server.stdout.readline()
            subprocess.run(["ip", "netns", "exec", a, sys.executable, "-c", CLIENT, ADDR_B,
                            ADDR6_B], check=True, timeout=60)
            server.wait(timeout=60)
        finally:
            dumpcap.send_signal(signal.SIGINT)
            dumpcap.wait(timeout=60)
    return path
