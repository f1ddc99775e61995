"""-c CONTAINER and --image-pull-secret through the real CLI against the lab: what they put into
the cluster, read back from the API as kubectl would show it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.lab.fixtures import pod
from tests.live.cli_process import NetmonProcess, pod_exists
from tests.live.fixtures import REPO


@pytest.fixture
def two_containers(lab, lab_ns) -> str:
    """A running pod `web` with containers `app` and `sidecar`; its namespace."""
    manifest = pod("web")
    manifest["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36",
                                           "command": ["sleep", "3600"]})
    lab.create_pod(lab_ns, manifest)
    return lab_ns


def netmon(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubectl_netmon", *args, "--kubeconfig",
                           str(lab.kubeconfig)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def ephemeral_targets(lab, ns: str) -> list[str]:
    """targetContainerName of each ephemeral container of pod `web` ("" when it has none)."""
    _, web = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/web")
    return [c.get("targetContainerName", "") for c in web["spec"].get("ephemeralContainers", [])]


def test_a_container_flag_makes_the_capture_container_target_that_container(lab,
                                                                            two_containers):
    run = netmon(lab, "watch", "pod", "web", "-c", "sidecar", "-n", two_containers, "--mode",
                 "ephemeral", "--duration", "2s", "-o", "json")

    assert run.returncode == 0, run.stderr
    assert ephemeral_targets(lab, two_containers) == ["sidecar"]


def test_a_container_the_pod_lacks_is_one_error_naming_its_containers(lab, two_containers):
    run = netmon(lab, "watch", "pod", "web", "-c", "nope", "-n", two_containers, "--mode",
                 "ephemeral", "-o", "json", "-q")

    assert (run.returncode, run.stderr.splitlines()) == (
        1, ['error: pod "web" has no container "nope" (it has: app, sidecar)'])
    assert ephemeral_targets(lab, two_containers) == []


def test_an_image_pull_secret_goes_into_the_node_capture_pod(lab, two_containers):
    """Only a node-mode pod can take a pull secret, so auto picks node mode for it."""
    with NetmonProcess({"KUBECONFIG": str(lab.kubeconfig), "PATH": "/usr/bin:/bin"}, "watch",
                       "pod", "web", "-n", two_containers, "--image-pull-secret", "regcred",
                       "-o", "json") as run:
        run.wait_for("Capturing on")
        ((ns, name),) = run.node_pods()
        _, capture_pod = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        run.send_signal(signal.SIGINT)
        done = run.finish()

    assert capture_pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert done.code == 0, done.stderr
    assert not pod_exists(str(lab.kubeconfig), ns, name)
