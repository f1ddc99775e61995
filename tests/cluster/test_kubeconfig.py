"""Finding the API client configuration the way kubectl does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kubectl_netmon.cluster.kubeconfig import load_cluster
from kubectl_netmon.cluster.proxies import proxy_options
from kubectl_netmon.errors import ClusterError


def kubeconfig(path, current: str | None = "one", server: str = "https://10.1.1.1:6443",
               contexts: tuple[str, ...] = ("one", "two")) -> str:
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": server,
                                                  "insecure-skip-tls-verify": True}}],
           "users": [{"name": "u", "user": {"token": "secret-token"}}],
           "contexts": [{"name": n, "context": {"cluster": "c", "user": "u",
                                                **({"namespace": "team-a"} if n == "one" else {})}}
                        for n in contexts]}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.fixture
def no_home(tmp_path, monkeypatch):
    """No ~/.kube/config and no KUBECONFIG unless a test sets one."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_the_current_context_gives_server_token_and_its_namespace(tmp_path, no_home):
    cfg = load_cluster(kubeconfig(tmp_path / "kc"))
    assert (cfg.context, cfg.namespace) == ("one", "team-a")
    assert cfg.client.configuration.host == "https://10.1.1.1:6443"
    assert cfg.client.configuration.api_key["BearerToken"].endswith("secret-token")


def test_context_picks_another_context_whose_namespace_defaults_to_default(tmp_path, no_home):
    cfg = load_cluster(kubeconfig(tmp_path / "kc"), context="two")
    assert (cfg.context, cfg.namespace) == ("two", "default")


def test_an_explicit_namespace_wins_over_the_contexts(tmp_path, no_home):
    assert load_cluster(kubeconfig(tmp_path / "kc"), namespace="ops").namespace == "ops"


def test_kubeconfig_env_lists_files_merged_first_current_context_wins(tmp_path, no_home,
                                                                       monkeypatch):
    first = kubeconfig(tmp_path / "a", current="two", contexts=("two",),
                       server="https://10.2.2.2:6443")
    second = kubeconfig(tmp_path / "b", current="one", contexts=("one",))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), first, second]))
    cfg = load_cluster()
    assert (cfg.context, cfg.client.configuration.host) == ("two", "https://10.2.2.2:6443")
    assert load_cluster(context="one").namespace == "team-a"


def test_home_kube_config_is_the_default(tmp_path, no_home):
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    kubeconfig(tmp_path / "home" / ".kube" / "config")
    assert load_cluster().context == "one"


def test_in_a_pod_without_kubeconfig_the_service_account_is_used(tmp_path, no_home):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (sa / "namespace").write_text("monitoring")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = load_cluster(environ=env, service_account_dir=str(sa))
    assert (cfg.context, cfg.namespace) == ("", "monitoring")
    assert cfg.client.configuration.host == "https://10.96.0.1:443"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kubeconfig": "/nonexistent/kc"}, "--kubeconfig /nonexistent/kc: no such file"),
    ({}, "no kubeconfig found (~/.kube/config) and not running in a pod; pass --kubeconfig "
         "FILE or set KUBECONFIG"),
])
def test_no_configuration_is_one_cluster_error_line(no_home, kwargs, message):
    with pytest.raises(ClusterError) as e:
        load_cluster(**kwargs)
    assert str(e.value) == message


def test_an_unknown_context_names_the_ones_there_are(tmp_path, no_home):
    with pytest.raises(ClusterError, match=r"no context named prod \(contexts: one, two\)$"):
        load_cluster(kubeconfig(tmp_path / "kc"), context="prod")


def test_a_kubeconfig_without_current_context_asks_for_context(tmp_path, no_home):
    with pytest.raises(ClusterError, match="no current context; pass --context NAME$"):
        load_cluster(kubeconfig(tmp_path / "kc", current=None))


def test_a_file_that_is_not_yaml_is_a_cluster_error_naming_it(tmp_path, no_home):
    (tmp_path / "kc").write_text("clusters: [unclosed\n")
    with pytest.raises(ClusterError, match=f"^kubeconfig {tmp_path / 'kc'}: "):
        load_cluster(str(tmp_path / "kc"))


def test_a_context_whose_user_is_missing_is_a_cluster_error(tmp_path, no_home):
    path = tmp_path / "kc"
    kubeconfig(path)
    doc = yaml.safe_load(path.read_text())
    doc["contexts"][0]["context"]["user"] = "nobody"
    doc["clusters"] = []
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ClusterError, match="context one: "):
        load_cluster(str(path))


# -- the proxy, chosen as kubectl chooses it ------------------------------------------------------

def _proxy(tmp_path, server: str = "https://api.example.test:6443", proxy_url: str = "",
           **environ: str) -> str | None:
    path = Path(kubeconfig(tmp_path / "kc", server=server))
    if proxy_url:
        doc = yaml.safe_load(path.read_text())
        doc["clusters"][0]["cluster"]["proxy-url"] = proxy_url
        path.write_text(yaml.safe_dump(doc))
    return load_cluster(str(path), environ=environ).client.configuration.proxy


def test_a_socks5_proxy_url_resolves_the_server_name_at_the_proxy(tmp_path):
    assert _proxy(tmp_path, proxy_url="socks5://p.example.test:1080") == \
        "socks5h://p.example.test:1080"


def test_a_proxy_url_is_used_whatever_no_proxy_says(tmp_path):
    assert _proxy(tmp_path, proxy_url="http://p.example.test:3128",
                  NO_PROXY="api.example.test") == "http://p.example.test:3128"


def test_without_proxy_url_https_proxy_serves_an_https_server(tmp_path):
    assert _proxy(tmp_path, HTTPS_PROXY="p.example.test:3128", HTTP_PROXY="http://other:1",
                  ALL_PROXY="http://other:2") == "http://p.example.test:3128"


@pytest.mark.parametrize("no_proxy", ["api.example.test", "example.test", ".example.test",
                                      "*.example.test", "api.example.test:6443", "*"])
def test_no_proxy_naming_the_server_keeps_the_environments_proxy_out(tmp_path, no_proxy):
    assert _proxy(tmp_path, HTTPS_PROXY="http://p.example.test:3128",
                  no_proxy=no_proxy) is None


@pytest.mark.parametrize("server, no_proxy", [("https://10.1.1.1:6443", "10.0.0.0/8"),
                                              ("https://10.1.1.1:6443", "10.1.1.1"),
                                              ("https://127.0.0.1:6443", ""),
                                              ("https://localhost:6443", "")])
def test_addresses_no_proxy_covers_and_loopback_go_direct(tmp_path, server, no_proxy):
    assert _proxy(tmp_path, server, HTTPS_PROXY="http://p.example.test:3128",
                  NO_PROXY=no_proxy) is None


@pytest.mark.parametrize("no_proxy", ["example.test:443", "api.example.testx", "xample.test",
                                      "10.0.0.0/8"])
def test_no_proxy_entries_that_name_another_server_leave_the_proxy(tmp_path, no_proxy):
    assert _proxy(tmp_path, HTTPS_PROXY="http://p.example.test:3128",
                  NO_PROXY=no_proxy) == "http://p.example.test:3128"


def test_the_exec_stream_refuses_an_https_proxy_in_one_line(tmp_path):
    cfg = load_cluster(kubeconfig(tmp_path / "kc"), environ={
        "HTTPS_PROXY": "https://user:pw@p.example.test:3128"}).client.configuration

    with pytest.raises(ClusterError, match=r"^proxy https://p\.example\.test:3128: the exec "
                       r"stream goes through http:// and socks5:// proxies only$"):
        proxy_options(cfg)
