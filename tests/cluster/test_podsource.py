"""Pods, services and nodes from a live API (the lab) into a PodMap with times, listed and
watched."""

from __future__ import annotations

import calendar
import queue
import threading
import time
from collections.abc import Callable

import pytest
from kubernetes.client import ApiClient, Configuration

from kubectl_netmon.cluster.kubeconfig import load_cluster
from kubectl_netmon.cluster.podsource import PodSource
from kubectl_netmon.enrich.podmap import PodInfo
from kubectl_netmon.errors import ClusterError
from tests.cluster.stubapi import DROP, GONE_EVENT, GONE_STATUS, StubApi
from tests.cluster.stubapi import pod as stub_pod
from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures
S = 10**9
WAIT = 60.0  # seconds to wait for a watch to report a change before failing
STARTED = 1_700_000_000 * S  # the stub pods' startTime, 2023-11-14T22:13:20Z


def source_for(lab) -> PodSource:
    return PodSource(load_cluster(str(lab.kubeconfig)).client)


def api_time_ns(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * S


class Watching:
    """PodSource.run() in a thread; each change's current() snapshot is queued for the test."""

    def __init__(self, source: PodSource, watch_seconds: int = 2) -> None:
        self.source, self.stop, self.changes = source, threading.Event(), queue.Queue()
        self.error: list[Exception] = []
        self.thread = threading.Thread(target=self._run, args=(watch_seconds,), daemon=True)
        self.thread.start()

    def _run(self, watch_seconds: int) -> None:
        try:
            self.source.run(lambda: self.changes.put(self.source.current()), self.stop,
                            watch_seconds)
        except Exception as e:  # handed to the test thread
            self.error.append(e)
            self.changes.put(None)

    def until(self, done: Callable[[dict], bool]) -> dict:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                current = self.changes.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if self.error:
                raise self.error[0]
            if done(current):
                return current
        raise AssertionError("the watch did not report the expected change in time")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_sync_names_each_running_pod_by_its_ip(lab, lab_ns):
    web = lab.create_pod(lab_ns, pod("web"))
    source = source_for(lab)
    source.sync()
    ip, host_ip = web["status"]["podIP"], web["status"]["hostIP"]
    assert source.current()[ip] == PodInfo(ns=lab_ns, name="web", node=web["spec"]["nodeName"],
                                           node_ip=host_ip)
    assert source.pods.lookup(ip, time.time_ns()).name == "web"


def test_node_addresses_name_their_nodes(lab):
    source = source_for(lab)
    source.sync()
    nodes = {info.name for info in source.current().values() if info.kind == "node"}
    assert nodes == {"node-1", "node-2"}


def test_a_pod_holds_its_ip_from_its_start_time_not_before(lab, lab_ns):
    web = lab.create_pod(lab_ns, pod("web"))
    source = source_for(lab)
    pods = source.sync()
    started = api_time_ns(web["status"]["startTime"])
    ip = web["status"]["podIP"]
    assert pods.lookup(ip, started - S) is None
    assert pods.earliest(ip) == started


def test_the_watch_adds_a_new_pod_and_ends_a_deleted_one(lab, lab_ns):
    source = source_for(lab)
    source.sync()
    watching = Watching(source)
    try:
        web = lab.create_pod(lab_ns, pod("web"))
        ip = web["status"]["podIP"]
        watching.until(lambda current: current.get(ip, PodInfo("", "")).name == "web")
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/web")
        watching.until(lambda current: ip not in current)
    finally:
        watching.close()
    assert source.pods.lookup(ip, time.time_ns()) is None
    assert source.pods.lookup(ip, api_time_ns(web["status"]["startTime"])).name == "web"


def restricted(lab, namespaces: list[str] = ()) -> PodSource:
    """A PodSource logged in as lab-restricted, falling back to these namespaces."""
    client = load_cluster(str(lab.kubeconfig), context="lab-restricted").client
    return PodSource(client, namespaces=namespaces)


def _named_with(lab, ns: str, source: PodSource, rules: list[dict]) -> tuple[dict, dict]:
    """Pod `web` listed, then pod `api` seen by the watch, as lab-restricted with these rules:
    (web, what the source knew once api came)."""
    web = lab.create_pod(ns, pod("web"))
    with lab.rules("lab-restricted", rules):
        source.sync()
        watching = Watching(source)
        try:
            lab.create_pod(ns, pod("api"))
            found = watching.until(lambda current: any(i.name == "api" for i in current.values()))
        finally:
            watching.close()
    return web, found


def test_a_user_without_list_rights_gets_one_cluster_error_line(lab, lab_ns):
    with lab.rules("lab-restricted", []), pytest.raises(ClusterError) as e:
        restricted(lab, [lab_ns]).sync()
    assert str(e.value).startswith(f"listing pods in namespace {lab_ns}: HTTP 403: ")
    assert "\n" not in str(e.value)


def test_a_user_whose_rights_end_at_a_namespace_gets_its_pods_named_and_watched(lab, lab_ns):
    """A RoleBinding, no ClusterRole: pods of the namespace are named, and said so once."""
    rules = [{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"],
              "namespaces": [lab_ns]}]
    source = restricted(lab, [lab_ns])
    web, found = _named_with(lab, lab_ns, source, rules)
    assert found[web["status"]["podIP"]].name == "web"
    assert source.limits == [
        "nodes are not named: no permission to list nodes",
        f"pods are named in namespace {lab_ns} only: no permission to list pods in all "
        "namespaces",
        "services are not named: no permission to list services"]


def test_a_namespaces_new_list_ends_only_that_namespaces_pods():
    """After an expired watch in one namespace, its relist says nothing about another's pods."""
    in_shop = stub_pod("web", "10.0.0.1", "u1")
    in_bank = dict(stub_pod("api", "10.0.0.2", "u2"))
    in_bank["metadata"] = {**in_bank["metadata"], "namespace": "bank"}
    source = PodSource(stub_client("http://127.0.0.1:9"))
    source._apply_list(("pods", "shop"), [in_shop], None)
    source._apply_list(("pods", "bank"), [in_bank], None)

    source._apply_list(("pods", "shop"), [], None)

    current = source.current()
    assert "10.0.0.1" not in current and current["10.0.0.2"].name == "api"


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}


