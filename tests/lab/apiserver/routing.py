"""Request paths to RequestInfo, as the apiserver's RequestInfoFactory derives them."""

from __future__ import annotations

from dataclasses import dataclass

from .status import ApiError

CORE_NAMESPACED = {"pods", "services", "serviceaccounts", "events"}
APPS = {"deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions"}
NAMESPACED = CORE_NAMESPACED | APPS
CLUSTER = {"namespaces", "nodes"}
SUBRESOURCES = {
    "pods": {"exec", "log", "ephemeralcontainers", "status"},
    "namespaces": {"status"},
    "nodes": {"status"},
    "services": {"status"},
    **{r: {"scale"} for r in ("deployments", "replicasets", "statefulsets")},
}
GROUPS = {
    ("", "v1"): CORE_NAMESPACED | CLUSTER,
    ("apps", "v1"): APPS,
    ("authorization.k8s.io", "v1"): {"selfsubjectaccessreviews"},
}
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass
class RequestInfo:
    """What a request addresses and the authorization verb it needs."""

    verb: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    resource_request: bool = True


def parse(method: str, path: str, watch: bool) -> RequestInfo:
    """RequestInfo for a path under /api or /apis; a non-resource request otherwise."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(verb=method.lower(), resource_request=False)
    if not rest:
        return RequestInfo(verb=method.lower(), resource_request=False)
    info = RequestInfo(verb="", group=group, version=version)
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in SUBRESOURCES["namespaces"]:
        info.namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) >= 2:
        info.namespace = rest[1]
    info.resource = rest[0]
    info.name = rest[1] if len(rest) > 1 else ""
    info.subresource = rest[2] if len(rest) > 2 else ""
    known = GROUPS.get((group, version), set())
    if (
        len(rest) > 3
        or info.resource not in known
        or (info.subresource and info.subresource not in SUBRESOURCES.get(info.resource, ()))
    ):
        raise ApiError("NotFound", "the server could not find the requested resource", {})
    if method == "GET":
        info.verb = "watch" if watch else ("get" if info.name else "list")
    elif method == "DELETE" and not info.name:
        info.verb = "deletecollection"
    else:
        info.verb = _VERBS.get(method, method.lower())
    return info
