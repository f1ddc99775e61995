"""--mode auto: which capture mode the cluster will admit, decided before anything is created.

Two questions per mode: does RBAC allow every call it makes (one SelfSubjectAccessReview per
permission, no side effects), and does the namespace's Pod Security `enforce` label admit its
pod spec (NET_RAW/NET_ADMIN need `privileged`; so does hostNetwork). When no mode passes, the
error names each missing permission and each blocking label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubernetes import client

from kubectl_netmon.cluster import rest
from kubectl_netmon.cluster.targets import Targets, missing_namespace
from kubectl_netmon.errors import ClusterError, UsageError
from kubectl_netmon.output.escape import escape

ENFORCE = "pod-security.kubernetes.io/enforce"
MODES = ("ephemeral", "node")
_FORBIDS = {
    "ephemeral": "the NET_RAW and NET_ADMIN capabilities",
    "node": "hostNetwork and the NET_RAW and NET_ADMIN capabilities",
}


@dataclass(frozen=True)
class Need:
    """One permission a mode needs: verb on resource[/subresource] in a namespace."""

    verb: str
    resource: str
    namespace: str
    subresource: str = ""

    def __str__(self) -> str:
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        return f'{self.verb} {res} in namespace "{escape(self.namespace)}"'

    def review(self) -> dict:
        """The SelfSubjectAccessReview asking for this permission."""
        attrs = {"verb": self.verb, "resource": self.resource, "namespace": self.namespace}
        if self.subresource:
            attrs["subresource"] = self.subresource
        return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}


def _exec_needs(ns: str) -> list[Need]:
    # WebSocket exec is a GET (verb get); from 1.35 it also needs create.
    return [Need("get", "pods", ns), Need("watch", "pods", ns),
            Need("get", "pods", ns, "exec"), Need("create", "pods", ns, "exec")]


def ephemeral_needs(namespaces: Iterable[str]) -> list[Need]:
    """Permissions for ephemeral mode in each target namespace."""
    return [n for ns in namespaces
            for n in [*_exec_needs(ns), Need("patch", "pods", ns, "ephemeralcontainers")]]


def node_needs(node_namespace: str) -> list[Need]:
    """Permissions for node mode: capture pods live in node_namespace only."""
    ns = node_namespace
    return [Need("create", "pods", ns), Need("delete", "pods", ns), *_exec_needs(ns)]


def psa_problem(namespace: str, labels: dict, mode: str) -> str | None:
    """Why the namespace's Pod Security enforce label rejects this mode's spec, or None."""
    level = labels.get(ENFORCE, "privileged")
    if level == "privileged":
        return None
    return (f'namespace "{escape(namespace)}" enforces Pod Security "{escape(level)}" '
            f"(label {ENFORCE}={escape(level)}), which forbids {_FORBIDS[mode]}")


def denied(api_client: client.ApiClient, needs: Iterable[Need]) -> list[Need]:
    """The needs RBAC does not grant, asked one SelfSubjectAccessReview at a time."""
    authz = client.AuthorizationV1Api(api_client)
    out = []
    for need in needs:
        review = rest.call("permission check", authz.create_self_subject_access_review,
                           need.review())
        if not review.get("status", {}).get("allowed"):
            out.append(need)
    return out


def namespace_labels(api_client: client.ApiClient, namespace: str,
                     flag: str = "") -> dict | None:
    """The namespace's labels; None when we may not read it (admission is then learnt late).
    `flag`: the option that named it, for the error when it does not exist."""
    core = client.CoreV1Api(api_client)
    try:
        ns = rest.call(f'namespace "{escape(namespace)}"', core.read_namespace, namespace)
    except rest.ApiError as e:
        if e.code == 404:
            raise missing_namespace(namespace, flag) from None
        if e.code == 403:
            return None
        raise
    return ns.get("metadata", {}).get("labels") or {}


def problems(api_client: client.ApiClient, mode: str, targets: Targets,
             node_namespace: str) -> tuple[list[Need], list[str]]:
    """Everything that would make this mode fail: missing permissions, blocking labels."""
    namespaces = targets.namespaces() if mode == "ephemeral" else [node_namespace]
    needs = ephemeral_needs(namespaces) if mode == "ephemeral" else node_needs(node_namespace)
    blocking = []
    for ns in namespaces:
        labels = namespace_labels(api_client, ns, "--node-namespace" if mode == "node" else "")
        problem = psa_problem(ns, labels, mode) if labels is not None else None
        if problem:
            blocking.append(problem)
    return denied(api_client, needs), blocking


def choose_mode(api_client: client.ApiClient, requested: str, targets: Targets,
                node_namespace: str) -> str:
    """The first admitted mode: node mode first for whole nodes and for several pods sharing a
    node (one capture serves them), else ephemeral first (less privilege, no new pod).
    ClusterError listing every problem of every candidate, and the ways out, when none is
    admitted."""
    if requested not in (*MODES, "auto"):
        raise UsageError(f"--mode must be ephemeral, node or auto, not {escape(requested)!r}")
    if targets.nodes and requested == "ephemeral":
        raise UsageError("capturing a whole node needs --mode node (or auto)")
    shared = any(len(pods) > 1 for pods in targets.by_node().values())
    auto = ["node"] if targets.nodes else ["node", "ephemeral"] if shared else list(MODES)
    candidates = auto if requested == "auto" else [requested]
    report, ways = [], []
    for mode in candidates:
        missing, blocking = problems(api_client, mode, targets, node_namespace)
        if not (missing or blocking):
            return mode
        found = [f"missing permission: {n}" for n in missing] + blocking
        report.append(f"{mode} mode: {'; '.join(found)}")
        if missing:
            ways.append(rest.GRANT)
        if blocking:
            ways.append(rest.ELSEWHERE)
    raise ClusterError("cannot capture, nothing was created. " + " | ".join(report)
                       + ". To capture: " + ", or ".join(dict.fromkeys(ways)))
