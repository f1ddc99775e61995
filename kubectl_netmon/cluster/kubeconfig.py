"""The API client configuration, found the way kubectl finds it.

--kubeconfig, else $KUBECONFIG (a list of files, merged; missing ones skipped), else
~/.kube/config; --context picks a context (default: the current one) and the namespace defaults to
that context's. With no kubeconfig at all inside a pod, the pod's service account is used
(in-cluster config). Every failure is one ClusterError line saying what to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.config import ConfigException, load_kube_config
from kubernetes.config.incluster_config import SERVICE_HOST_ENV_NAME, InClusterConfigLoader
from urllib3 import make_headers

from kubectl_netmon.cluster import proxies
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass
class ClusterConfig:
    """A ready API client, and the namespace and context that were chosen."""

    client: ApiClient
    namespace: str
    context: str  # "" for the in-cluster service account


def limit_requests(client: ApiClient, seconds: float) -> None:
    """Bound every request of client that sets no timeout of its own to seconds (kubectl's
    --request-timeout); watches and lists that set their own keep theirs."""
    request = client.rest_client.request

    def bounded(*args, _request_timeout=None, **kwargs):
        return request(*args, _request_timeout=_request_timeout or seconds, **kwargs)

    client.rest_client.request = bounded


def load_cluster(kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, environ: Mapping[str, str] = os.environ,
                 service_account_dir: str = SERVICE_ACCOUNT_DIR) -> ClusterConfig:
    """The client for the chosen context (or the in-cluster service account)."""
    if kubeconfig is not None:  # one file, as kubectl takes it (no list splitting)
        path = os.path.expanduser(kubeconfig)
        if not os.path.isfile(path):
            raise ClusterError(f"--kubeconfig {escape(kubeconfig)}: no such file")
        return _from_kubeconfig([path], context, namespace, environ)
    paths = _existing(environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG)
    if paths:
        return _from_kubeconfig(paths, context, namespace, environ)
    if environ.get(SERVICE_HOST_ENV_NAME) and context is None:
        return _in_cluster(namespace, environ, service_account_dir)
    where = f"KUBECONFIG={environ['KUBECONFIG']}" if environ.get("KUBECONFIG") else \
        DEFAULT_KUBECONFIG
    raise ClusterError(f"no kubeconfig found ({escape(where)}) and not running in a pod; "
                       "pass --kubeconfig FILE or set KUBECONFIG")


def _existing(path_list: str) -> list[str]:
    """The files of a KUBECONFIG-style list that exist, as kubectl skips missing ones."""
    paths = (os.path.expanduser(p) for p in path_list.split(os.pathsep) if p)
    return [p for p in paths if os.path.isfile(p)]


def _from_kubeconfig(paths: list[str], context: str | None, namespace: str | None,
                     environ: Mapping[str, str]) -> ClusterConfig:
    files = os.pathsep.join(paths)
    contexts, clusters, current = _contexts(paths)
    name = context or current
    where = f"kubeconfig {escape(files)}"
    if not name:
        raise ClusterError(f"{where}: no current context; pass --context NAME")
    if name not in contexts:
        known = ", ".join(escape(n) for n in contexts) or "none"
        raise ClusterError(f"{where}: no context named {escape(name)} (contexts: {known})")
    cfg = type.__call__(Configuration)  # a fresh one, not a copy of the process-wide default
    try:
        load_kube_config(config_file=files, context=name, client_configuration=cfg,
                         persist_config=False)
    except (ConfigException, yaml.YAMLError, OSError, TypeError, KeyError, ValueError) as e:
        raise ClusterError(f"{where}, context {escape(name)}: {_reason(e)}") from None
    cluster = clusters.get(str(contexts[name].get("cluster")), {})
    _route(cfg, cluster.get("proxy-url"), environ)
    ns = namespace or contexts[name].get("namespace") or "default"
    return ClusterConfig(ApiClient(configuration=cfg), str(ns), name)


def _contexts(paths: list[str]) -> tuple[dict[str, dict], dict[str, dict], str]:
    """Every context (name -> its cluster/user/namespace), every cluster (name -> server,
    proxy-url, ...) and the current context's name, merged as kubectl merges: the first file
    to name a context or cluster, or to set current-context, wins."""
    contexts: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    current = ""
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise ClusterError(f"kubeconfig {escape(path)}: {_reason(e)}") from None
        if not isinstance(doc, dict):
            raise ClusterError(f"kubeconfig {escape(path)}: not a kubeconfig (no contexts)")
        for key, found in (("context", contexts), ("cluster", clusters)):
            for entry in doc.get(f"{key}s") or ():
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    value = entry.get(key)
                    found.setdefault(entry["name"], value if isinstance(value, dict) else {})
        current = current or str(doc.get("current-context") or "")
    return contexts, clusters, current


def _in_cluster(namespace: str | None, environ: Mapping[str, str], sa_dir: str) -> ClusterConfig:
    loader = InClusterConfigLoader(token_filename=os.path.join(sa_dir, "token"),
                                   cert_filename=os.path.join(sa_dir, "ca.crt"),
                                   environ=environ)
    cfg = type.__call__(Configuration)
    try:
        loader.load_and_set(cfg)
    except (ConfigException, OSError) as e:
        raise ClusterError(f"in-cluster configuration: {_reason(e)}") from None
    _route(cfg, None, environ)
    return ClusterConfig(ApiClient(configuration=cfg), namespace or _sa_namespace(sa_dir), "")


def _route(cfg: Configuration, proxy_url: str | None, environ: Mapping[str, str]) -> None:
    """The proxy to the API server as kubectl picks it (cluster.proxies), applied as is: the
    kubernetes client would otherwise apply NO_PROXY to a kubeconfig's proxy-url too."""
    cfg.proxy = proxies.cluster_proxy(cfg.host, proxy_url, environ)
    cfg.no_proxy = ""
    _proxy_credentials(cfg)


def _proxy_credentials(cfg: Configuration) -> None:
    """Credentials in an HTTP proxy's URL (http://user:password@host:port) go with every
    CONNECT, as kubectl sends them; the kubernetes client only sends proxy_headers it was
    given. (A SOCKS proxy's client takes them from the URL itself.)"""
    proxy = urlparse(cfg.proxy or "")
    if proxy.username and proxy.scheme.startswith("http") and not cfg.proxy_headers:
        secret = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        cfg.proxy_headers = make_headers(proxy_basic_auth=secret)


def _sa_namespace(sa_dir: str) -> str:
    try:
        with open(os.path.join(sa_dir, "namespace"), encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _reason(e: Exception) -> str:
    """The first line of the library's message (they can be long), escaped."""
    text = getattr(e, "strerror", None) or str(e).strip()
    return escape(text.splitlines()[0] if text else type(e).__name__)
