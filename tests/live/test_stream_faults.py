"""The API server behind an HTTP proxy, and a stream that drops mid-capture, through the real CLI
against the lab's log4shell scenario.

The kubeconfig names the API server by an address only the proxy can reach (a loopback port
that refuses connections; the proxy routes it to the lab), as when a cluster is reachable only
through a proxy, and sets the cluster's `proxy-url`: a capture that streams proves that both the
API requests and the exec upgrade went through the proxy. Cutting the proxy's tunnels (a RST
each way, as a proxy that restarts does) drops the exec stream of a running capture: the run
keeps what it received, says in one line which stream dropped, fails (exit 1), and leaves
nothing running in the cluster.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.live.cli_process import NetmonProcess, conns, kept, pod_exists, still_running
from tests.live.connect_proxy import ConnectProxy
from tests.live.fixtures import RunningLab, log4shell_lab  # noqa: F401 - the fixture

USER, PASSWORD = "netmon", "s3cr@t:x"  # '@' and ':' percent-encoded in the URL, as RFC 3986 says
USERINFO = "netmon:s3cr%40t%3Ax"
_DROPPED = re.compile(r"^error: the stream from (\S+) dropped after (\d+) packets", re.M)


class Proxied:
    """The lab reachable only through a proxy: `kubeconfig(userinfo)` writes a kubeconfig whose
    cluster is the proxy-only address, with proxy-url pointing at the proxy."""

    def __init__(self, lab: RunningLab, tmp: Path, proxy: ConnectProxy, alias: str) -> None:
        self.lab, self.tmp, self.proxy, self.alias = lab, tmp, proxy, alias

    def kubeconfig(self, userinfo: str = "") -> str:
        doc = yaml.safe_load(self.lab.kubeconfig.read_text())
        for entry in doc["clusters"]:
            entry["cluster"]["server"] = f"https://{self.alias}"
            entry["cluster"]["proxy-url"] = self.proxy.url(userinfo)
        path = self.tmp / "kubeconfig"
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    def netmon(self, *args: str, userinfo: str = "") -> subprocess.CompletedProcess:
        return self.lab.netmon("--kubeconfig", self.kubeconfig(userinfo), *args)

    def start(self, *args: str) -> NetmonProcess:
        return NetmonProcess(self.lab.env(), "--kubeconfig", self.kubeconfig(),
                             *args)


def _proxied(lab: RunningLab, tmp: Path, credentials=None) -> Iterator[Proxied]:
    api = lab.kubeconfig.read_text().split("server: https://", 1)[1].split()[0]
    with socket.socket() as refusing:  # bound, never listening: direct connections are refused
        refusing.bind(("127.0.0.1", 0))
        alias = f"127.0.0.1:{refusing.getsockname()[1]}"
        with ConnectProxy({alias: api}, credentials) as proxy:
            yield Proxied(lab, tmp, proxy, alias)


@pytest.fixture
def proxied(log4shell_lab: RunningLab, tmp_path: Path) -> Iterator[Proxied]:  # noqa: F811
    yield from _proxied(log4shell_lab, tmp_path)


@pytest.fixture
def proxied_with_password(log4shell_lab: RunningLab, tmp_path: Path  # noqa: F811
                          ) -> Iterator[Proxied]:
    yield from _proxied(log4shell_lab, tmp_path, (USER, PASSWORD))


# -- the proxy ------------------------------------------------------------------------------------


def test_watch_streams_flows_through_the_kubeconfigs_proxy_url(proxied):
    """The API server's address refuses direct connections: flows mean that the API requests
    and the exec upgrade both went through the proxy."""
    run = proxied.netmon("watch", "pod", "web", "-n", "demo", "--duration", "4s", "-o", "json")

    assert run.returncode == 0, run.stderr.decode()
    assert conns(run.stdout)
    assert {(r.target, r.status) for r in proxied.proxy.requests} == {(proxied.alias, 200)}


def test_credentials_in_the_proxy_url_authenticate_every_connect(proxied_with_password):
    run = proxied_with_password.netmon("watch", "pod", "web", "-n", "demo", "--duration", "3s",
                                       "-o", "json", userinfo=USERINFO)

    assert run.returncode == 0, run.stderr.decode()
    assert {r.status for r in proxied_with_password.proxy.requests} == {200}


def test_a_proxy_refusing_the_credentials_is_one_error_line(proxied_with_password):
    run = proxied_with_password.netmon("watch", "pod", "web", "-n", "demo", "--duration", "3s",
                                       "-o", "json", userinfo="netmon:wrong")

    (line,) = run.stderr.decode().splitlines()
    assert run.returncode == 1 and line.startswith("error: ")
    assert line.endswith("cannot reach the API server through the proxy: Tunnel connection "
                         "failed: 407 Proxy Authentication Required")


# -- a dropped stream -----------------------------------------------------------------------------


def _cut_while_streaming(run: NetmonProcess, proxy: ConnectProxy) -> set[int]:
    """Once the remote dumpcap reported packets twice (its stderr arrives on the same
    connection after the packets it counted), reset every tunnel; the run's remote captures."""
    run.wait_for("Capturing on")
    sids = run.capture_sessions()
    run.wait_for(": Packets: ", times=2)
    assert proxy.cut() > 0
    return sids


def test_a_dropped_watch_stream_reports_the_flows_received_and_exits_1(proxied):
    with proxied.start("watch", "pod", "web", "-n", "demo", "-o", "json") as run:
        sids = _cut_while_streaming(run, proxied.proxy)
        done = run.finish()

    (dropped, packets), = _DROPPED.findall(done.stderr)
    assert done.code == 1 and dropped == "demo/web" and int(packets) > 0, done.stderr
    assert conns(done.stdout)
    assert "Traceback" not in done.stderr
    assert still_running(sids) == []


def test_a_dropped_capture_stream_keeps_its_packets_in_the_file_and_exits_1(proxied, tshark,
                                                                          tmp_path):
    out = tmp_path / "dropped.pcapng"
    with proxied.start("capture", "web", "-n", "demo", "--mode", "node", "-w", str(out)) as run:
        sids = _cut_while_streaming(run, proxied.proxy)
        done = run.finish()

    (dropped, _), = _DROPPED.findall(done.stderr)
    read = subprocess.run([tshark, "-r", str(out)], capture_output=True, text=True, timeout=60)
    assert done.code == 1 and dropped == "node/node-1", done.stderr
    assert read.returncode == 0, read.stderr
    assert len(read.stdout.splitlines()) == kept(done.stderr) > 0
    assert [pod_exists(str(proxied.lab.kubeconfig), *p) for p in run.node_pods()] == [False]
    assert still_running(sids) == []
