"""kubectl-netmon run in a pod of the cluster: no kubeconfig, only what the kubelet gives a
container (the `kubernetes` Service's KUBERNETES_SERVICE_HOST/PORT, the service account's bound
token, CA and namespace under /var/run/secrets/kubernetes.io/serviceaccount). The real CLI runs
as a lab pod in namespace demo of the log4shell scenario, reaches the API server over the pod
network, and is allowed what its service account's RBAC rules allow."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.lab.fixtures import Lab
from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

ACCOUNT = "netmon"
USER = f"system:serviceaccount:demo:{ACCOUNT}"
# What `watch pod` needs in ephemeral mode (README: what the cluster must allow)
WATCH_RULES = [
    {"verbs": ["get", "list", "watch"], "apiGroups": [""],
     "resources": ["pods", "nodes", "services", "namespaces"]},
    {"verbs": ["patch"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]},
    {"verbs": ["get", "create"], "apiGroups": [""], "resources": ["pods/exec"]},
]


@pytest.fixture
def demo(log4shell_lab: RunningLab) -> Iterator[Lab]:  # noqa: F811
    """The log4shell lab as tests/lab drives one (raw requests, RBAC rules), with the
    ServiceAccount ACCOUNT in demo (a real cluster refuses pods of a missing account)."""
    info = json.loads((log4shell_lab.state_dir / "server.json").read_text())
    lab = Lab(log4shell_lab.state_dir, info)
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ACCOUNT}}
    code, body = lab.request("POST", "/api/v1/namespaces/demo/serviceaccounts", sa)
    assert code == 201, body
    yield lab
    lab.request("DELETE", f"/api/v1/namespaces/demo/serviceaccounts/{ACCOUNT}")


def _run_in_a_pod(lab: Lab, name: str, *args: str) -> tuple[str, str]:
    """Run `kubectl-netmon ARGS` as the only container of pod `name` in demo, with the service
    account ACCOUNT; (its phase once ended, its log)."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "serviceAccountName": ACCOUNT,
            "restartPolicy": "Never",
            "containers": [{
                "name": "netmon",
                "image": "python:3.11-slim",  # the lab runs the node's own python
                "command": [sys.executable, "-m", "kubectl_netmon", *args],
                "workingDir": str(REPO),
                "env": [{"name": "HOME", "value": "/tmp"}],  # the node's ~/.kube is no image's
            }],
        },
    }
    code, body = lab.request("POST", "/api/v1/namespaces/demo/pods", manifest)
    assert code == 201, body
    try:
        ended = lab.wait_for_pod("demo", name, lambda p: p["status"].get("phase") in (
            "Succeeded", "Failed"))
        _, log = lab.request("GET", f"/api/v1/namespaces/demo/pods/{name}/log")
        return ended["status"]["phase"], log
    finally:
        lab.request("DELETE", f"/api/v1/namespaces/demo/pods/{name}?gracePeriodSeconds=0")


def _conns(log: str) -> list[dict]:
    """The conn records among a pod log's lines (JSON lines between status lines)."""
    records = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return [r for r in records if r["_path"] == "conn"]


def test_in_a_pod_the_service_account_and_its_namespace_are_used(demo):
    with demo.rules(USER, WATCH_RULES):
        phase, log = _run_in_a_pod(demo, "netmon-in-cluster", "watch", "pod", "web",
                                   "--duration", "6s", "-o", "json")

    assert phase == "Succeeded", log
    conns = _conns(log)
    named = {(c.get(f"{side}_pod.ns"), c.get(f"{side}_pod.name"))
             for c in conns for side in ("orig", "resp")}
    assert ("demo", "web") in named, log


def test_a_service_account_whose_rights_end_at_its_namespace_names_that_namespaces_pods(demo):
    """A RoleBinding in demo only (no nodes, no other namespace): the capture runs, demo's pods
    are named, and it says what it could not name."""
    in_demo = [{**rule, "namespaces": ["demo"]} for rule in WATCH_RULES]
    in_demo[0] = {**in_demo[0], "resources": ["pods"]}
    with demo.rules(USER, in_demo):
        phase, log = _run_in_a_pod(demo, "netmon-namespaced", "watch", "pod", "web",
                                   "--duration", "6s", "-o", "json")

    assert phase == "Succeeded", log
    conns = _conns(log)
    assert "web" in {c.get("resp_pod.name") for c in conns}, log
    assert "pods are named in namespace demo only: no permission to list pods in all " \
           "namespaces" in log
    assert "nodes are not named: no permission to list nodes" in log


def test_in_a_pod_a_missing_permission_of_the_service_account_is_named(demo):
    """Without patch on pods/ephemeralcontainers: one clear line naming it, the pod fails."""
    with demo.rules(USER, [WATCH_RULES[0], WATCH_RULES[2]]):
        phase, log = _run_in_a_pod(demo, "netmon-denied", "watch", "pod", "web",
                                   "--duration", "6s", "--mode", "ephemeral")

    assert phase == "Failed", log
    assert 'patch pods/ephemeralcontainers in namespace "demo"' in log, log
    assert "Traceback" not in log
