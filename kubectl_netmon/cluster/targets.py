"""What to capture: command-line words -> a TargetSpec (pure) -> running pods and nodes (API).

Accepted forms, as kubectl spells them: `NAME...` and `pod NAME...` (pods), `pod/NAME`,
`node NAME` or `node/NAME`, `deploy/NAME`, `sts/NAME`, `ds/NAME`, plus `-l SELECTOR` or
`--ns NS` (every pod of a namespace) instead of names.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubernetes import client

from kubectl_netmon.cluster import rest
from kubectl_netmon.errors import ClusterError, UsageError
from kubectl_netmon.output.escape import escape

_KINDS = {
    "pod": "pod", "pods": "pod", "po": "pod",
    "node": "node", "nodes": "node", "no": "node",
    "deploy": "deployments", "deployment": "deployments", "deployments": "deployments",
    "sts": "statefulsets", "statefulset": "statefulsets", "statefulsets": "statefulsets",
    "ds": "daemonsets", "daemonset": "daemonsets", "daemonsets": "daemonsets",
}
_WORKLOAD_NAMES = {"deployments": "deployment", "statefulsets": "statefulset",
                   "daemonsets": "daemonset"}


@dataclass(frozen=True)
class PodRef:
    """A running pod to capture: where it runs and its IP (for node-mode filters and names)."""

    namespace: str
    name: str
    node: str
    ip: str
    container: str = ""

    @property
    def key(self) -> str:
        """`namespace/name`, the name a capture point of this pod carries."""
        return f"{self.namespace}/{self.name}"


@dataclass
class Targets:
    """Resolved targets: pods (captured next to them) and whole nodes; `selectors` are the
    label selectors (-l syntax, "" for all) of the workloads, -l or --ns in `namespace`, whose
    pods may change while a capture runs (cluster.follow)."""

    pods: list[PodRef] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    namespace: str = ""
    selectors: list[str] = field(default_factory=list)

    def by_node(self) -> dict[str, list[PodRef]]:
        """Pods grouped by the node they run on (one node capture serves them all)."""
        groups: dict[str, list[PodRef]] = {}
        for pod in self.pods:
            groups.setdefault(pod.node, []).append(pod)
        return groups

    def namespaces(self) -> list[str]:
        """The namespaces of the target pods, sorted, each once."""
        return sorted({p.namespace for p in self.pods})


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked for, before any API call: (kind, name) items or a selector."""

    namespace: str
    items: tuple[tuple[str, str], ...] = ()
    selector: str = ""
    whole_namespace: bool = False
    container: str = ""


def parse_targets(words: Sequence[str], namespace: str, selector: str = "",
                  whole_namespace: bool = False, container: str = "") -> TargetSpec:
    """Check the words' grammar and build a TargetSpec; UsageError names what is wrong."""
    if (selector or whole_namespace) and words:
        raise UsageError("give either names or -l/--ns, not both")
    if selector and whole_namespace:
        raise UsageError("give either -l SELECTOR or --ns NS, not both")
    if not (words or selector or whole_namespace):
        raise UsageError("nothing to capture: name a pod, node NAME, deploy/NAME, -l or --ns")
    items: list[tuple[str, str]] = []
    kind = "pod"
    rest_words = list(words)
    if rest_words and rest_words[0] in _KINDS and "/" not in rest_words[0]:
        kind = _KINDS[rest_words.pop(0)]
        if not rest_words:
            raise UsageError(f"{words[0]}: name at least one")
    for word in rest_words:
        prefix, slash, name = word.partition("/")
        if slash and prefix not in _KINDS:
            raise UsageError(f"{escape(word)}: unknown kind {escape(prefix)!r} "
                             "(use pod/, node/, deploy/, sts/ or ds/)")
        item_kind, item_name = (_KINDS[prefix], name) if slash else (kind, word)
        if not item_name:
            raise UsageError(f"{escape(word)}: a name is missing")
        items.append((item_kind, item_name))
    return TargetSpec(namespace, tuple(items), selector, whole_namespace, container)


