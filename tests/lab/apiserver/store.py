"""The object store: one resourceVersion counter for every object, and an event history for watch.

Objects are plain dicts (the JSON the API serves). Readers get deep copies so a handler can never
change stored state by accident; writers go through create/update/delete, which stamp
metadata.resourceVersion and wake watchers.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator

from .schema import GROUPS
from .status import already_exists, conflict, gone, not_found

Key = tuple[str, str, str]  # (resource, namespace or "", name)
HISTORY = 4096  # events kept for watches that resume from a resourceVersion


class Event:
    """One watch event: `obj` after the change (the last state, for DELETED), `prev` before it."""

    __slots__ = ("rv", "type", "resource", "obj", "prev")

    def __init__(
        self, rv: int, type_: str, resource: str, obj: dict, prev: dict | None = None
    ) -> None:
        self.rv, self.type, self.resource, self.obj, self.prev = rv, type_, resource, obj, prev


class Store:
    """Thread-safe objects keyed by (resource, namespace, name), with resourceVersion and watch."""

    def __init__(self, history: int = HISTORY) -> None:
        self._objects: dict[Key, dict] = {}
        self._rv = 1
        self._history: deque[Event] = deque(maxlen=history)
        self._changed = threading.Condition()
        self.closed = False

    @property
    def resource_version(self) -> str:
        """The current (latest) resourceVersion, as a list's metadata carries it."""
        with self._changed:
            return str(self._rv)

    def get(self, resource: str, ns: str, name: str) -> dict:
        """A copy of the object, or NotFound."""
        with self._changed:
            obj = self._objects.get((resource, ns, name))
            if obj is None:
                raise not_found(resource, name, GROUPS.get(resource, ""))
            return copy.deepcopy(obj)

    def find(self, resource: str, ns: str, name: str) -> dict | None:
        """A copy of the object, or None."""
        with self._changed:
            obj = self._objects.get((resource, ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, ns: str = "") -> tuple[list[dict], str]:
        """Copies of every object of a resource (in one namespace, or all for ""), and the rv."""
        with self._changed:
            items = [
                copy.deepcopy(o)
                for (r, n, _), o in sorted(self._objects.items())
                if r == resource and (not ns or n == ns)
            ]
            return items, str(self._rv)

    def create(self, resource: str, obj: dict) -> dict:
        """Store a new object; AlreadyExists if the name is taken."""
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        with self._changed:
            if key in self._objects:
                raise already_exists(resource, meta["name"], GROUPS.get(resource, ""))
            return self._commit("ADDED", resource, key, obj)

    def update(self, resource: str, obj: dict, expect_rv: str | None = None) -> dict:
        """Replace an object; Conflict if `expect_rv` is given and is no longer current."""
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        with self._changed:
            current = self._objects.get(key)
            if current is None:
                raise not_found(resource, meta["name"], GROUPS.get(resource, ""))
            if expect_rv and expect_rv != current["metadata"]["resourceVersion"]:
                raise conflict(
                    resource,
                    meta["name"],
                    "the object has been modified; please "
                    "apply your changes to the latest version and try again",
                )
            return self._commit("MODIFIED", resource, key, obj)

    def mutate(
        self, resource: str, ns: str, name: str, change: Callable[[dict], bool | None]
    ) -> dict | None:
        """Apply `change` to the stored object atomically; it returns False to skip the write.

        Used by controllers (the kubelet) so a status update never races an API write.
        Returns the new object, or None when the object is gone or nothing changed.
        """
        key = (resource, ns, name)
        with self._changed:
            current = self._objects.get(key)
            if current is None:
                return None
            obj = copy.deepcopy(current)
            if change(obj) is False or obj == current:
                return None
            return self._commit("MODIFIED", resource, key, obj)

    def delete(self, resource: str, ns: str, name: str) -> dict:
        """Remove an object for good; returns it with the deletion's resourceVersion."""
        key = (resource, ns, name)
        with self._changed:
            if key not in self._objects:
                raise not_found(resource, name, GROUPS.get(resource, ""))
            obj = self._objects.pop(key)
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._history.append(Event(self._rv, "DELETED", resource, obj, obj))
            self._changed.notify_all()
            return copy.deepcopy(obj)

    def _commit(self, type_: str, resource: str, key: Key, obj: dict) -> dict:
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        prev = self._objects.get(key)
        self._objects[key] = obj
        self._history.append(Event(self._rv, type_, resource, obj, prev))
        self._changed.notify_all()
        return copy.deepcopy(obj)

    def watch(self, resource: str, since: int, keep: Callable[[], bool]) -> Iterator[Event | None]:
        """Events of `resource` after resourceVersion `since`, as they happen.

        Yields None every second with nothing new, so the caller can send a keepalive or stop;
        ends when `keep()` is False or the store is closed. Gone if `since` was compacted away.
        """
        with self._changed:
            oldest = self._history[0].rv if self._history else self._rv + 1
            if since + 1 < oldest and since < self._rv:
                raise gone(f"too old resource version: {since} ({oldest - 1})")
        last = since
        while keep() and not self.closed:
            with self._changed:
                batch = self._after(last, resource)
                if not batch:
                    self._changed.wait(1.0)
                    batch = self._after(last, resource)
                last = max(last, self._rv)
            if not batch:
                yield None
            for event in batch:
                yield Event(
                    event.rv, event.type, event.resource, copy.deepcopy(event.obj), event.prev
                )

    def _after(self, rv: int, resource: str) -> list[Event]:
        """History events of a resource newer than rv (scanned from the newest end)."""
        newer = []
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            if event.resource == resource:
                newer.append(event)
        newer.reverse()
        return newer

    def close(self) -> None:
        """Wake and end every watch (server shutdown)."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()
