"""List (with limit/continue) and watch responses, with label and field selectors applied."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator

from . import schema, tables
from .messages import Request, Response, ok
from .selectors import field_selector, label_selector
from .status import ApiError, FieldError, bad_request, invalid
from .store import Store

BOOKMARK_EVERY, BOOKMARK_BEFORE_END = 60.0, 2.0  # the watch cache's bookmark schedule
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
    version = schema.api_version(resource)
    return ok({"kind": f"{kind}List", "apiVersion": version, "metadata": meta, "items": items})


def _key(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def watch_response(store: Store, req: Request, resource: str, namespace: str) -> Response:
    """A chunked stream of watch events, one JSON object per line."""
    match = selector(req, resource)
    initial_end = _wants_initial_events(req)
    since = _resource_version(req)
    initial: list[dict] = []
    if since is None or initial_end:
        items, current = store.list(resource, namespace)
        initial, since = [o for o in items if match(o)], int(current)
    timeout = min(int(req.param("timeoutSeconds") or MAX_WATCH), MAX_WATCH)
    deadline = time.monotonic() + timeout
    events = store.watch(resource, since, lambda: time.monotonic() < deadline)
    render = _renderer(req, resource)
    in_ns = (lambda o: o["metadata"].get("namespace") == namespace) if namespace else None
    bookmarks = _Bookmarks(deadline) if req.flag("allowWatchBookmarks") else None

    def stream() -> Iterator[bytes]:
        last = since
        for o in initial:
            yield render("ADDED", o)
        if initial_end:
            yield render("BOOKMARK", _bookmark(resource, since, initial_end=True))
        try:
            for event in events:
                if event is None:
                    due = bookmarks is not None and bookmarks.due()
                    yield render("BOOKMARK", _bookmark(resource, last)) if due else b""
                    continue
                last = event.rv
                if in_ns is None or in_ns(event.obj):
                    was = event.prev is not None and match(event.prev)
                    kind = _transition(event.type, was, match(event.obj))
                    if kind:
                        yield render(kind, event.obj)
        except ApiError as e:
            yield json.dumps({"type": "ERROR", "object": e.status()}).encode() + b"\n"

    return Response(stream=stream(), content_type="application/json")


def _resource_version(req: Request) -> int | None:
    """The resourceVersion to resume from; None for "" and "0" (start with the current state)."""
    rv = req.param("resourceVersion")
    try:
        return int(rv) if rv not in ("", "0") else None
    except ValueError:
        raise bad_request(f'invalid resource version: "{rv}"') from None


def _wants_initial_events(req: Request) -> bool:
    """sendInitialEvents=true (watch-list): valid with NotOlderThan and bookmarks, as upstream."""
    if not req.flag("sendInitialEvents"):
        return False
    errors = []
    if req.param("resourceVersionMatch") != "NotOlderThan":
        errors.append(
            FieldError(
                "resourceVersionMatch",
                "Forbidden",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
        )
    if not req.flag("allowWatchBookmarks"):
        errors.append(
            FieldError(
                "allowWatchBookmarks",
                "Forbidden",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            )
        )
    if errors:
        raise invalid("ListOptions", "", errors, "meta.k8s.io")
    return True


def _bookmark(resource: str, rv: int, initial_end: bool = False) -> dict:
    """A BOOKMARK: every event up to rv was sent (and, for a watch-list, the initial state)."""
    meta: dict = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {
        "kind": schema.KINDS[resource][0],
        "apiVersion": schema.api_version(resource),
        "metadata": meta,
    }


class _Bookmarks:
    """When an idle watch sends a BOOKMARK: every minute, and once 2 s before its timeout."""

    def __init__(self, deadline: float) -> None:
        self.last_call = deadline - BOOKMARK_BEFORE_END
        self.next = min(self.last_call, time.monotonic() + BOOKMARK_EVERY)

    def due(self) -> bool:
        now = time.monotonic()
        if now < self.next:
            return False
        self.next = (
            min(self.last_call, now + BOOKMARK_EVERY) if now < self.last_call else float("inf")
        )
        return True


def _renderer(req: Request, resource: str):
    """Encodes one event: the object itself, or a one-row Table when kubectl asked for tables."""
    table, include = req.wants_table(), req.param("includeObject", "Metadata")

    def render(kind: str, obj: dict) -> bytes:
        if table and kind != "BOOKMARK":
            obj = tables.table(resource, [obj], obj["metadata"]["resourceVersion"], include)
        return json.dumps({"type": kind, "object": obj}).encode() + b"\n"

    return render


def _transition(kind: str, was: bool, now: bool) -> str | None:
    """The event a selector-filtered watcher sees: objects enter (ADDED) and leave (DELETED)."""
    if kind == "DELETED":
        return "DELETED" if was else None
    if kind == "ADDED" or not was:
        return "ADDED" if now else None
    return "MODIFIED" if now else "DELETED"