def label_selector(selector: dict) -> str:
    """A LabelSelector object (matchLabels, matchExpressions) as the `-l` string syntax."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(parts)


def resolve(api_client: client.ApiClient, spec: TargetSpec) -> Targets:
    """Look the targets up; ClusterError for a missing pod, node, workload or namespace, or
    when nothing that runs matches."""
    core = client.CoreV1Api(api_client)
    targets = Targets(namespace=spec.namespace)
    if spec.selector or spec.whole_namespace:
        targets.pods = _running(core, spec, spec.selector)
        targets.selectors.append(spec.selector)
    for kind, name in spec.items:
        if kind == "pod":
            targets.pods.append(_pod(core, spec, name))
        elif kind == "node":
            _check_node(core, name)
            targets.nodes.append(name)
        else:
            selector = _workload_selector(api_client, core, spec, kind, name)
            targets.pods += _running(core, spec, selector)
            targets.selectors.append(selector)
    return targets


def _pod(core: client.CoreV1Api, spec: TargetSpec, name: str) -> PodRef:
    try:
        pod = rest.call(f'pod "{escape(name)}"', core.read_namespaced_pod, name, spec.namespace)
    except rest.ApiError as e:
        if e.code == 404:
            _check_namespace(core, spec.namespace)
            raise ClusterError(f'pod "{escape(name)}" not found in namespace '
                               f'"{escape(spec.namespace)}"; check the name with '
                               f'{_get("pods", spec.namespace)}') from None
        raise
    ref = _ref(pod, spec.container)
    if ref is None:
        phase = pod.get("status", {}).get("phase", "Unknown")
        raise ClusterError(f'pod "{escape(spec.namespace)}/{escape(name)}" is {escape(phase)}, '
                           "not running: nothing to capture")
    names = [c["name"] for c in pod["spec"]["containers"]]
    if spec.container and spec.container not in names:
        raise ClusterError(f'pod "{escape(name)}" has no container "{escape(spec.container)}" '
                           f"(it has: {escape(', '.join(names))})")
    return ref


def _running(core: client.CoreV1Api, spec: TargetSpec, selector: str) -> list[PodRef]:
    what = f'pods in namespace "{escape(spec.namespace)}"'
    kwargs = {"label_selector": selector} if selector else {}
    try:
        listed = rest.call(what, core.list_namespaced_pod, spec.namespace, **kwargs)
    except rest.ApiError as e:
        if selector and e.code == 400:  # the server could not parse it
            why = str(e).removeprefix(f"{what}: ")
            raise UsageError(f"label selector {escape(selector)!r}: {why}; write it as for "
                             "kubectl get -l, e.g. app=web or 'tier in (web,api)'") from None
        raise
    refs = [r for r in (_ref(p, spec.container) for p in listed.get("items", [])) if r]
    if not refs:
        _check_namespace(core, spec.namespace)
        matching = f" matching {escape(selector)!r}" if selector else ""
        raise ClusterError(f"no running pods{matching} in namespace "
                           f'"{escape(spec.namespace)}"; check them with '
                           f'{_get("pods", spec.namespace, selector)}')
    return refs


def _workload_selector(api_client: client.ApiClient, core: client.CoreV1Api, spec: TargetSpec,
                       kind: str, name: str) -> str:
    """The workload's pod selector, in -l syntax."""
    apps = client.AppsV1Api(api_client)
    read = {"deployments": apps.read_namespaced_deployment,
            "statefulsets": apps.read_namespaced_stateful_set,
            "daemonsets": apps.read_namespaced_daemon_set}[kind]
    what = f'{_WORKLOAD_NAMES[kind]} "{escape(name)}" in namespace "{escape(spec.namespace)}"'
    try:
        obj = rest.call(what, read, name, spec.namespace)
    except rest.ApiError as e:
        if e.code == 404:
            _check_namespace(core, spec.namespace)
            raise ClusterError(f"{what} not found; check the name with "
                               f"{_get(kind, spec.namespace)}") from None
        raise
    return label_selector(obj["spec"].get("selector") or {})


def _ref(pod: dict, container: str) -> PodRef | None:
    """A PodRef for a Running pod with an IP on a node; None otherwise."""
    status, spec = pod.get("status", {}), pod.get("spec", {})
    if status.get("phase") != "Running" or not status.get("podIP") or not spec.get("nodeName"):
        return None
    meta = pod["metadata"]
    return PodRef(meta["namespace"], meta["name"], spec["nodeName"], status["podIP"], container)


def _check_node(core: client.CoreV1Api, name: str) -> None:
    try:
        rest.call(f'node "{escape(name)}"', core.read_node, name)
    except rest.ApiError as e:
        if e.code == 404:
            raise ClusterError(f'node "{escape(name)}" not found; check the name with '
                               f'{_get("nodes")}') from None
        raise


def _check_namespace(core: client.CoreV1Api, namespace: str) -> None:
    """ClusterError when the namespace does not exist (unknown when we may not read it)."""
    try:
        rest.call("namespace", core.read_namespace, namespace)
    except rest.ApiError as e:
        if e.code == 404:
            raise missing_namespace(namespace) from None


def missing_namespace(namespace: str, flag: str = "") -> ClusterError:
    """The error for a namespace that does not exist (named by `flag`, when a flag named it),
    with how to list the ones that do."""
    given = f"{flag} " if flag else ""
    return ClusterError(f'{given}namespace "{escape(namespace)}" not found; check the name with '
                        f'{_get("namespaces")}')


def _get(resource: str, namespace: str = "", selector: str = "") -> str:
    """The kubectl command that lists what exists, for the user to check a name against."""
    where = f" -n {escape(namespace)}" if namespace else ""
    matching = f" -l {escape(shlex.quote(selector))}" if selector else ""
    return f"kubectl get {resource}{where}{matching}"
