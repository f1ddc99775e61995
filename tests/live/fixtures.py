"""Fixtures of the live tests.

`local_node()`: a node of our own (network namespaces, prefix nmlv-): a bridge in nmlv-node-*
with two "pods" nmlv-a-* and nmlv-b-* on veths, and `dumpcap()` streaming pcapng from any of
them, as a remote dumpcap streams over exec. Only the namespaces' own addresses are used.

`log4shell_lab` (session): `scripts/lab up --nodes 3 --scenario log4shell` in a temporary state
dir; `scripts/lab down` at the end. Needs root; skipped otherwise. NETMON_LOG4SHELL_LAB=DIR
reuses a running lab instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POD_A, POD_B = "10.252.0.1", "10.252.0.2"
MAC_A, MAC_B = "02:00:0a:fc:00:01", "02:00:0a:fc:00:02"
LAB_UP_TIMEOUT = 300  # javac and three JVM/Python pods on a shared two-core machine


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _sysctl(ns: str, setting: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", setting], check=True,
                   capture_output=True)


@dataclass
class LocalNode:
    node: str
    pod_a: str
    pod_b: str


@contextmanager
def local_node() -> Iterator[LocalNode]:
    """A bridge namespace with two pod namespaces; IPv6 off and static neighbours, so the only
    traffic is what a test sends."""
    tag = f"{os.getpid() % 100000}"
    node = LocalNode(f"nmlv-node-{tag}", f"nmlv-a-{tag}", f"nmlv-b-{tag}")
    names = (node.node, node.pod_a, node.pod_b)
    try:
        for ns in names:
            _ip("netns", "add", ns)
            _sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1")
            _sysctl(ns, "net.ipv6.conf.default.disable_ipv6=1")
        _ip("-n", node.node, "link", "add", "br0", "type", "bridge")
        _ip("-n", node.node, "link", "set", "br0", "up")
        for i, (pod, addr, mac) in enumerate(((node.pod_a, POD_A, MAC_A),
                                              (node.pod_b, POD_B, MAC_B))):
            _ip("-n", node.node, "link", "add", f"veth{i}", "type", "veth", "peer", "name",
                "eth0", "netns", pod)
            _ip("-n", node.node, "link", "set", f"veth{i}", "master", "br0", "up")
            _ip("-n", pod, "link", "set", "eth0", "address", mac)
            _ip("-n", pod, "addr", "add", f"{addr}/24", "dev", "eth0")
            _ip("-n", pod, "link", "set", "eth0", "up")
            _ip("-n", pod, "link", "set", "lo", "up")
        _ip("-n", node.pod_a, "neigh", "add", POD_B, "lladdr", MAC_B, "dev", "eth0")
        _ip("-n", node.pod_b, "neigh", "add", POD_A, "lladdr", MAC_A, "dev", "eth0")
        yield node
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@contextmanager
def dumpcap(ns: str, iface: str, count: int, bpf: str = "icmp",
            snaplen: int = 0) -> Iterator[Iterator[bytes]]:
    """`dumpcap -c COUNT -w -` in a namespace: yields its pcapng output as chunks, from the moment
    it captures. It stops by itself after COUNT packets (so no libpcap block is lost).
    snaplen: cut each packet to that many bytes (-s)."""
    snap = ["-s", str(snaplen)] if snaplen else []
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", "-q", "-i", iface, "-f", bpf,
                             *snap, "-c", str(count), "-w", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in proc.stderr:
            if line.startswith(b"Capturing on"):
                break
        yield iter(lambda: proc.stdout.read1(65536), b"")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


PING = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(5)
for seq in range(int(sys.argv[2])):
    body = struct.pack("!BBHHH", 8, 0, 0, 7, seq) + b"nmlv ping!"
    total = sum(struct.unpack("!9H", body))
    total = (total >> 16) + (total & 0xFFFF)
    s.sendto(body[:2] + struct.pack("!H", ~(total + (total >> 16)) & 0xFFFF) + body[4:],
             (sys.argv[1], 0))
    while s.recv(2048)[20] != 0:  # until the echo reply (a raw socket also sees the request)
        pass
"""


def ping(ns: str, addr: str, count: int) -> None:
    """ICMP echo requests from a namespace, each answered before the next (no ping binary)."""
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PING, addr, str(count)],
                   check=True, capture_output=True, timeout=60)


# -- the lab --------------------------------------------------------------------------------------


@dataclass
class RunningLab:
    state_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment kubectl gives a plugin: ours, with the lab's KUBECONFIG."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), **extra}

    def netmon(self, *args: str, timeout: float = 120, **env: str
               ) -> subprocess.CompletedProcess:
        """Run `kubectl-netmon ARGS` as kubectl would; stdout and stderr as bytes."""
        return subprocess.run([sys.executable, "-m", "kubectl_netmon", *args], cwd=REPO,
                              capture_output=True, env=self.env(**env), timeout=timeout)


def _lab(*args: str, state_dir: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "lab"), "--state-dir",
                           str(state_dir), *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def log4shell_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """The lab with three nodes and the log4shell scenario (namespace demo), for the session.

    NETMON_LOG4SHELL_LAB=DIR reuses a lab already started with that --state-dir (and leaves it
    running), to iterate on these tests without waiting for the JVMs each time."""
    if os.environ.get("NETMON_LOG4SHELL_LAB"):
        yield RunningLab(Path(os.environ["NETMON_LOG4SHELL_LAB"]))
        return
    if os.geteuid() != 0:
        pytest.skip("the lab needs root for network namespaces; CI runs as root")
    state = tmp_path_factory.mktemp("lab-log4shell")
    up = _lab("up", "--nodes", "3", "--scenario", "log4shell", state_dir=state,
              timeout=LAB_UP_TIMEOUT)
    try:
        if up.returncode != 0:
            pytest.fail(f"scripts/lab up failed: {up.stderr.strip()}")
        yield RunningLab(state)
    finally:
        _lab("down", state_dir=state, timeout=120)
