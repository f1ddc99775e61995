"""`kubectl netmon cleanup` against the lab, run in-process through the CLI's edge; and what a
capture leaves on the node."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_netmon.cli.main import main
from kubectl_netmon.cluster import specs
from tests.lab import fixtures
from tests.lab.fixtures import pod, ws_exec
from tests.live.acquire_lab import ephemeral_state

lab, lab_ns = fixtures.lab, fixtures.lab_ns


@pytest.fixture
def netmon(lab, capsys):
    """Run `kubectl-netmon ARGS` on the lab: (exit code, stdout, stderr)."""
    def run(*args: str, context: str = "lab") -> tuple[int, str, str]:
        try:
            main([*args, "--kubeconfig", str(lab.kubeconfig), "--context", context])
            code = 0
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _left_node_pod(lab, ns: str) -> str:
    """A node capture pod as a SIGKILLed client leaves it."""
    name = specs.new_name("netmon-node-1")
    lab.create_pod(ns, specs.node_pod(name, "node-1", "nicolaka/netshoot:v0.13", 600, 600))
    return name


def _exists(lab, ns: str, name: str) -> bool:
    return lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")[0] == 200


def test_a_left_node_pod_is_deleted_and_listed(lab, lab_ns, netmon):
    name = _left_node_pod(lab, lab_ns)
    code, out, _ = netmon("cleanup", "-n", lab_ns)
    assert (code, out) == (0, f"deleted pod {lab_ns}/{name} (Running)\n")
    assert not _exists(lab, lab_ns, name)


def test_without_a_namespace_every_namespace_is_searched(lab, lab_ns, netmon):
    name = _left_node_pod(lab, lab_ns)
    code, out, _ = netmon("cleanup")
    assert code == 0 and f"deleted pod {lab_ns}/{name} (Running)" in out


def test_dry_run_lists_and_deletes_nothing(lab, lab_ns, netmon):
    name = _left_node_pod(lab, lab_ns)
    code, out, _ = netmon("cleanup", "-n", lab_ns, "--dry-run")
    assert (code, out) == (0, f"would delete pod {lab_ns}/{name} (Running)\n")
    assert _exists(lab, lab_ns, name)


def test_other_pods_are_left_alone(lab, lab_ns, netmon):
    lab.create_pod(lab_ns, pod("web"))
    netmon("cleanup", "-n", lab_ns)
    assert _exists(lab, lab_ns, "web")


def test_running_netmon_ephemeral_containers_are_listed(lab, lab_ns, netmon):
    lab.create_pod(lab_ns, pod("web"))
    container = specs.ephemeral_container("netmon-abcde", "nicolaka/netshoot:v0.13", 600)
    lab.request("PATCH", f"/api/v1/namespaces/{lab_ns}/pods/web/ephemeralcontainers",
                {"spec": {"ephemeralContainers": [container]}},
                content_type="application/strategic-merge-patch+json")
    lab.wait_for_pod(lab_ns, "web", lambda p: "running" in ephemeral_state(p, "netmon-abcde"))
    code, out, _ = netmon("cleanup", "-n", lab_ns)
    assert code == 0
    assert out.startswith(f"still running: ephemeral container netmon-abcde in pod {lab_ns}/web")


def test_nothing_left_says_so(lab, lab_ns, netmon):
    assert netmon("cleanup", "-n", lab_ns) == (0, "nothing left by netmon\n", "")


def test_a_refused_deletion_is_one_error_line_and_a_failure(lab, lab_ns, netmon):
    name = _left_node_pod(lab, lab_ns)
    read = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}
    with lab.rules("lab-restricted", [read]):
        code, _, err = netmon("cleanup", "-n", lab_ns, context="lab-restricted")
    assert code == 1 and err.startswith(f'error: deleting pod "{lab_ns}/{name}": ')
    assert err.count("\n") == 1 and _exists(lab, lab_ns, name)


def test_without_cluster_wide_listing_the_error_suggests_a_namespace(lab, lab_ns, netmon):
    read = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"],
            "namespaces": [lab_ns]}
    with lab.rules("lab-restricted", [read]):
        code, _, err = netmon("cleanup", context="lab-restricted")
    assert code == 1 and err.endswith("; pass -n NAMESPACE to clean up one namespace\n")


def test_an_ephemeral_capture_keeps_its_heartbeat_in_the_container_and_leaves_none_on_the_node(
        lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    watch = subprocess.Popen(
        [sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web", "-n", lab_ns,
         "--duration", "10s", "-o", "json", "--kubeconfig", str(lab.kubeconfig)],
        cwd=fixtures.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = lab.wait_for_pod(lab_ns, "web", lambda p: any(
            "running" in cs["state"] for cs in p["status"].get("ephemeralContainerStatuses", [])))
        container = running["spec"]["ephemeralContainers"][0]["name"]
        heartbeat = specs.heartbeat_path(container)
        _wait_until_seen_in(lab, lab_ns, container, heartbeat)
        on_node_while_capturing = Path(heartbeat).exists()
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=60)
    _delete_and_wait(lab, lab_ns, "web")
    assert (on_node_while_capturing, Path(heartbeat).exists()) == (False, False)


def _wait_until_seen_in(lab, ns: str, container: str, path: str, bound_s: float = 30) -> None:
    """Until `test -e path` succeeds in the pod's container (a capture beats every second)."""
    deadline = time.monotonic() + bound_s
    while ws_exec(lab, ns, "web", ["test", "-e", path], container=container).status[
            "status"] != "Success":
        assert time.monotonic() < deadline, f"{path} never appeared in {container}"
        time.sleep(0.2)


def _delete_and_wait(lab, ns: str, name: str) -> None:
    """Delete the pod and watch until it is gone (its processes stopped by the kubelet)."""
    _, marked = lab.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}")
    path = (f"/api/v1/namespaces/{ns}/pods?watch=true&fieldSelector=metadata.name%3D{name}"
            f"&resourceVersion={marked['metadata']['resourceVersion']}&timeoutSeconds=60")
    assert any(event["type"] == "DELETED" for event in lab.watch(path))
