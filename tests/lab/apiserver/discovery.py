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
        _res("serviceaccounts", "ServiceAccount", True, _RW, ["sa"]),
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


_GROUP_IDS = {"": ("core", "CoreV1"), "apps": ("apps", "AppsV1")}  # schema and operation names


def _operation(group: str, kind: str, action: str, params: list[dict]) -> dict[str, Any]:
    package, op_group = _GROUP_IDS[group]
    ref = {"$ref": f"#/components/schemas/io.k8s.api.{package}.v1.{kind}"}
    return {
        "operationId": f"{action}{op_group}Namespaced{kind}",
        "parameters": params,
        "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": "v1", "kind": kind},
    }


def _param(name: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}


def _resources(group: str) -> list[tuple[str, str, dict]]:
    """(resource, kind, fields) of one API group ("" is core)."""
    return [
        (resource, kind, fields)
        for resource, (kind, fields) in schema.KINDS.items()
        if schema.GROUPS.get(resource, "") == group
    ]


def _paths(group: str) -> dict[str, Any]:
    write = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    prefix = f"/apis/{group}/v1" if group else "/api/v1"
    paths = {}
    for resource, kind, _ in _resources(group):
        scope = "/namespaces/{namespace}" if resource in routing.NAMESPACED else ""
        base = f"{prefix}{scope}/{resource}"
        paths[base] = {
            "post": _operation(group, kind, "post", write),
            "get": _operation(group, kind, "list", [_param("labelSelector")]),
        }
        paths[base + "/{name}"] = {
            "get": _operation(group, kind, "get", []),
            "patch": _operation(group, kind, "patch", write + [_param("force")]),
            "put": _operation(group, kind, "put", write),
            "delete": _operation(group, kind, "delete", []),
        }
    return paths


def _schemas(group: str) -> dict[str, Any]:
    out = {}
    for _, kind, fields in _resources(group):
        doc = schema.openapi(fields)
        doc["x-kubernetes-group-version-kind"] = [{"group": group, "version": "v1", "kind": kind}]
        out[f"io.k8s.api.{_GROUP_IDS[group][0]}.v1.{kind}"] = doc
    return out


def _openapi(group: str) -> dict[str, Any]:
    """One group version's OpenAPI v3 document: what kubectl reads to validate and to patch."""
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": _paths(group),
        "components": {"schemas": _schemas(group)},
    }


# /openapi/v3/<path>, and the root listing each with the hash clients cache it by.
OPENAPI = {"api/v1": _openapi(""), "apis/apps/v1": _openapi("apps")}
OPENAPI_ROOT = {
    "paths": {
        path: {
            "serverRelativeURL": f"/openapi/v3/{path}?hash="
            + hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
        }
        for path, doc in OPENAPI.items()
    }
}
