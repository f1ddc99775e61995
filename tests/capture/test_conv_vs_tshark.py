"""The oracle: per-conversation packet counts equal tshark's `-z conv`, IP bytes its ip.len sums.

tshark's lines follow its own stream splitting (a new SYN after a close starts a new line), so
both sides are summed per (transport, endpoint pair) before comparing. Captures: the shared
Log4Shell traces, a scapy-built mix (IPv4/IPv6, TCP stories, UDP, retransmissions), and real
traffic between two network namespaces recorded by dumpcap as pcapng on a veth and as SLL2 on
`-i any`.
"""

from __future__ import annotations

import importlib.util
import os
import select
import signal
import subprocess
import sys
from collections import Counter
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

from kubectl_netmon.capture.decode import DecodeStats, packets
from kubectl_netmon.capture.engine import Engine, FlowConfig
from kubectl_netmon.capture.reader import open_capture

Totals = dict  # (proto, frozenset of two endpoints) -> Counter of endpoint -> packets or bytes


def tshark_conv_packets(tshark: str, path: Path) -> Totals:
    """Frames per endpoint per conversation from `tshark -q -z conv,tcp -z conv,udp`."""
    out = subprocess.run([tshark, "-n", "-q", "-r", str(path), "-z", "conv,tcp", "-z",
                          "conv,udp"], check=True, capture_output=True, text=True).stdout
    totals: Totals = {}
    proto = ""
    for line in out.splitlines():
        if line.endswith("Conversations"):
            proto = line.split()[0].lower()
        elif "<->" in line:
            cols = line.split()
            a, b = _endpoint(cols[0]), _endpoint(cols[2])
            totals.setdefault((proto, frozenset((a, b))), Counter()).update(
                {b: int(cols[3]), a: int(cols[6])})
    return totals


def tshark_ip_bytes(tshark: str, path: Path) -> Totals:
    """IP length sums per sending endpoint per conversation, from tshark's fields."""
    fields = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ipv6.plen", "tcp.srcport",
              "tcp.dstport", "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type"]
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    totals: Totals = {}
    for line in out.splitlines():
        v = dict(zip(fields, line.split("\t")))
        if v["icmp.type"] or v["icmpv6.type"]:
            continue  # an ICMP error quoting a header belongs to no TCP/UDP conversation
        src, dst = v["ip.src"] or v["ipv6.src"], v["ip.dst"] or v["ipv6.dst"]
        size = int(v["ip.len"]) if v["ip.len"] else 40 + int(v["ipv6.plen"] or 0)
        for proto in ("tcp", "udp"):
            if v[f"{proto}.srcport"]:
                a, b = (src, int(v[f"{proto}.srcport"])), (dst, int(v[f"{proto}.dstport"]))
                totals.setdefault((proto, frozenset((a, b))), Counter())[a] += size
    return totals


def our_totals(path: Path) -> tuple[Totals, Totals]:
    """Packets and IP bytes per endpoint per conversation from our records."""
    pkts: Totals = {}
    ip_bytes: Totals = {}
    with open_capture(str(path)) as reader:
        for c in Engine(config=FlowConfig(uid_seed=1)).run(packets(reader, DecodeStats())):
            if c.proto not in ("tcp", "udp"):
                continue
            a, b = (c.orig_h, c.orig_p), (c.resp_h, c.resp_p)
            key = (c.proto, frozenset((a, b)))
            pkts.setdefault(key, Counter()).update({a: c.orig_pkts, b: c.resp_pkts})
            ip_bytes.setdefault(key, Counter()).update({a: c.orig_ip_bytes, b: c.resp_ip_bytes})
    return pkts, ip_bytes


