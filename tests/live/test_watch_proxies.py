"""Proxies chosen as kubectl chooses them, through the real CLI against the lab.

The kubeconfig names the API server `kubernetes` (in its certificate; a name this machine does
not resolve): only a proxy that resolves it for the client, as kubectl's socks5 and HTTP CONNECT
proxies do, reaches it (the proxies route it to the lab). kubectl takes a cluster's proxy-url
whatever NO_PROXY says; without one, HTTPS_PROXY unless NO_PROXY names the server, and never
for a loopback server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.lab import fixtures
from tests.lab.fixtures import Lab
from tests.live.acquire_lab import talker
from tests.live.connect_proxy import ConnectProxy
from tests.live.socks_proxy import SocksProxy

lab, lab_ns = fixtures.lab, fixtures.lab_ns

PROXY_VARIABLES = {"https_proxy", "http_proxy", "all_proxy", "no_proxy"}


class Proxied:
    """The lab behind a proxy; run() writes a kubeconfig (server `kubernetes`, proxy-url
    optional) and watches the talker pod with the given environment."""

    def __init__(self, lab: Lab, ns: str, tmp: Path, proxy: ConnectProxy) -> None:
        self.lab, self.ns, self.tmp, self.proxy = lab, ns, tmp, proxy
        self.server = f"kubernetes:{lab.port}"

    def run(self, proxy_url: str = "", server: str = "", **environ: str
            ) -> subprocess.CompletedProcess:
        doc = yaml.safe_load(self.lab.kubeconfig.read_text())
        for entry in doc["clusters"]:
            entry["cluster"]["server"] = f"https://{server or self.server}"
            if proxy_url:
                entry["cluster"]["proxy-url"] = proxy_url
        kubeconfig = self.tmp / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(doc))
        env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
        return subprocess.run(
            [sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web", "-n", self.ns,
             "--duration", "3s", "-o", "json", "--kubeconfig", str(kubeconfig)],
            cwd=fixtures.REPO, capture_output=True, text=True, timeout=120,
            env={**env, **environ})

    def targets(self) -> set[tuple[str, int]]:
        """(target, status) of every request the proxy got."""
        return {(r.target, r.status) for r in self.proxy.requests}


def _proxied(lab: Lab, ns: str, tmp: Path, proxy_type, credentials=None) -> Iterator[Proxied]:
    lab.create_pod(ns, talker("web"))
    with proxy_type({f"kubernetes:{lab.port}": f"127.0.0.1:{lab.port}"}, credentials) as proxy:
        yield Proxied(lab, ns, tmp, proxy)


@pytest.fixture
def socks(lab, lab_ns, tmp_path) -> Iterator[Proxied]:
    yield from _proxied(lab, lab_ns, tmp_path, SocksProxy)


@pytest.fixture
def socks_with_password(lab, lab_ns, tmp_path) -> Iterator[Proxied]:
    yield from _proxied(lab, lab_ns, tmp_path, SocksProxy, ("netmon", "s3cr@t"))


@pytest.fixture
def connect(lab, lab_ns, tmp_path) -> Iterator[Proxied]:
    yield from _proxied(lab, lab_ns, tmp_path, ConnectProxy)


def _flows(run: subprocess.CompletedProcess) -> list[dict]:
    assert run.returncode == 0, run.stderr
    return [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == "conn"]


def test_a_watch_streams_through_a_socks5_proxy_url_that_resolves_the_server(socks):
    assert _flows(socks.run(socks.proxy.url()))
    assert socks.targets() == {(socks.server, 200)}


def test_credentials_in_a_socks5_proxy_url_log_in_to_the_proxy(socks_with_password):
    proxied = socks_with_password
    assert _flows(proxied.run(proxied.proxy.url("netmon:s3cr%40t")))
    assert proxied.targets() == {(proxied.server, 200)}


def test_no_proxy_does_not_bypass_a_kubeconfigs_proxy_url(socks):
    assert _flows(socks.run(socks.proxy.url(), NO_PROXY="kubernetes", no_proxy="kubernetes"))
    assert socks.targets() == {(socks.server, 200)}


def test_https_proxy_from_the_environment_carries_the_watch(connect):
    assert _flows(connect.run(HTTPS_PROXY=connect.proxy.url()))
    assert connect.targets() == {(connect.server, 200)}


def test_no_proxy_naming_the_server_keeps_the_environments_proxy_out(connect):
    run = connect.run(HTTPS_PROXY=connect.proxy.url(), NO_PROXY=f"example.test,{connect.server}")

    (line,) = run.stderr.splitlines()  # `kubernetes` resolves nowhere but at the proxy
    assert run.returncode == 1 and line.startswith("error: ")
    assert "cannot reach the API server" in line
    assert connect.targets() == set()


def test_a_loopback_server_is_reached_without_the_environments_proxy(connect):
    assert _flows(connect.run(server=f"127.0.0.1:{connect.lab.port}",
                              HTTPS_PROXY=connect.proxy.url()))
    assert connect.targets() == set()
