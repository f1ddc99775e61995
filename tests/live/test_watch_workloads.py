"""`kubectl netmon watch deploy/NAME`, `sts/NAME` and `ds/NAME` against the lab: a capture from
each pod of the workload; a missing workload is one clear error line and exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.lab import fixtures
from tests.live.acquire_lab import talker

lab, lab_ns = fixtures.lab, fixtures.lab_ns


def _workload(kind: str, name: str, replicas: int | None = None) -> dict:
    template = talker("x")  # every pod sends a datagram every 0.1 s: traffic to capture
    spec: dict = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": template["spec"]},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def _running_pods(lab, ns: str, want: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
        running = [p["metadata"]["name"] for p in body["items"]
                   if p["status"].get("phase") == "Running"]
        if len(running) == want:
            return sorted(running)
        assert time.monotonic() < deadline, running
        time.sleep(0.2)


def _netmon(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", *args, "--kubeconfig", str(lab.kubeconfig)],
        cwd=fixtures.REPO, capture_output=True, text=True, timeout=120)


def _create(lab, ns: str, resource: str, obj: dict) -> None:
    code, body = lab.request("POST", f"/apis/apps/v1/namespaces/{ns}/{resource}", obj)
    assert code == 201, body


def test_watch_deploy_captures_from_each_pod(lab, lab_ns):
    _create(lab, lab_ns, "deployments", _workload("Deployment", "web", 2))
    pods = _running_pods(lab, lab_ns, 2)

    run = _netmon(lab, "watch", "deploy/web", "-n", lab_ns, "--duration", "5s", "-o", "json")

    assert run.returncode == 0, run.stderr
    for name in pods:
        assert f"{lab_ns}/{name}" in run.stderr, run.stderr


def test_watch_sts_captures_from_each_numbered_pod(lab, lab_ns):
    _create(lab, lab_ns, "statefulsets", _workload("StatefulSet", "db", 2))
    assert _running_pods(lab, lab_ns, 2) == ["db-0", "db-1"]

    run = _netmon(lab, "watch", "sts/db", "-n", lab_ns, "--duration", "5s", "-o", "json",
                  "--mode", "ephemeral")  # one capture per pod, wherever the pods landed

    assert run.returncode == 0, run.stderr
    flows = [json.loads(line) for line in run.stdout.splitlines()]
    assert {f.get("orig_pod.name") for f in flows} >= {"db-0", "db-1"}, run.stdout


def test_watch_ds_captures_from_the_pod_on_each_node(lab, lab_ns):
    _, nodes = lab.request("GET", "/api/v1/nodes")
    _create(lab, lab_ns, "daemonsets", _workload("DaemonSet", "agent"))
    pods = _running_pods(lab, lab_ns, len(nodes["items"]))

    run = _netmon(lab, "watch", "ds/agent", "-n", lab_ns, "--duration", "5s", "-o", "json")

    assert run.returncode == 0, run.stderr
    for name in pods:
        assert f"{lab_ns}/{name}" in run.stderr, run.stderr


def test_watch_of_a_missing_deployment_is_one_error_line(lab, lab_ns):
    run = _netmon(lab, "watch", "deploy/nosuch", "-n", lab_ns, "--duration", "5s")

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f'error: deployment "nosuch" in namespace "{lab_ns}" not found'
    ], run.stderr
    assert run.stdout == ""
