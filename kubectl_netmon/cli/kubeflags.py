"""The kubectl-style global flags every cluster command takes: --kubeconfig, --context,
-n/--namespace, --request-timeout. kubectl hands a plugin its arguments after the plugin name,
so these are parsed by the plugin; KUBECONFIG and in-cluster config are the fallbacks
(cluster.kubeconfig).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import click

from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape

GLOBAL_FLAGS = frozenset(("--kubeconfig", "--context", "-n", "--namespace", "--request-timeout"))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_LONGEST_S = 10 * 365 * 86400  # a longer duration is a mistake (and overflows)


def parse_duration(text: str, flag: str) -> float:
    """kubectl's duration syntax ("30s", "1m30s", "500ms"; a bare number is seconds) in s;
    a negative or endless one ("inf", "nan", 1e400) is a UsageError."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise UsageError(f"{flag} {escape(text)}: not a duration; write e.g. 30s, 5m or "
                             "1h30m") from None
        seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if not 0 <= seconds < _LONGEST_S:
        raise UsageError(f"{flag} {escape(text)}: not a duration; write e.g. 30s, 5m or 1h30m")
    return seconds


def after_command(argv: list[str]) -> list[str]:
    """kubectl hands `kubectl netmon -n shop watch pod web` over as `-n shop watch pod web`:
    move the global flags (with their values) found before the command name to just after
    it, where the command parses them. Anything else before the command is left alone."""
    moved: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, _ = arg.partition("=")
        if name in GLOBAL_FLAGS or arg.startswith("-n") and not arg.startswith("--"):
            width = 1 if eq or (arg.startswith("-n") and arg != "-n") else 2
            moved += argv[i:i + width]
            i += width
        elif arg.startswith("-") or not moved:
            return argv
        else:
            return [arg, *moved, *argv[i + 1:]]
    return argv


@dataclass
class KubeFlags:
    """Where the cluster is and how long one request may take (None: not given, the defaults;
    0: no limit, as kubectl's --request-timeout=0)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout_s: float | None = None

    def connect(self):
        """The API client of the chosen context (cluster.kubeconfig.ClusterConfig)."""
        from kubectl_netmon.cluster.kubeconfig import limit_requests, load_cluster
        cluster = load_cluster(self.kubeconfig, self.context, self.namespace)
        if self.request_timeout_s:
            limit_requests(cluster.client, self.request_timeout_s)
        return cluster


NAMESPACE_HELP = "The namespace of the targets (default: the context's)."


def kube_flags(command: Callable | None = None, *, namespace_help: str = NAMESPACE_HELP
               ) -> Callable:
    """Add the global flags to a click command; it receives them as `kube: KubeFlags`.
    `@kube_flags(namespace_help=...)` for a command whose -n means something else."""
    if command is None:
        return functools.partial(kube_flags, namespace_help=namespace_help)
    @click.option("--request-timeout", metavar="DURATION",
                  help="How long one API request, and a capture's start, may take (e.g. 30s; "
                  "default: API requests no limit, a capture's start 60s; 0 means no limit).")
    @click.option("-n", "--namespace", metavar="NS", help=namespace_help)
    @click.option("--context", metavar="NAME", help="The kubeconfig context to use.")
    @click.option("--kubeconfig", metavar="FILE", help="The kubeconfig file (default: "
                  "$KUBECONFIG, then ~/.kube/config, then the in-cluster service account).")
    @functools.wraps(command)
    def wrapper(*args, kubeconfig: str | None, context: str | None, namespace: str | None,
                request_timeout: str | None, **kwargs):
        timeout = parse_duration(request_timeout, "--request-timeout") \
            if request_timeout else None
        kube = KubeFlags(kubeconfig, context, namespace, timeout)
        return command(*args, kube=kube, **kwargs)
    return wrapper
