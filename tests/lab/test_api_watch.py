"""Watch: resourceVersion semantics, selectors, and the chunked event stream."""

from __future__ import annotations

from itertools import islice

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures


def _pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def _label(lab, ns: str, name: str, labels: dict) -> None:
    lab.request(
        "PATCH",
        f"{_pods(ns)}/{name}",
        {"metadata": {"labels": labels}},
        content_type="application/merge-patch+json",
    )


def test_watch_from_a_resource_version_replays_what_happened_since(lab, lab_ns):
    _, listed = lab.request("GET", _pods(lab_ns))
    lab.request("POST", _pods(lab_ns), pod("web", restartPolicy="Never"))
    _label(lab, lab_ns, "web", {"seen": "yes"})
    lab.request("DELETE", f"{_pods(lab_ns)}/web?gracePeriodSeconds=0")
    rv = listed["metadata"]["resourceVersion"]
    kinds = []
    for event in lab.watch(f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&timeoutSeconds=30"):
        kinds.append(event["type"])
        if event["type"] == "DELETED":
            break
    assert kinds[0] == "ADDED" and "MODIFIED" in kinds and kinds[-1] == "DELETED"


def test_watch_events_carry_increasing_resource_versions(lab, lab_ns):
    _, created = lab.request("POST", _pods(lab_ns), pod("web"))
    rv = created["metadata"]["resourceVersion"]
    _label(lab, lab_ns, "web", {"a": "1"})
    _label(lab, lab_ns, "web", {"a": "2"})
    events = islice(lab.watch(f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}"), 2)
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


def test_watch_without_a_resource_version_starts_with_the_existing_objects(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web"))
    first = next(lab.watch(f"{_pods(lab_ns)}?watch=true"))
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "web")


def test_watch_with_a_field_selector_sees_only_the_named_pod(lab, lab_ns):
    _, listed = lab.request("GET", _pods(lab_ns))
    lab.request("POST", _pods(lab_ns), pod("other"))
    lab.request("POST", _pods(lab_ns), pod("web"))
    rv = listed["metadata"]["resourceVersion"]
    path = f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dweb"
    first = next(lab.watch(path))
    assert first["object"]["metadata"]["name"] == "web"


def test_an_object_leaving_the_label_selector_is_a_deleted_event(lab, lab_ns):
    manifest = pod("web")
    manifest["metadata"]["labels"] = {"tier": "front"}
    _, created = lab.request("POST", _pods(lab_ns), manifest)
    _label(lab, lab_ns, "web", {"tier": "back"})
    rv = created["metadata"]["resourceVersion"]
    path = (
        f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&labelSelector=tier%3Dfront"
        "&timeoutSeconds=10"
    )
    kinds = []
    for event in lab.watch(path):
        kinds.append(event["type"])
        if event["type"] == "DELETED":
            break
    assert kinds[-1] == "DELETED" and "ADDED" not in kinds


def test_a_watch_ends_after_its_timeout_seconds(lab, lab_ns):
    events = list(lab.watch(f"{_pods(lab_ns)}?watch=true&timeoutSeconds=1"))
    assert events == []


def test_send_initial_events_ends_the_initial_state_with_a_bookmark(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web"))
    path = (
        f"{_pods(lab_ns)}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan"
    )
    events = lab.watch(path)
    first, second = next(events), next(events)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "web")
    assert second["type"] == "BOOKMARK"
    assert second["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_send_initial_events_without_not_older_than_is_invalid(lab, lab_ns):
    path = f"{_pods(lab_ns)}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
    code, body = lab.request("GET", path)
    assert (code, body["message"]) == (
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
    )


def test_an_idle_watch_with_bookmarks_gets_one_before_it_ends(lab, lab_ns):
    _, listed = lab.request("GET", _pods(lab_ns))
    rv = listed["metadata"]["resourceVersion"]
    path = (
        f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=4"
    )
    events = list(lab.watch(path))
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)
