"""apps/v1 through the API: discovery, workloads creating their pods, cascading delete."""

from __future__ import annotations

import time

from tests.lab import fixtures

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin
workload = fixtures.workload


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


def test_a_daemonset_runs_only_on_the_nodes_its_node_selector_matches(lab, lab_ns):
    manifest = workload("DaemonSet", "agent", None)
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-2"}
    lab.request("POST", _path(lab_ns, "daemonsets"), manifest)

    (pod,) = _pods(lab, lab_ns, 1)
    time.sleep(1)  # no second pod comes
    _, ds = lab.request("GET", _path(lab_ns, "daemonsets", "agent"))
    assert pod["spec"]["nodeName"] == "node-2" and len(_pods(lab, lab_ns, 1)) == 1
    assert ds["status"]["desiredNumberScheduled"] == 1


def test_a_daemon_pod_tolerates_cordoned_and_pressured_nodes(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "daemonsets"), workload("DaemonSet", "agent", None))

    tolerated = {(t["key"], t["effect"]) for t in _pods(lab, lab_ns, 2)[0]["spec"]["tolerations"]}
    assert {("node.kubernetes.io/unschedulable", "NoSchedule"),
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule")} <= tolerated


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
    rolled = lab.kubectl(kubectl_bin, "rollout", "status", "deploy/shown", "-n", lab_ns)
    assert rolled.stdout == b'deployment "shown" successfully rolled out\n', rolled.stderr
    result = lab.kubectl(kubectl_bin, "get", "deploy", "-n", lab_ns)
    assert result.returncode == 0, result.stderr.decode()
    header, row = result.stdout.decode().splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["shown", "1/1", "1", "1"]


DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: busybox:1.36
        command: ["sleep", "{sleep}"]
"""


def _apply(lab, kubectl_bin, ns: str, replicas: int, sleep: int = 3600):
    manifest = DEPLOYMENT_YAML.format(replicas=replicas, sleep=sleep).encode()
    return lab.kubectl(kubectl_bin, "-n", ns, "apply", "-f", "-", stdin=manifest)


def test_kubectl_apply_creates_a_deployment_and_its_pods(lab, lab_ns, kubectl_bin):
    run = _apply(lab, kubectl_bin, lab_ns, 2)
    assert (run.returncode, run.stdout) == (0, b"deployment.apps/web created\n"), run.stderr
    assert len(_pods(lab, lab_ns, 2)) == 2


def test_kubectl_apply_of_a_new_template_replaces_the_pods_through_a_new_replicaset(
        lab, lab_ns, kubectl_bin):
    _apply(lab, kubectl_bin, lab_ns, 1)
    (old,) = _pods(lab, lab_ns, 1)
    run = _apply(lab, kubectl_bin, lab_ns, 1, sleep=3601)
    assert (run.returncode, run.stdout) == (0, b"deployment.apps/web configured\n"), run.stderr
    (new,) = _pods(lab, lab_ns, 1)
    _, rs_list = lab.request("GET", _path(lab_ns, "replicasets"))
    replicas = sorted((rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                       rs["spec"]["replicas"]) for rs in rs_list["items"])
    assert replicas == [("1", 0), ("2", 1)]
    assert new["spec"]["containers"][0]["command"] == ["sleep", "3601"]
    assert new["metadata"]["name"] != old["metadata"]["name"]


def test_kubectl_scale_deploy_ends_with_that_many_running_pods(lab, lab_ns, kubectl_bin):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 1))
    _pods(lab, lab_ns, 1)
    run = lab.kubectl(kubectl_bin, "-n", lab_ns, "scale", "deploy/web", "--replicas=3")
    assert (run.returncode, run.stdout) == (0, b"deployment.apps/web scaled\n"), run.stderr
    assert len(_pods(lab, lab_ns, 3)) == 3
    _, dep = lab.request("GET", _path(lab_ns, "deployments", "web"))
    assert (dep["spec"]["replicas"], dep["status"]["replicas"]) == (3, 3)


def test_patching_a_deployments_replicas_scales_its_pods_down(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 3))
    _pods(lab, lab_ns, 3)
    code, dep = lab.request("PATCH", _path(lab_ns, "deployments", "web"),
                            {"spec": {"replicas": 1}},
                            content_type="application/merge-patch+json")
    assert (code, dep["metadata"]["generation"], dep["status"]["observedGeneration"]) == (200, 2, 2)
    assert len(_pods(lab, lab_ns, 1)) == 1


def test_scaling_a_statefulset_down_removes_the_highest_ordinals(lab, lab_ns, kubectl_bin):
    lab.request("POST", _path(lab_ns, "statefulsets"), workload("StatefulSet", "db", 3))
    _pods(lab, lab_ns, 3)
    run = lab.kubectl(kubectl_bin, "-n", lab_ns, "scale", "sts/db", "--replicas=1")
    assert run.returncode == 0, run.stderr
    assert [p["metadata"]["name"] for p in _pods(lab, lab_ns, 1)] == ["db-0"]


def test_the_scale_subresource_shows_replicas_and_the_selector(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 2))
    code, scale = lab.request("GET", _path(lab_ns, "deployments", "web") + "/scale")
    assert (code, scale["kind"], scale["apiVersion"]) == (200, "Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 2, "selector": "app=web"}


def test_a_negative_scale_is_invalid(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 1))
    code, status = lab.request("PATCH", _path(lab_ns, "deployments", "web") + "/scale",
                               {"spec": {"replicas": -1}},
                               content_type="application/merge-patch+json")
    assert (code, status["message"]) == (
        422, 'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0")


def test_an_update_may_not_change_the_selector(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 1))
    patch = {"spec": {"selector": {"matchLabels": {"app": "other"}},
                      "template": {"metadata": {"labels": {"app": "other"}}}}}
    code, status = lab.request("PATCH", _path(lab_ns, "deployments", "web"), patch,
                               content_type="application/merge-patch+json")
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"].startswith(
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        'v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, ')
    assert status["message"].endswith(": field is immutable")


def test_a_deleted_replicaset_pod_is_replaced_by_a_new_one(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 2))
    before = {p["metadata"]["name"] for p in _pods(lab, lab_ns, 2)}
    gone = sorted(before)[0]
    lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/{gone}")
    after = {p["metadata"]["name"] for p in _pods(lab, lab_ns, 2)}
    assert gone not in after and len(after - before) == 1


def test_a_deleted_statefulset_pod_comes_back_under_its_name(lab, lab_ns):
    lab.request("POST", _path(lab_ns, "statefulsets"), workload("StatefulSet", "db", 2))
    old = {p["metadata"]["name"]: p["metadata"]["uid"] for p in _pods(lab, lab_ns, 2)}
    lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/db-1", {"gracePeriodSeconds": 0})
    lab.wait_for_pod(lab_ns, "db-1", lambda p: p["metadata"]["uid"] != old["db-1"]
                     and p["status"].get("phase") == "Running")


def test_the_update_strategies_default_as_upstream(lab, lab_ns):
    _, sts = lab.request("POST", _path(lab_ns, "statefulsets"), workload("StatefulSet", "db", 1))
    _, ds = lab.request("POST", _path(lab_ns, "daemonsets"), workload("DaemonSet", "agent", None))
    _, dep = lab.request("POST", _path(lab_ns, "deployments"), workload("Deployment", "web", 1))
    assert (sts["spec"]["podManagementPolicy"], sts["spec"]["updateStrategy"]) == (
        "OrderedReady", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}


def test_an_unknown_pod_management_policy_is_invalid(lab, lab_ns):
    manifest = workload("StatefulSet", "db", 1)
    manifest["spec"]["podManagementPolicy"] = "Sometimes"
    code, status = lab.request("POST", _path(lab_ns, "statefulsets"), manifest)
    assert (code, status["message"]) == (
        422, 'StatefulSet.apps "db" is invalid: spec.podManagementPolicy: Invalid value: '
        "\"Sometimes\": must be 'OrderedReady' or 'Parallel'")