def create_service(lab, ns: str, name: str) -> dict:
    status, svc = lab.request("POST", f"/api/v1/namespaces/{ns}/services", service(name))
    assert status == 201, svc
    return svc


def test_a_services_cluster_ip_names_the_service(lab, lab_ns):
    svc = create_service(lab, lab_ns, "shop")
    source = source_for(lab)
    source.sync()
    ip = svc["spec"]["clusterIP"]
    assert source.current()[ip] == PodInfo(ns=lab_ns, name="shop", kind="service")
    assert source.pods.lookup(ip, time.time_ns()).name == "shop"


def test_the_watch_adds_a_new_service_and_ends_a_deleted_one(lab, lab_ns):
    source = source_for(lab)
    source.sync()
    watching = Watching(source)
    try:
        ip = create_service(lab, lab_ns, "shop")["spec"]["clusterIP"]
        watching.until(lambda current: current.get(ip, PodInfo("", "")).name == "shop")
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/services/shop")
        watching.until(lambda current: ip not in current)
    finally:
        watching.close()
    assert source.pods.lookup(ip, time.time_ns()) is None


def test_a_user_who_may_not_list_services_still_gets_pods_and_nodes(lab, lab_ns):
    rules = [{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "nodes"]}]
    web, found = _named_with(lab, lab_ns, restricted(lab), rules)
    assert found[web["status"]["podIP"]].name == "web"


def stub_client(url: str) -> ApiClient:
    cfg = type.__call__(Configuration)
    cfg.host = url
    return ApiClient(configuration=cfg)


def watched(stub: StubApi, done: Callable[[dict], bool]) -> tuple[PodSource, dict]:
    """sync() then run() against the stub until done(current); the source and that state."""
    source = PodSource(stub_client(stub.url))
    source.sync()
    watching = Watching(source, watch_seconds=1)
    try:
        return source, watching.until(done)
    finally:
        watching.close()
        stub.close()


