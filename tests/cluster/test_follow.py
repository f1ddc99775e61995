"""Which pods a capture of a workload, -l or --ns gains and loses, decided from the pod objects
the watch sends (the shape the API server sends; no cluster needed)."""

from __future__ import annotations

import pytest

from kubectl_netmon.cluster.follow import Follow, matches, parse_selector
from kubectl_netmon.cluster.targets import PodRef, Targets

WEB_1 = PodRef("shop", "web-1", "node-1", "10.244.1.2")


def pod(name: str, ip: str, uid: str, labels: dict | None = None, ns: str = "shop",
        phase: str = "Running", **meta: object) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid,
                         "labels": {"app": "web"} if labels is None else labels, **meta},
            "spec": {"nodeName": "node-1"}, "status": {"phase": phase, "podIP": ip}}


def following(*selectors: str) -> tuple[Follow, list[PodRef]]:
    follow, new = Follow(Targets([WEB_1], namespace="shop", selectors=list(selectors))), []
    follow.start(new.extend)
    return follow, new


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web,tier=db", {"app": "web"}, False),
    ("app!=web", {}, True),
    ("tier in (db, cache),app", {"tier": "cache", "app": "x"}, True),
    ("tier notin (db,cache)", {"tier": "db"}, False),
    ("!canary", {"canary": "1"}, False),
    ("tier>2", {"tier": "3"}, True),
    ("tier>2", {"tier": "2"}, False),
    ("tier<2", {"tier": "-1"}, True),
    ("tier<2", {"tier": "low"}, False),
    ("tier<200", {"tier": "1_0"}, False),  # no integer to the API server
    ("tier>2", {}, False),
    ("", {"any": "thing"}, True),
])
def test_label_selectors_match_as_the_api_server_selects(selector, labels, expected):
    assert matches(parse_selector(selector), labels) is expected


def test_a_selector_it_cannot_read_follows_nothing_instead_of_failing():
    assert parse_selector("replicas>two") is None
    assert not Follow(Targets(namespace="shop", selectors=["replicas>two"])).following


def test_a_new_running_pod_that_matches_is_handed_on_once():
    follow, new = following("app=web")

    follow.seen(pod("web-2", "10.244.1.3", "u2", phase="Pending"))
    follow.seen(pod("web-2", "10.244.1.3", "u2"))
    follow.seen(pod("web-2", "10.244.1.3", "u2"))

    assert new == [PodRef("shop", "web-2", "node-1", "10.244.1.3")]


def test_a_new_pod_matching_a_greater_than_selector_is_followed():
    follow, new = following("generation>1")

    follow.seen(pod("web-2", "10.244.1.3", "u2", labels={"generation": "2"}))
    follow.seen(pod("web-3", "10.244.1.4", "u3", labels={"generation": "1"}))

    assert [p.name for p in new] == ["web-2"]


def test_pods_captured_from_the_start_other_namespaces_and_other_labels_are_not_new():
    follow, new = following("app=web")

    follow.seen(pod("web-1", "10.244.1.2", "u1"))
    follow.seen(pod("web-2", "10.244.1.3", "u2", ns="other"))
    follow.seen(pod("db-0", "10.244.1.4", "u3", labels={"app": "db"}))

    assert new == []


def test_a_pod_that_replaces_one_under_the_same_name_is_new():
    """A StatefulSet's pods keep their names across a rollout; the uid tells them apart."""
    follow, new = following("app=web")
    follow.seen(pod("web-1", "10.244.1.2", "u1"))

    follow.seen(pod("web-1", "10.244.1.2", "u1"), deleted=True)
    follow.seen(pod("web-1", "10.244.1.2", "u9"))

    assert follow.ended(WEB_1)
    assert new == [WEB_1]


def test_a_captured_pod_ends_when_it_is_being_deleted_or_finished():
    follow, _ = following("app=web")
    follow.seen(pod("web-1", "10.244.1.2", "u1"))
    assert not follow.ended(WEB_1)

    follow.seen(pod("web-1", "10.244.1.2", "u1", deletionTimestamp="2026-11-27T16:00:00Z"))

    assert follow.ended(WEB_1)


def test_a_captured_pod_that_ends_is_handed_on_once_and_others_never():
    follow, ended = Follow(Targets([WEB_1], namespace="shop", selectors=["app=web"])), []
    follow.start(lambda _: None, ended.append)
    follow.seen(pod("web-1", "10.244.1.2", "u1"))

    follow.seen(pod("web-1", "10.244.1.2", "u1", deletionTimestamp="2026-11-27T16:00:00Z"))
    follow.seen(pod("web-1", "10.244.1.2", "u1"), deleted=True)
    follow.seen(pod("db-0", "10.244.1.4", "u3", labels={"app": "db"}), deleted=True)

    assert ended == [WEB_1]


def test_pods_seen_before_start_wait_for_the_handler():
    follow = Follow(Targets(namespace="shop", selectors=[""]))
    follow.seen(pod("web-2", "10.244.1.3", "u2"))
    new: list[PodRef] = []

    follow.start(new.extend)

    assert [p.name for p in new] == ["web-2"]
