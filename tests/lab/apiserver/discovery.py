"""Discovery documents (/version, /api, /apis, /api/v1, ...) and the OpenAPI v3 kubectl needs."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import routing, schema

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-lab",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _res(
    name: str,
    kind: str,
    namespaced: bool,
    verbs: list[str],
    short: list[str] = (),
    group: str = "",
    version: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "singularName": "" if "/" in name else kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    }
    if group:
        out.update(group=group, version=version)
    if short:
        out["shortNames"] = list(short)
    if "/" not in name:
        out["storageVersionHash"] = hashlib.sha256(kind.encode()).hexdigest()[:12]
    return out


CORE_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        _res(
            "namespaces",
            "Namespace",
            False,
            ["create", "delete", "get", "list", "patch", "update", "watch"],
            ["ns"],
        ),
        _res("events", "Event", True, _RW, ["ev"]),
        _res("nodes", "Node", False, _RW, ["no"]),
        _res("pods", "Pod", True, _RW, ["po"]),
        _res("pods/ephemeralcontainers", "Pod", True, ["get", "patch", "update"]),
        _res("pods/exec", "PodExecOptions", True, ["create", "get"]),
        _res("pods/log", "Pod", True, ["get"]),
        _res("pods/status", "Pod", True, ["get", "patch", "update"]),
        _res(
            "services",
            "Service",
            True,
            ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            ["svc"],
        ),
    ],
}
AUTHZ_V1 = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "authorization.k8s.io/v1",
    "resources": [_res("selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ["create"])],
}
_APPS_GV = {"groupVersion": "apps/v1", "version": "v1"}
_AUTHZ_GV = {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}
APIS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        {"name": "apps", "versions": [_APPS_GV], "preferredVersion": _APPS_GV},
        {"name": "authorization.k8s.io", "versions": [_AUTHZ_GV], "preferredVersion": _AUTHZ_GV},
    ],
}
AUTHZ_GROUP = {"kind": "APIGroup", "apiVersion": "v1", **APIS["groups"][1]}


def api_versions(server_address: str) -> dict[str, Any]:
    """/api: the legacy group's versions, with the address clients should use."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _operation(kind: str, action: str, params: list[dict]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/io.k8s.api.core.v1.{kind}"}
    return {
        "operationId": f"{action}CoreV1Namespaced{kind}",
        "parameters": params,
        "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
    }


def _param(name: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}


def _paths() -> dict[str, Any]:
    write = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    paths = {}
    for resource, (kind, _) in schema.KINDS.items():
        if resource in schema.GROUPS:
            continue
        namespaced = resource in routing.NAMESPACED
        base = (
            f"/api/v1/namespaces/{{namespace}}/{resource}" if namespaced else f"/api/v1/{resource}"
        )
        paths[base] = {
            "post": _operation(kind, "post", write),
            "get": _operation(kind, "list", [_param("labelSelector")]),
        }
        paths[base + "/{name}"] = {
            "get": _operation(kind, "get", []),
            "patch": _operation(kind, "patch", write + [_param("force")]),
            "put": _operation(kind, "put", write),
            "delete": _operation(kind, "delete", []),
        }
    return paths


def _schemas() -> dict[str, Any]:
    out = {}
    for resource, (kind, fields) in schema.KINDS.items():
        if resource in schema.GROUPS:
            continue
        doc = schema.openapi(fields)
        doc["x-kubernetes-group-version-kind"] = [{"group": "", "version": "v1", "kind": kind}]
        out[f"io.k8s.api.core.v1.{kind}"] = doc
    return out


OPENAPI_V1 = {
    "openapi": "3.0.0",
    "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
    "paths": _paths(),
    "components": {"schemas": _schemas()},
}
_V1_HASH = hashlib.sha512(json.dumps(OPENAPI_V1, sort_keys=True).encode()).hexdigest()[:64].upper()
OPENAPI_ROOT = {"paths": {"api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={_V1_HASH}"}}}