def _endpoint(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def assert_matches_tshark(tshark: str, path: Path) -> Totals:
    """Compare, and return our packet totals for checks on what the capture holds."""
    pkts, ip_bytes = our_totals(path)
    assert pkts == tshark_conv_packets(tshark, path)
    assert ip_bytes == tshark_ip_bytes(tshark, path)
    return pkts


SHARED = ["log4j-attack.pcap", "log4j-dns_exfil.pcap", "log4j-user_agent.pcap",
          "log4j-webapp.pcap", "spcap-CEXKLs3NQWdEM2CoMj-1639421287179170294-1.pcap"]


@pytest.mark.parametrize("name", SHARED)
def test_shared_captures_match_tshark_conversations(shared_pcaps, tshark, name):
    assert_matches_tshark(tshark, shared_pcaps / name)


def test_generated_mix_matches_tshark_conversations(tmp_path, tshark):
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    frames = []
    for i, (ip, server) in enumerate([(IP, "10.1.0.2"), (IPv6, "fd00::2")]):
        client = "10.1.0.1" if ip is IP else "fd00::1"

        def seg(fwd, flags, seq, ack, data=b"", ip=ip, client=client, server=server, i=i):
            s, d, sp, dp = (client, server, 41000 + i, 8080) if fwd else (server, client, 8080,
                                                                        41000 + i)
            return Ether() / ip(src=s, dst=d) / TCP(sport=sp, dport=dp, flags=flags, seq=seq,
                                                    ack=ack) / data

        frames += [seg(1, "S", 100, 0), seg(0, "SA", 500, 101), seg(1, "A", 101, 501),
                   seg(1, "PA", 101, 501, b"hello"), seg(1, "PA", 101, 501, b"hello"),
                   seg(0, "PA", 501, 106, b"world!"), seg(1, "FA", 106, 507),
                   seg(0, "FA", 507, 107), seg(1, "A", 107, 508),
                   seg(1, "S", 9000, 0), seg(0, "RA", 0, 9001)]
        frames += [Ether() / ip(src=client, dst=server) / UDP(sport=53000 + n, dport=53) / b"q"
                   for n in range(3)]
        frames += [Ether() / ip(src=server, dst=client) / UDP(sport=53, dport=53000) / b"answer"]
    path = tmp_path / "mix.pcap"
    wrpcap(str(path), frames)
    assert_matches_tshark(tshark, path)


def test_benchmark_capture_matches_tshark_conversations(tmp_path, tshark):
    loader = SourceFileLoader("benchmark", str(Path(__file__).parents[2] / "scripts/benchmark"))
    spec = importlib.util.spec_from_loader("benchmark", loader)
    benchmark = importlib.util.module_from_spec(spec)
    loader.exec_module(benchmark)
    path = tmp_path / "bench.pcap"
    benchmark.generate(path, packets=3000, flows=300, window=50)
    pkts = assert_matches_tshark(tshark, path)
    assert len(pkts) == 300


SERVER = r"""
import socket, sys, threading
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("10.99.0.2", 8080)); tcp.listen(16)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("10.99.0.2", 5353))
def serve_udp():
    while True:
        data, peer = udp.recvfrom(2048); udp.sendto(data.upper(), peer)
threading.Thread(target=serve_udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, _ = tcp.accept()
    try:
        if c.recv(65536):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n" + b"x" * 4000)
    except OSError:
        pass  # the client that resets on purpose
    c.close()
"""

CLIENT = r"""
import socket, struct
for i in range(5):
    s = socket.create_connection(("10.99.0.2", 8080))
    s.sendall(b"GET /%d HTTP/1.1\r\nHost: svc\r\n\r\n" % i)
    while s.recv(65536): pass
    s.close()
s = socket.create_connection(("10.99.0.2", 8080))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
try: socket.create_connection(("10.99.0.2", 9))
except OSError: pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
for i in range(4):
    u.sendto(b"query %d" % i, ("10.99.0.2", 5353)); u.recvfrom(2048)
"""


@pytest.fixture
def netns_pair(root):
    """Namespaces nmfl-a (10.99.0.1) and nmfl-b (10.99.0.2) joined by a veth pair."""
    a, b = f"nmfl-a{os.getpid()}", f"nmfl-b{os.getpid()}"
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
    try:
        run("ip", "netns", "add", a)
        run("ip", "netns", "add", b)
        run("ip", "-n", a, "link", "add", "nmfl0", "type", "veth", "peer", "name", "nmfl1",
            "netns", b)
        for ns, dev, addr in ((a, "nmfl0", "10.99.0.1/24"), (b, "nmfl1", "10.99.0.2/24")):
            run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


PROBE = "import socket; socket.socket(2, 2).sendto(b'probe', ('10.99.0.2', 7))"


class Dumpcap:
    """dumpcap in a namespace; its packet counter (on stderr) tells when it really captures."""

    def __init__(self, ns: str, args: list[str]) -> None:
        self.ns = ns
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", *args],
                                     stderr=subprocess.PIPE)
        self.count = -1

    def wait_counting(self, rounds: int) -> None:
        """Send probes until dumpcap has reported a new count `rounds` times."""
        for _ in range(rounds):
            before = self.count
            while self.count == before:
                subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", PROBE],
                               check=True)
                self._read_counter()

    def _read_counter(self) -> None:
        fd = self.proc.stderr.fileno()
        while select.select([fd], [], [], 2.0)[0]:
            chunk = os.read(fd, 4096).decode()
            assert chunk, "dumpcap exited"
            for part in chunk.split("\r"):
                if part.startswith("Packets: "):
                    self.count = int(part.split()[1])
                    return

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def test_real_namespace_traffic_matches_tshark(tmp_path, tshark, netns_pair):
    a, b = netns_pair
    veth, anydev = tmp_path / "veth.pcapng", tmp_path / "any.pcapng"
    server = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", SERVER],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        caps = [Dumpcap(a, ["-i", "nmfl0", "-w", str(veth)]),
                Dumpcap(a, ["-i", "any", "-y", "LINUX_SLL2", "-w", str(anydev)])]
        try:
            for cap in caps:
                cap.wait_counting(1)
            subprocess.run(["ip", "netns", "exec", a, sys.executable, "-c", CLIENT], check=True,
                           timeout=60)
            for cap in caps:
                cap.wait_counting(3)  # drains the capture buffers past the client's packets
        finally:
            for cap in caps:
                cap.stop()
    finally:
        server.kill()
        server.wait()
    for path in (veth, anydev):
        pkts = assert_matches_tshark(tshark, path)
        ports = Counter(port for proto, ends in pkts for _, port in ends if port in (8080, 5353, 9))
        assert ports == {8080: 6, 9: 1, 5353: 1}  # 6 HTTP-ish, 1 refused, 1 UDP socket
