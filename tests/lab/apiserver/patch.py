"""The three patch types the API accepts: strategic merge, JSON merge (RFC 7386), JSON (RFC 6902).

Strategic merge follows the core/v1 Go struct tags (patchStrategy=merge, patchMergeKey) for the
lists kubectl and our product patch; other lists are replaced, as the real server does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .status import FieldError, bad_request, invalid

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

# list field name -> merge key, for lists whose Go tag says patchStrategy=merge.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "hostAliases": "ip",
    "conditions": "type",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "ephemeralContainerStatuses": "name",
    "ownerReferences": "uid",
    "readinessGates": None,
    "topologySpreadConstraints": "topologyKey",
}
_SET_LISTS = {"finalizers"}  # patchStrategy=merge on a list of scalars


def apply(content_type: str, original: dict, body: bytes, kind: str, name: str) -> dict:
    """The object after applying a patch body of the given media type."""

    try:
        patch = json.loads(body)
    except ValueError as e:
        raise bad_request(f"error decoding patch: {e}") from None
    if content_type == JSON_PATCH:
        return json_patch(original, patch, kind, name)
    if not isinstance(patch, dict):
        raise bad_request(
            "error decoding patch: json: cannot unmarshal array into Go value of "
            "type map[string]interface {}"
        )
    if content_type == MERGE_PATCH:
        return merge_patch(original, patch)
    return strategic_merge(original, patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge: like merge patch, but keyed lists merge by their merge key.

    Honours `$patch: replace|delete` on maps and list items and drops `$setElementOrder`,
    `$retainKeys` and `$deleteFromPrimitiveList` directives after applying what they mean here.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            real = key.split("/", 1)[1]
            out[real] = [v for v in out.get(real, []) if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(key, out.get(key), value)
        else:
            merged = strategic_merge(out.get(key), value, key)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    return out


def _merge_list(key: str, current: Any, patch: list) -> list:
    if key in _SET_LISTS:
        base = list(current or [])
        return base + [v for v in patch if v not in base]
    merge_key = _MERGE_KEYS.get(key)
    if not merge_key or not all(isinstance(v, dict) for v in patch):
        return copy.deepcopy(patch)
    if any(v.get("$patch") == "replace" for v in patch):
        return [copy.deepcopy(v) for v in patch if "$patch" not in v]
    out = [copy.deepcopy(v) for v in (current or [])]
    for item in patch:
        index = next(
            (i for i, v in enumerate(out) if v.get(merge_key) == item.get(merge_key)), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                out.pop(index)
        elif index is None:
            out.append(strategic_merge({}, item))
        else:
            out[index] = strategic_merge(out[index], item)
    return out


def json_patch(doc: Any, ops: Any, kind: str, name: str) -> Any:
    """RFC 6902; a failed `test` or a missing path is Invalid on field `patch`, as upstream."""

    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            doc = _json_op(doc, op)
        except _PatchFailed as e:
            raise invalid(
                kind,
                name,
                [
                    FieldError(
                        "patch", "Invalid value", str(e), json.dumps(ops, separators=(",", ":"))
                    )
                ],
            ) from None
    return doc


class _PatchFailed(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        node = _child(node, part, path)
    return node


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise _PatchFailed(f'doc is missing path: "{path}": missing value')


def _json_op(doc: Any, op: dict) -> Any:
    kind, path = op.get("op"), op.get("path", "")
    parts = _pointer(path)
    if kind == "test":
        if _get(doc, parts, path) != op.get("value"):
            raise _PatchFailed(f"testing value {path} failed: test failed")
        return doc
    if kind in ("move", "copy"):
        src = _pointer(op.get("from", ""))
        value = copy.deepcopy(_get(doc, src, op.get("from", "")))
        if kind == "move":
            doc = _remove(doc, src, op.get("from", ""))
        return _add(doc, parts, path, value)
    if kind == "remove":
        return _remove(doc, parts, path)
    if kind == "add":
        return _add(doc, parts, path, copy.deepcopy(op.get("value")))
    if kind == "replace":
        _get(doc, parts, path)
        doc = _remove(doc, parts, path)
        return _add(doc, parts, path, copy.deepcopy(op.get("value")))
    raise _PatchFailed(f"Unexpected kind: {kind}")


def _get(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts:
        node = _child(node, part, path)
    return node


def _add(doc: Any, parts: list[str], path: str, value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _PatchFailed(f"Unable to access invalid index: {last}: invalid index referenced")
    else:
        raise _PatchFailed(f'doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        return None
    parent, last = _parent(doc, parts, path), parts[-1]
    _child(parent, last, path)
    if isinstance(parent, dict):
        del parent[last]
    else:
        parent.pop(int(last))
    return doc
