"""Creating, updating, patching and deleting objects: the registry logic shared by every kind."""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from . import patch, pods, schema
from .messages import Request
from .podstatus import now
from .status import ApiError, FieldError, bad_request, forbidden, invalid, not_found
from .store import Store

_GENERATE = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "namespace",
    "name",
    "generateName",
)


def decode(req: Request, resource: str, obj: Any, name: str = "") -> tuple[dict, list[str]]:
    """Check kind/apiVersion and unknown fields per fieldValidation; returns (obj, warnings)."""
    kind, fields = schema.KINDS[resource]
    if not isinstance(obj, dict):
        raise bad_request(
            f'{kind} in version "v1" cannot be handled as a {kind}: '
            "json: cannot unmarshal into Go value of type map"
        )
    gv = schema.api_version(resource)
    if obj.get("kind", kind) != kind or obj.get("apiVersion", gv) != gv:
        raise bad_request(
            f"the API version in the data ({obj.get('apiVersion')}) does not match "
            f"the expected API version ({gv})"
            if obj.get("apiVersion", gv) != gv
            else f'{kind} in version "v1" cannot be handled as a {kind}: '
            f'no kind "{obj.get("kind")}" is registered for version "{gv}"'
        )
    obj = {"kind": kind, "apiVersion": gv, **obj}
    obj.setdefault("metadata", {})
    unknown = schema.unknown_fields(obj, fields)
    mode = req.param("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(f'fieldValidation parameter unsupported: "{mode}"')
    if unknown and mode == "Strict":
        joined = ", ".join(f'unknown field "{f}"' for f in unknown)
        raise bad_request(
            f'{kind} in version "v1" cannot be handled as a {kind}: strict decoding error: {joined}'
        )
    warnings = [f'unknown field "{f}"' for f in unknown] if mode == "Warn" else []
    for f in unknown:
        _drop(obj, f)
    return obj, warnings


def _drop(obj: Any, path: str) -> None:
    """Remove an unknown field, as decoding into a Go struct would."""
    node, parts = obj, path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node.pop(parts[-1], None)


def new_meta(obj: dict, namespace: str, kind: str) -> None:
    """Server-set metadata on create; names from generateName; name validation."""
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(secrets.choice(_GENERATE) for _ in range(5))
    name = meta.get("name", "")
    if not name:
        raise invalid(
            kind,
            "",
            [FieldError("metadata.name", "Required value", "name or generateName is required")],
        )
    if not pods.valid_name(name):
        raise invalid(
            kind, name, [FieldError("metadata.name", "Invalid value", pods.SUBDOMAIN_MSG, name)]
        )
    if namespace:
        if meta.get("namespace", namespace) != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace "
                "sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())


def check_namespace(store: Store, resource: str, name: str, namespace: str) -> dict:
    """The namespace object; NotFound if absent, Forbidden while it terminates (on create)."""
    ns = store.find("namespaces", "", namespace)
    if ns is None:
        raise not_found("namespaces", namespace)
    if ns["status"].get("phase") == "Terminating":
        raise forbidden(
            resource,
            name,
            f"unable to create new content in namespace {namespace} because it is being terminated",
        )
    return ns


def merge_update(resource: str, old: dict, new: dict) -> dict:
    """The object to store for an update: server-owned metadata and status kept from `old`."""
    kind = schema.KINDS[resource][0]
    meta = new.setdefault("metadata", {})
    if meta.get("name") != old["metadata"]["name"]:
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name "
            f"on the URL ({old['metadata']['name']})"
        )
    if meta.get("uid") not in (None, old["metadata"]["uid"]):
        raise invalid(
            kind,
            meta["name"],
            [FieldError("metadata.uid", "Invalid value", "field is immutable", meta["uid"])],
        )
    for key in _IMMUTABLE_META:
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
        else:
            meta.pop(key, None)
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    if resource == "pods":
        for c in new["spec"].get("containers", []) + new["spec"].get("initContainers", []):
            pods.default_container(c)
        pods.validate_update(old, new)
    return new


def patched(req: Request, resource: str, old: dict) -> dict:
    """The object a PATCH request asks for (before update rules apply)."""
    ctype = req.headers.get("Content-Type", "").split(";")[0].strip()
    if ctype not in (patch.JSON_PATCH, patch.MERGE_PATCH, patch.STRATEGIC):
        raise _unsupported_patch(ctype)
    kind = schema.KINDS[resource][0]
    new = patch.apply(ctype, old, req.body, kind, old["metadata"]["name"])
    if not isinstance(new, dict):
        raise bad_request("the patch produced something other than an object")
    return new


def _unsupported_patch(ctype: str) -> ApiError:
    """415 for a patch media type the server does not take (server-side apply among them)."""
    if not ctype:
        return bad_request("missing content type")
    return ApiError(
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"{patch.JSON_PATCH}, {patch.MERGE_PATCH}, {patch.STRATEGIC}",
        code=415,
    )


def dry_run(req: Request) -> bool:
    """dryRun=All: run every check, store nothing."""
    values = req.query.get("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'Invalid dryRun value: "{v}". Valid values: "All"')
    return bool(values)


def delete_options(req: Request) -> dict[str, Any]:
    """DeleteOptions from the body, with gracePeriodSeconds from the query overriding it."""
    opts = req.json() or {}
    if not isinstance(opts, dict):
        raise bad_request("DeleteOptions must be an object")
    if req.param("gracePeriodSeconds"):
        opts["gracePeriodSeconds"] = int(req.param("gracePeriodSeconds"))
    return opts