@pytest.mark.parametrize("gone", [GONE_EVENT, GONE_STATUS])
def test_an_expired_watch_is_resumed_by_listing_again_and_vanished_pods_end(gone):
    old, new = stub_pod("old", "10.0.0.1", "u1"), stub_pod("new", "10.0.0.2", "u2")
    stub = StubApi(lists=[[old], [new]], watches=[gone])
    source, current = watched(stub, lambda current: "10.0.0.2" in current)
    assert "10.0.0.1" not in current
    assert source.pods.lookup("10.0.0.1", time.time_ns()) is None
    assert stub.requests.count("list /api/v1/pods") == 2


def test_a_pod_missing_from_the_list_after_an_expired_watch_is_passed_on_as_deleted():
    """cluster.follow ends its capture: the watch saw no DELETED event for it."""
    old, new = stub_pod("old", "10.0.0.1", "u1"), stub_pod("new", "10.0.0.2", "u2")
    stub = StubApi(lists=[[old], [new]], watches=[GONE_EVENT])
    source = PodSource(stub_client(stub.url))
    seen: list[tuple[str, bool]] = []
    source.on_pod = lambda obj, deleted: seen.append((obj["metadata"]["uid"], deleted))
    source.sync()
    watching = Watching(source, watch_seconds=1)
    try:
        watching.until(lambda current: "10.0.0.2" in current)
    finally:
        watching.close()
        stub.close()
    assert ("u1", True) in seen and ("u2", False) in seen


def test_a_watch_whose_connection_breaks_is_resumed():
    web = stub_pod("web", "10.0.0.1", "u1")
    stub = StubApi(lists=[[]], watches=[DROP, [("ADDED", web)]])
    _, current = watched(stub, lambda current: "10.0.0.1" in current)
    assert current["10.0.0.1"].name == "web"
    assert stub.requests.count("watch /api/v1/pods") >= 2
    assert stub.requests.count("list /api/v1/pods") == 1


def test_a_pod_whose_address_changes_gives_the_old_one_up():
    web = stub_pod("web", "10.0.0.1", "u1")
    moved = stub_pod("web", "10.0.0.7", "u1")
    stub = StubApi(lists=[[web]], watches=[[("MODIFIED", moved)]])
    source, current = watched(stub, lambda current: "10.0.0.7" in current)
    assert "10.0.0.1" not in current
    assert source.pods.lookup("10.0.0.1", time.time_ns()) is None
    assert source.pods.lookup("10.0.0.1", STARTED + S).name == "web"


def test_a_pending_pod_is_added_when_it_gets_an_address():
    pending = stub_pod("web", "", "u1", phase="Pending")
    stub = StubApi(lists=[[pending]], watches=[[("MODIFIED", stub_pod("web", "10.0.0.3",
                                                                       "u1"))]])
    _, current = watched(stub, lambda current: "10.0.0.3" in current)
    assert current["10.0.0.3"].name == "web"


def test_a_pod_that_finished_before_the_list_holds_its_address_for_its_lifetime_only():
    done = {"containerStatuses": [{"state": {"terminated": {
        "finishedAt": "2023-11-14T22:13:40Z"}}}]}
    job = stub_pod("job", "10.0.0.4", "u1", phase="Succeeded", **done)
    stub = StubApi(lists=[[job]], watches=[])
    pods = PodSource(stub_client(stub.url)).sync()
    stub.close()
    assert pods.lookup("10.0.0.4", STARTED + S).name == "job"
    assert pods.lookup("10.0.0.4", STARTED + 21 * S) is None


def test_an_unreachable_api_server_is_one_cluster_error_line():
    source = PodSource(stub_client("http://127.0.0.1:9"))
    with pytest.raises(ClusterError, match=r"^cannot reach the API server at http://127\.0\.0\."
                                           r"1:9 \(.*refused.*\)$"):
        source.sync()
