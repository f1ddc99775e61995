"""`kubectl netmon watch deploy/NAME`, `sts/NAME` and `ds/NAME` against the lab: a capture from
each pod of the workload; a missing workload is one clear error line and exit 1; pods that a
`kubectl rollout restart` puts in place of the old ones are captured and named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.lab import fixtures
from tests.live.acquire_lab import talker
from tests.live.cli_process import NetmonProcess, conns

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin


def _workload(kind: str, name: str, replicas: int | None = None) -> dict:
    """A workload whose pods send a datagram every 0.1 s: traffic to capture."""
    manifest = fixtures.workload(kind, name, replicas)
    manifest["spec"]["template"]["spec"] = talker("x")["spec"]
    return manifest


def _running_pods(lab, ns: str, want: int, timeout: float = 60, other_than: str = ""
                  ) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
        running = [p["metadata"]["name"] for p in body["items"]
                   if p["status"].get("phase") == "Running"
                   and p["metadata"]["name"] != other_than]
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


def test_watch_goes_on_when_every_pod_of_the_workload_is_replaced(lab, lab_ns):
    """All of a deployment's pods gone at once (deleted, a Recreate rollout) is no end of the
    watch: the pods that replace them are captured."""
    _create(lab, lab_ns, "deployments", _workload("Deployment", "web", 1))
    [old] = _running_pods(lab, lab_ns, 1)
    with NetmonProcess(dict(os.environ), "watch", "deploy/web", "-n", lab_ns, "--mode",
                       "ephemeral", "-o", "json", "--kubeconfig", str(lab.kubeconfig)) as run:
        run.wait_for(f"{lab_ns}/{old}: Capturing on")
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/{old}", {"gracePeriodSeconds": 0})
        [new] = _running_pods(lab, lab_ns, 1, other_than=old)
        run.wait_for(f"{lab_ns}/{new}: Capturing on")
        run.wait_for(f"{lab_ns}/{new}: Packets: ")
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert done.code == 0, done.stderr
    assert new in {r.get("orig_pod.name") for r in conns(done.stdout)}, done.stderr


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
        f'error: deployment "nosuch" in namespace "{lab_ns}" not found; check the name with '
        f"kubectl get deployments -n {lab_ns}"
    ], run.stderr
    assert run.stdout == ""



def _pod_ips(lab, ns: str) -> dict[str, str]:
    _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
    return {p["metadata"]["name"]: p["status"].get("podIP") for p in body["items"]
            if not p["metadata"].get("deletionTimestamp")}


def _fillers(lab, ns: str) -> list[str]:
    """A running pod on each node, so that the workload's pods take higher addresses."""
    _, nodes = lab.request("GET", "/api/v1/nodes")
    names = []
    for node in nodes["items"]:
        name = f"filler-{node['metadata']['name']}"
        lab.create_pod(ns, fixtures.pod(name, nodeName=node["metadata"]["name"]))
        names.append(name)
    return names


def _rollout_restart(lab, kubectl_bin, ns: str, target: str) -> None:
    for verb in (("restart", target), ("status", target, "--timeout=60s")):
        run = lab.kubectl(kubectl_bin, "-n", ns, "rollout", *verb)
        assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(("resource", "kind", "name"), [
    ("statefulsets", "StatefulSet", "db"), ("daemonsets", "DaemonSet", "agent")])
def test_watch_keeps_naming_a_workloads_pods_while_a_rollout_restart_replaces_them(
        lab, lab_ns, kubectl_bin, resource, kind, name):
    fillers = _fillers(lab, lab_ns)
    replicas = None if kind == "DaemonSet" else 2
    _create(lab, lab_ns, resource, _workload(kind, name, replicas))
    _running_pods(lab, lab_ns, len(fillers) * 2 if replicas is None else len(fillers) + 2)
    # The fillers' addresses are free again and lower: the new pods get other addresses than
    # the old ones, as in a cluster whose IPAM does not hand a just-freed address back.
    for filler in fillers:
        lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/{filler}",
                    {"gracePeriodSeconds": 0})
    old = _pod_ips(lab, lab_ns)
    target = f"{resource}/{name}"
    with NetmonProcess(dict(os.environ), "watch", target, "-n", lab_ns, "--duration", "12s",
                       "-o", "json", "--kubeconfig", str(lab.kubeconfig)) as run:
        run.wait_for("Capturing on", times=2)
        _rollout_restart(lab, kubectl_bin, lab_ns, target)
        new = _pod_ips(lab, lab_ns)
        done = run.finish()

    assert not set(new.values()) & set(old.values())
    named = {(r["id.orig_h"], r.get("orig_pod.name")) for r in conns(done.stdout)}
    assert named >= {(ip, pod) for pod, ip in new.items()}, done.stderr
