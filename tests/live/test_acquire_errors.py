"""Refusals end `kubectl netmon watch` with one error line, exit code 1, and nothing left behind.

Runs the CLI in-process against the lab; -q keeps stderr to the error alone.
"""

from __future__ import annotations

import pytest

from kubectl_netmon.cli.main import main
from kubectl_netmon.cluster import admission
from tests.lab import fixtures
from tests.lab.fixtures import pod
from tests.live.acquire_lab import netmon_left

lab, lab_ns = fixtures.lab, fixtures.lab_ns


@pytest.fixture
def watch(lab, capsys):
    """`kubectl-netmon watch ARGS -q` on the lab: (exit code, stderr)."""
    def run(*args: str, context: str = "lab") -> tuple[int, str]:
        with pytest.raises(SystemExit) as ended:
            main(["watch", *args, "-q", "-o", "json", "--kubeconfig", str(lab.kubeconfig),
                  "--context", context])
        return ended.value.code, capsys.readouterr().err
    return run


def test_a_missing_pod(lab, lab_ns, watch):
    assert watch("pod", "nope", "-n", lab_ns) == (
        1, f'error: pod "nope" not found in namespace "{lab_ns}"; check the name with '
        f"kubectl get pods -n {lab_ns}\n")


def test_a_missing_namespace(lab, watch):
    expected = (1, 'error: namespace "no-such-ns" not found; check the name with '
                'kubectl get namespaces\n')
    assert watch("pod", "web", "-n", "no-such-ns") == expected


def test_an_unknown_image(lab, lab_ns, watch):
    lab.create_pod(lab_ns, pod("web"))
    code, err = watch("pod", "web", "-n", lab_ns, "--mode", "node",
                      "--image", "registry.invalid/netshoot:v0.13")
    assert code == 1 and err.count("\n") == 1
    assert 'cannot pull image "registry.invalid/netshoot:v0.13"' in err
    assert netmon_left(lab, "default") == []


def test_an_rbac_denial(lab, lab_ns, watch):
    lab.create_pod(lab_ns, pod("web"))
    code, err = watch("pod", "web", "-n", lab_ns, context="lab-restricted")
    assert code == 1 and err.count("\n") == 1
    assert f'missing permission: patch pods/ephemeralcontainers in namespace "{lab_ns}"' in err
    assert netmon_left(lab, lab_ns) == [] and netmon_left(lab, "default") == []


def test_a_pod_security_rejection(lab, lab_ns, watch):
    lab.create_pod(lab_ns, pod("web"))
    lab.request("PATCH", f"/api/v1/namespaces/{lab_ns}",
                {"metadata": {"labels": {admission.ENFORCE: "baseline"}}},
                content_type="application/merge-patch+json")
    code, err = watch("pod", "web", "-n", lab_ns, "--mode", "ephemeral")
    assert code == 1 and err.count("\n") == 1
    assert f"label {admission.ENFORCE}=baseline" in err
    assert netmon_left(lab, lab_ns) == []


def test_an_unknown_image_in_ephemeral_mode(lab, lab_ns, watch):
    """An ephemeral container can never be removed: it is left waiting, running nothing."""
    lab.create_pod(lab_ns, pod("web"))
    code, err = watch("pod", "web", "-n", lab_ns, "--mode", "ephemeral",
                      "--image", "registry.invalid/netshoot:v0.13")
    assert code == 1 and err.count("\n") == 1
    assert 'cannot pull image "registry.invalid/netshoot:v0.13"' in err
    _, web = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods/web")
    states = [s["state"] for s in web["status"].get("ephemeralContainerStatuses", [])]
    assert states and all("running" not in s for s in states)
