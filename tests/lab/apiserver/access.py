"""SelfSubjectAccessReview: may I? answered from the same RBAC rules, without side effects."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .messages import Request, Response, ok
from .rbac import Attributes, Policy
from .status import ApiError, method_not_allowed

if TYPE_CHECKING:
    from .routing import RequestInfo

# Non-resource paths every authenticated user may get (system:discovery, public-info-viewer).
DISCOVERY = ("/api", "/apis", "/openapi", "/version", "/healthz", "/livez", "/readyz")


def review(policy: Policy, req: Request, info: RequestInfo) -> Response:
    """201 with the review and status.allowed for the requesting user."""
    if info.verb != "create" or info.name:
        raise method_not_allowed(info.verb, info.resource)
    body = req.json()
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or (spec.get("resourceAttributes") is None) == (
        spec.get("nonResourceAttributes") is None
    ):
        raise ApiError(
            "Invalid",
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
            'spec.resourceAttributes: Invalid value: "null": exactly one of '
            "nonResourceAttributes or resourceAttributes must be specified",
            {"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"},
        )
    out = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None, **(body.get("metadata") or {})},
        "spec": copy.deepcopy(spec),
        "status": {"allowed": _allowed(policy, req, spec)},
    }
    return ok(out, 201)


def _allowed(policy: Policy, req: Request, spec: dict) -> bool:
    res = spec.get("resourceAttributes")
    if res is None:
        path = spec["nonResourceAttributes"].get("path", "")
        return req.user != "system:anonymous" and path.startswith(DISCOVERY)
    attrs = Attributes(
        req.user,
        res.get("verb", ""),
        res.get("group", ""),
        res.get("resource", ""),
        res.get("subresource", ""),
        res.get("namespace", ""),
        res.get("name", ""),
    )
    return policy.allowed(attrs, req.groups)
