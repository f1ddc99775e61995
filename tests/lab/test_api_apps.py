"""apps/v1 through the API: discovery, workloads creating their pods, cascading delete."""

from __future__ import annotations

import time

from tests.lab import fixtures

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin


def workload(kind: str, name: str, replicas: int | None = 2, labels: dict | None = None,
             selector: dict | None = None) -> dict:
    """An apps/v1 workload manifest whose pods sleep."""
    labels = labels or {"app": name}
    spec: dict = {
        "selector": {"matchLabels": selector if selector is not None else labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                     "command": ["sleep", "3600"]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def _path(ns: str, resource: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/{resource}" + (f"/{name}" if name else "")


def _pods(lab, ns: str, want: int, timeout: float = 30) -> list[dict]:
    """The namespace's pods once exactly `want` of them are Running."""
    deadline = time.monotonic() + timeout
    while True:
        _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
        items = [p for p in body["items"] if not p["metadata"].get("deletionTimestamp")]
        if len(items) == want and all(p["status"].get("phase") == "Running" for p in items):
            return items
        assert time.monotonic() < deadline, [p["metadata"]["name"] for p in items]
        time.sleep(0.2)


def test_discovery_lists_apps_v1(lab):
    _, groups = lab.request("GET", "/apis")
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    _, group = lab.request("GET", "/apis/apps")
    assert group["kind"] == "APIGroup" and group["versions"] == [apps["preferredVersion"]]
    _, doc = lab.request("GET", "/apis/apps/v1")
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "apps/v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    for name, kind, short in [("deployments", "Deployment", "deploy"),
                              ("statefulsets", "StatefulSet", "sts"),
                              ("daemonsets", "DaemonSet", "ds"),
                              ("replicasets", "ReplicaSet", "rs")]:
        res = by_name[name]
        assert (res["kind"], res["namespaced"], res["shortNames"]) == (kind, True, [short])
        assert {"create", "delete", "get", "list", "watch"} <= set(res["verbs"])


def test_deployment_creates_replicaset_and_owned_pods(lab, lab_ns):
    code, dep = lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 2))
    assert code == 201, dep
    assert dep["apiVersion"] == "apps/v1" and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    _, rs_list = lab.request("GET", _path(lab_ns, "replicasets"))
    assert rs_list["kind"] == "ReplicaSetList" and rs_list["apiVersion"] == "apps/v1"
    (rs,) = rs_list["items"]
    assert rs["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]
    pods = _pods(lab, lab_ns, 2)
    for p in pods:
        assert p["metadata"]["labels"]["app"] == "web"
        assert p["metadata"]["labels"]["pod-template-hash"]
        owner = p["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "ReplicaSet", rs["metadata"]["uid"], True)
    _, got = lab.request("GET", _path(lab_ns, "deployments", "web"))
    assert got["status"]["replicas"] == 2


def test_statefulset_pods_are_numbered(lab, lab_ns):
    code, sts = lab.request("POST", _path(lab_ns, "statefulsets"), workload("StatefulSet", "db", 2))
    assert code == 201, sts
    pods = _pods(lab, lab_ns, 2)
    assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1"]
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet" for p in pods)


def test_daemonset_runs_one_pod_per_node(lab, lab_ns):
    _, nodes = lab.request("GET", "/api/v1/nodes")
    names = sorted(n["metadata"]["name"] for n in nodes["items"])
    manifest = workload("DaemonSet", "agent", None)
    code, ds = lab.request("POST", _path(lab_ns, "daemonsets"), manifest)
    assert code == 201, ds
    pods = _pods(lab, lab_ns, len(names))
    assert sorted(p["spec"]["nodeName"] for p in pods) == names
    assert all(p["metadata"]["labels"]["app"] == "agent" for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"] for p in pods)


def test_deleting_a_deployment_deletes_its_pods(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "gone", 2))
    _pods(lab, lab_ns, 2)
    code, _ = lab.request("DELETE", _path(lab_ns, "deployments", "gone"))
    assert code == 200
    _pods(lab, lab_ns, 0)
    _, rs_list = lab.request("GET", _path(lab_ns, "replicasets"))
    assert rs_list["items"] == []
    code, missing = lab.request("GET", _path(lab_ns, "deployments", "gone"))
    assert code == 404
    assert missing["message"] == 'deployments.apps "gone" not found'
    assert missing["details"] == {"name": "gone", "group": "apps", "kind": "deployments"}


def test_selector_not_matching_template_is_invalid(lab, lab_ns):
    bad = workload("Deployment", "bad", 1, labels={"app": "a"}, selector={"app": "b"})
    code, status = lab.request("POST", _path(lab_ns, "deployments"), bad)
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"a"}: `selector` does not match template `labels`'
    )
    assert lab.request("GET", _path(lab_ns, "deployments", "bad"))[0] == 404


def test_kubectl_get_deploy(lab, lab_ns, kubectl_bin):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "shown", 1))
    result = lab.kubectl(kubectl_bin, "get", "deploy", "-n", lab_ns)
    assert result.returncode == 0, result.stderr.decode()
    header, row = result.stdout.decode().splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:2] == ["shown", "0/1"]
