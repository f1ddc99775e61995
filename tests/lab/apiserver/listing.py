"""List (with limit/continue) and watch responses, with label and field selectors applied."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator

from . import schema, tables
from .messages import Request, Response, ok
from .selectors import field_selector, label_selector
from .status import ApiError, bad_request
from .store import Store

MAX_WATCH = 1800  # seconds, the upper end of the real server's default watch timeout


def selector(req: Request, resource: str) -> Callable[[dict], bool]:
    """The request's labelSelector and fieldSelector as one predicate."""
    labels = label_selector(req.param("labelSelector"))
    fields = field_selector(resource, req.param("fieldSelector"))
    return lambda obj: labels(obj) and fields(obj)


def _encode(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _decode(token: str) -> dict:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise bad_request("continue key is not valid: illegal base64 data") from None


def list_response(store: Store, req: Request, resource: str, namespace: str) -> Response:
    """A List (or Table) of matching objects, paginated by limit/continue."""
    match = selector(req, resource)
    items, rv = store.list(resource, namespace)
    items = [o for o in items if match(o)]
    start = _decode(req.param("continue")).get("start", "") if req.param("continue") else ""
    if start:
        items = [o for o in items if _key(o) > start]
    meta: dict = {"resourceVersion": rv}
    limit = int(req.param("limit") or 0)
    if limit and len(items) > limit:
        meta["continue"] = _encode({"rv": rv, "start": _key(items[limit - 1])})
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    if req.wants_table():
        body = tables.table(resource, items, rv, req.param("includeObject", "Metadata"))
        body["metadata"].update(meta)
        return ok(body)
    kind = schema.KINDS[resource][0]
    for o in items:
        o.pop("kind", None)
        o.pop("apiVersion", None)
    return ok({"kind": f"{kind}List", "apiVersion": "v1", "metadata": meta, "items": items})


def _key(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def watch_response(store: Store, req: Request, resource: str, namespace: str) -> Response:
    """A chunked stream of watch events, one JSON object per line."""
    match = selector(req, resource)
    in_ns = (
        (lambda o: o["metadata"].get("namespace") == namespace) if namespace else (lambda o: True)
    )
    rv = req.param("resourceVersion")
    try:
        since = int(rv) if rv not in ("", "0") else None
    except ValueError:
        raise bad_request(f'invalid resource version: "{rv}"') from None
    timeout = min(int(req.param("timeoutSeconds") or MAX_WATCH), MAX_WATCH)
    table = req.wants_table()
    include = req.param("includeObject", "Metadata")
    initial: list[dict] = []
    if since is None:
        items, current = store.list(resource, namespace)
        initial, since = [o for o in items if match(o)], int(current)
    deadline = time.monotonic() + timeout
    events = store.watch(resource, since, lambda: time.monotonic() < deadline)

    def render(kind: str, obj: dict) -> bytes:
        if table:
            obj = tables.table(resource, [obj], obj["metadata"]["resourceVersion"], include)
        return json.dumps({"type": kind, "object": obj}).encode() + b"\n"

    def stream() -> Iterator[bytes]:
        for o in initial:
            yield render("ADDED", o)
        try:
            for event in events:
                if event is None:
                    yield b""
                elif in_ns(event.obj):
                    was = event.prev is not None and match(event.prev)
                    kind = _transition(event.type, was, match(event.obj))
                    if kind:
                        yield render(kind, event.obj)
        except ApiError as e:
            yield json.dumps({"type": "ERROR", "object": e.status()}).encode() + b"\n"

    return Response(stream=stream(), content_type="application/json")


def _transition(kind: str, was: bool, now: bool) -> str | None:
    """The event a selector-filtered watcher sees: objects enter (ADDED) and leave (DELETED)."""
    if kind == "DELETED":
        return "DELETED" if was else None
    if kind == "ADDED" or not was:
        return "ADDED" if now else None
    return "MODIFIED" if now else "DELETED"
