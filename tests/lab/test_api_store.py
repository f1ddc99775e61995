"""The object store: resourceVersions and the watch history, without a server."""

from __future__ import annotations

import pytest

from tests.lab.apiserver.status import ApiError
from tests.lab.apiserver.store import Store


def _pod(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {}}


def _events(store: Store, since: int) -> list[tuple[str, str]]:
    out = []
    for event in store.watch("pods", since, lambda: True):
        if event is None:
            return out
        out.append((event.type, event.obj["metadata"]["name"]))
    return out


def test_every_write_gets_a_higher_resource_version():
    store = Store()
    first = store.create("pods", _pod("a"))["metadata"]["resourceVersion"]
    second = store.create("pods", _pod("b"))["metadata"]["resourceVersion"]
    assert int(second) > int(first)


def test_watch_replays_the_changes_after_a_resource_version():
    store = Store()
    since = int(store.resource_version)
    store.create("pods", _pod("a"))
    store.mutate("pods", "default", "a", lambda p: p["metadata"].update(labels={"x": "y"}))
    store.delete("pods", "default", "a")
    assert _events(store, since) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_a_mutation_that_changes_nothing_is_not_an_event():
    store = Store()
    store.create("pods", _pod("a"))
    since = int(store.resource_version)
    assert store.mutate("pods", "default", "a", lambda p: None) is None
    assert _events(store, since) == []


def test_watch_from_a_compacted_resource_version_is_gone():
    store = Store(history=2)
    for name in "abcd":
        store.create("pods", _pod(name))
    with pytest.raises(ApiError) as err:
        next(store.watch("pods", 1, lambda: True))
    assert (err.value.code, err.value.reason) == (410, "Expired")
    assert err.value.message.startswith("too old resource version: 1 (")


def test_update_with_a_stale_resource_version_is_a_conflict():
    store = Store()
    created = store.create("pods", _pod("a"))
    store.update("pods", _pod("a"))
    with pytest.raises(ApiError) as err:
        store.update("pods", _pod("a"), created["metadata"]["resourceVersion"])
    assert err.value.reason == "Conflict"


def test_readers_get_copies():
    store = Store()
    store.create("pods", _pod("a"))
    store.get("pods", "default", "a")["spec"]["nodeName"] = "x"
    assert "nodeName" not in store.get("pods", "default", "a")["spec"]
