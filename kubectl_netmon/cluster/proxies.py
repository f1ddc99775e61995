"""Which proxy reaches the API server, decided as kubectl decides, and the exec stream's
websocket-client options for it.

kubectl (client-go) takes a cluster's `proxy-url` (http, https or socks5) for every request,
whatever NO_PROXY says (http.ProxyURL). Without one it takes the environment
(http.ProxyFromEnvironment): HTTPS_PROXY for an https server (HTTP_PROXY for http), never for
localhost or a loopback address, and not for a server NO_PROXY names (a name and its subdomains,
an IP, a CIDR, optionally with :port, or `*`). Go hands a socks5 proxy the server's name to
resolve, which Python clients call socks5h. The decision is made once, here: the kubernetes
client gets it as its proxy with an empty no_proxy, and websocket-client gets it as options that
keep it from reading the environment again.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import unquote, urlparse

from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
# websocket-client's proxy_type per proxy scheme (https proxies, TLS to the proxy, it lacks)
_STREAM_TYPES = {"http": "http", "socks5": "socks5h", "socks5h": "socks5h"}
# A no_proxy list naming no host (no DNS name ends in ".-"): an empty one would make
# websocket-client read NO_PROXY from the environment, also for a kubeconfig's proxy-url.
_NO_HOST = ["-"]
# Direct, whatever the environment says: without a proxy host websocket-client would take
# HTTPS_PROXY itself; a proxy whose no_proxy list covers every host is never used.
_DIRECT = {"http_proxy_host": "-", "http_proxy_port": 1, "http_no_proxy": ["*"]}


def cluster_proxy(server: str, proxy_url: str | None, environ: Mapping[str, str]
                  ) -> str | None:
    """The proxy URL for requests to the API server `server` (None: direct), as kubectl
    chooses it; socks5 is given as socks5h (the proxy resolves the server's name)."""
    if not proxy_url:
        url = urlparse(server)
        name = "HTTPS_PROXY" if url.scheme == "https" else "HTTP_PROXY"
        proxy_url = environ.get(name) or environ.get(name.lower())
        no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
        if not proxy_url or not _use_proxy(url.hostname or "", _port(url), no_proxy):
            return None
        if "://" not in proxy_url:  # Go reads "host:port" as an http proxy
            proxy_url = f"http://{proxy_url}"
    scheme, sep, rest = proxy_url.partition("://")
    return f"socks5h{sep}{rest}" if scheme.lower() == "socks5" else proxy_url


def proxy_options(cfg) -> dict:
    """websocket-client options for the configuration's proxy (from cluster_proxy)."""
    if not cfg.proxy:
        return _DIRECT
    proxy = urlparse(cfg.proxy)
    kind = _STREAM_TYPES.get(proxy.scheme.lower())
    if kind is None or not proxy.hostname:
        raise ClusterError(f"proxy {escape(_without_userinfo(cfg.proxy))}: the exec stream "
                           "goes through http:// and socks5:// proxies only")
    opts: dict = {"http_proxy_host": proxy.hostname, "proxy_type": kind,
                  "http_proxy_port": proxy.port or _DEFAULT_PORTS[proxy.scheme.lower()],
                  "http_no_proxy": _NO_HOST}
    if proxy.username:
        opts["http_proxy_auth"] = (unquote(proxy.username), unquote(proxy.password or ""))
    return opts


def _port(url) -> int:
    return url.port or _DEFAULT_PORTS.get(url.scheme, 443)


def _use_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Go's httpproxy rules: never localhost or loopback; not what NO_PROXY names."""
    host = host.lower().strip("[]")
    ip = _ip(host)
    if host == "localhost" or ip is not None and ip.is_loopback:
        return False
    return not any(_matches(entry.strip().lower(), host, ip, port)
                   for entry in no_proxy.split(",") if entry.strip())


def _matches(entry: str, host: str, ip, port: int) -> bool:
    """Whether one NO_PROXY entry names the server (host, its address ip or None, port)."""
    if entry == "*":
        return True
    if "/" in entry:
        try:
            return ip is not None and ip in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    name, want_port = entry, None
    if entry.startswith("[") or entry.count(":") == 1:  # host:port, [v6]:port
        name, _, tail = entry.rpartition(":")
        if not tail.isdigit():
            return False
        name, want_port = name.strip("[]"), int(tail)
    if want_port is not None and want_port != port:
        return False
    entry_ip = _ip(name)
    if entry_ip is not None:
        return ip == entry_ip
    suffix = name[1:] if name.startswith("*.") else name
    return host.endswith(suffix) if suffix.startswith(".") else \
        host == suffix or host.endswith(f".{suffix}")


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _without_userinfo(url: str) -> str:
    """The URL without credentials, for messages."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"
