"""Targets: the command-line grammar (pure), then resolution against the lab."""

from __future__ import annotations

import pytest

from kubectl_netmon.cluster.targets import (
    PodRef,
    Targets,
    TargetSpec,
    label_selector,
    parse_targets,
    resolve,
)
from kubectl_netmon.errors import ClusterError, UsageError
from tests.lab import fixtures
from tests.lab.fixtures import pod
from tests.live import acquire_lab

lab, lab_ns, api = fixtures.lab, fixtures.lab_ns, acquire_lab.api


@pytest.mark.parametrize(
    "words, items",
    [
        (["web"], (("pod", "web"),)),
        (["web", "api"], (("pod", "web"), ("pod", "api"))),
        (["pod", "web"], (("pod", "web"),)),
        (["pod/web"], (("pod", "web"),)),
        (["node", "node-1"], (("node", "node-1"),)),
        (["node/node-1"], (("node", "node-1"),)),
        (["deploy/web"], (("deployments", "web"),)),
        (["sts/db"], (("statefulsets", "db"),)),
        (["ds/agent"], (("daemonsets", "agent"),)),
        (["pod/web", "node/node-2"], (("pod", "web"), ("node", "node-2"))),
    ],
)
def test_words_become_kind_and_name_items(words, items):
    assert parse_targets(words, "shop").items == items


def test_a_selector_is_kept_for_the_namespace():
    assert parse_targets([], "shop", selector="app=web") == TargetSpec("shop", (), "app=web")


def test_the_whole_namespace_needs_no_names():
    assert parse_targets([], "shop", whole_namespace=True).whole_namespace


@pytest.mark.parametrize(
    "words, selector, whole, message",
    [
        ([], "", False, "nothing to capture"),
        (["web"], "app=web", False, "not both"),
        ([], "app=web", True, "not both"),
        (["pod"], "", False, "name at least one"),
        (["svc/web"], "", False, "unknown kind 'svc'"),
        (["deploy/"], "", False, "a name is missing"),
    ],
)
def test_bad_words_are_usage_errors(words, selector, whole, message):
    with pytest.raises(UsageError, match=message):
        parse_targets(words, "shop", selector=selector, whole_namespace=whole)


@pytest.mark.parametrize(
    "selector, expected",
    [
        ({"matchLabels": {"app": "web", "tier": "front"}}, "app=web,tier=front"),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]},
         "env in (a,b)"),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]},
         "env notin (a)"),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary"),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, "!canary"),
    ],
)
def test_a_workload_selector_becomes_the_label_selector_string(selector, expected):
    assert label_selector(selector) == expected


def test_pods_group_by_node():
    a, b, c = (PodRef("ns", n, node, "10.0.0.1") for n, node in
               (("a", "node-1"), ("b", "node-2"), ("c", "node-1")))
    assert Targets([a, b, c]).by_node() == {"node-1": [a, c], "node-2": [b]}


# resolution against the lab ---------------------------------------------------------------------


def test_a_named_pod_resolves_to_its_node_and_ip(lab, lab_ns, api):
    web = lab.create_pod(lab_ns, pod("web"))
    [ref] = resolve(api, parse_targets(["web"], lab_ns)).pods
    assert ref == PodRef(lab_ns, "web", web["spec"]["nodeName"], web["status"]["podIP"])


def test_a_selector_resolves_to_the_running_pods_it_matches(lab, lab_ns, api):
    for name, app in (("web-1", "web"), ("web-2", "web"), ("db", "db")):
        manifest = pod(name)
        manifest["metadata"]["labels"] = {"app": app}
        lab.create_pod(lab_ns, manifest)
    pods = resolve(api, parse_targets([], lab_ns, selector="app=web")).pods
    assert sorted(p.name for p in pods) == ["web-1", "web-2"]


def test_the_whole_namespace_resolves_to_every_running_pod(lab, lab_ns, api):
    lab.create_pod(lab_ns, pod("a"))
    lab.create_pod(lab_ns, pod("b"))
    pods = resolve(api, parse_targets([], lab_ns, whole_namespace=True)).pods
    assert sorted(p.name for p in pods) == ["a", "b"]


def test_a_node_resolves_to_a_whole_node_target(lab, api):
    assert resolve(api, parse_targets(["node", "node-2"], "default")).nodes == ["node-2"]


def test_a_missing_pod_is_named(lab, lab_ns, api):
    with pytest.raises(ClusterError, match=f'pod "nope" not found in namespace "{lab_ns}"'):
        resolve(api, parse_targets(["nope"], lab_ns))


def test_a_missing_namespace_is_named(lab, api):
    with pytest.raises(ClusterError, match='namespace "no-such-ns" not found'):
        resolve(api, parse_targets(["web"], "no-such-ns"))


def test_a_missing_node_is_named(lab, api):
    with pytest.raises(ClusterError, match='node "node-9"'):
        resolve(api, parse_targets(["node/node-9"], "default"))


def test_a_selector_matching_nothing_says_so(lab, lab_ns, api):
    with pytest.raises(ClusterError, match="no running pods matching 'app=none'"):
        resolve(api, parse_targets([], lab_ns, selector="app=none"))


def test_a_pod_that_is_not_running_is_refused(lab, lab_ns, api):
    code, _ = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                          pod("stuck", image="registry.invalid/app:1"))
    assert code == 201
    lab.wait_for_pod(lab_ns, "stuck", lambda p: p["spec"].get("nodeName"))
    with pytest.raises(ClusterError, match="is Pending, not running"):
        resolve(api, parse_targets(["stuck"], lab_ns))


def test_an_unknown_container_is_named(lab, lab_ns, api):
    lab.create_pod(lab_ns, pod("web"))
    with pytest.raises(ClusterError, match='has no container "sidecar"'):
        resolve(api, parse_targets(["web"], lab_ns, container="sidecar"))
