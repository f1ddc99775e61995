"""Refusals through the real `kubectl netmon capture` against the lab: each is one error line
that says what was wrong and what to do, exit code 1, no capture file, and nothing left in the
cluster (no netmon pod, no ephemeral container). (`watch`: tests/live/test_acquire_errors.py.)

-q keeps stderr to the error alone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubectl_netmon.cluster import admission
from tests.lab import fixtures
from tests.lab.fixtures import pod
from tests.live.acquire_lab import netmon_left
from tests.live.fixtures import REPO

lab, lab_ns = fixtures.lab, fixtures.lab_ns

BAD_IMAGE = "registry.invalid/netshoot:v0.13"
READ = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "nodes"]}
EXEC = {"verbs": ["get", "create"], "apiGroups": [""], "resources": ["pods/exec"]}
EPHEMERAL = {"verbs": ["patch"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]}


def _enforce(lab, ns: str, level: str) -> None:
    """Label the namespace with this Pod Security enforce level."""
    lab.request("PATCH", f"/api/v1/namespaces/{ns}",
                {"metadata": {"labels": {admission.ENFORCE: level}}},
                content_type="application/merge-patch+json")


@pytest.fixture
def capture(lab, tmp_path):
    """`kubectl-netmon capture ARGS -w FILE -q` as kubectl runs it: (exit code, stderr lines);
    fails the test if the capture file was left behind."""
    def run(*args: str, context: str = "lab") -> tuple[int, list[str]]:
        out = tmp_path / "out.pcapng"
        done = subprocess.run(
            [sys.executable, "-m", "kubectl_netmon", "capture", *args, "-w", str(out), "-q",
             "--context", context],
            cwd=REPO, capture_output=True, text=True, timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                 "KUBECONFIG": str(lab.kubeconfig)})
        assert not out.exists()
        return done.returncode, done.stderr.splitlines()
    return run


def test_a_missing_pod_names_the_namespace_and_how_to_list_its_pods(lab, lab_ns, capture):
    assert capture("nope", "-n", lab_ns) == (1, [
        f'error: pod "nope" not found in namespace "{lab_ns}"; check the name with '
        f"kubectl get pods -n {lab_ns}"])


def test_a_missing_namespace_says_how_to_list_the_namespaces(lab, capture):
    assert capture("--ns", "no-such-ns") == (1, [
        'error: namespace "no-such-ns" not found; check the name with kubectl get namespaces'])


def test_a_selector_the_server_cannot_parse_is_a_usage_error_naming_it(lab, lab_ns, capture):
    code, err = capture("-l", "app in (a", "-n", lab_ns)

    assert (code, len(err)) == (2, 1)
    assert err[0].startswith("error: label selector 'app in (a': unable to parse requirement")
    assert err[0].endswith("write it as for kubectl get -l, e.g. app=web or 'tier in (web,api)'")


def test_a_missing_node_namespace_names_its_flag(lab, lab_ns, capture):
    lab.create_pod(lab_ns, pod("web"))

    assert capture("web", "-n", lab_ns, "--mode", "node", "--node-namespace", "no-such-ns") == (
        1, ['error: --node-namespace namespace "no-such-ns" not found; check the name with '
            "kubectl get namespaces"])


def test_a_missing_node_says_how_to_list_the_nodes(lab, capture):
    assert capture("node", "nope") == (1, [
        'error: node "nope" not found; check the name with kubectl get nodes'])


def test_an_rbac_denial_names_the_missing_permission_and_who_grants_it(lab, lab_ns, capture):
    lab.create_pod(lab_ns, pod("web"))

    code, err = capture("web", "-n", lab_ns, context="lab-restricted")

    assert code == 1 and len(err) == 1
    assert f'missing permission: patch pods/ephemeralcontainers in namespace "{lab_ns}"' in err[0]
    assert "a cluster admin must grant the missing permissions" in err[0]
    assert netmon_left(lab, lab_ns) == [] and netmon_left(lab, "default") == []


def test_a_user_who_may_not_even_read_the_pod_is_told_who_grants_it(lab, lab_ns, capture):
    lab.create_pod(lab_ns, pod("web"))

    with lab.rules("lab-restricted", []):
        code, err = capture("web", "-n", lab_ns, context="lab-restricted")

    assert code == 1 and len(err) == 1
    assert 'cannot get resource "pods"' in err[0]
    assert err[0].endswith("; a cluster admin must grant the missing permissions")


def test_a_pod_security_rejection_by_the_server_says_the_way_out(lab, lab_ns, capture):
    """A user who may not read namespaces learns the Pod Security level from the refusal."""
    lab.create_pod(lab_ns, pod("web"))
    _enforce(lab, lab_ns, "baseline")

    with lab.rules("lab-restricted", [READ, EXEC, EPHEMERAL]):
        code, err = capture("web", "-n", lab_ns, "--mode", "ephemeral",
                            context="lab-restricted")

    assert code == 1 and len(err) == 1
    assert 'violates PodSecurity "baseline' in err[0]
    assert "use --mode node with --node-namespace NS" in err[0]
    assert netmon_left(lab, lab_ns) == []


def test_a_pod_security_rejection_names_the_label_and_node_mode_as_the_way_out(lab, lab_ns,
                                                                               capture):
    lab.create_pod(lab_ns, pod("web"))
    _enforce(lab, lab_ns, "baseline")

    code, err = capture("web", "-n", lab_ns, "--mode", "ephemeral")

    assert code == 1 and len(err) == 1
    assert f"label {admission.ENFORCE}=baseline" in err[0]
    assert "use --mode node with --node-namespace NS" in err[0]
    assert netmon_left(lab, lab_ns) == []


def test_a_pod_security_rejection_of_the_node_namespace_points_to_another(lab, lab_ns, capture):
    """auto: the pod's namespace and the node namespace are both baseline, so neither mode."""
    lab.create_pod(lab_ns, pod("web"))
    _enforce(lab, lab_ns, "baseline")

    code, err = capture("web", "-n", lab_ns, "--node-namespace", lab_ns)

    assert code == 1 and len(err) == 1
    assert err[0].count(f"label {admission.ENFORCE}=baseline") == 2
    assert "use --mode node with --node-namespace NS" in err[0]
    assert netmon_left(lab, lab_ns) == []


def test_an_unknown_image_names_it_and_the_image_flag(lab, lab_ns, capture):
    lab.create_pod(lab_ns, pod("web"))

    code, err = capture("web", "-n", lab_ns, "--mode", "node", "--image", BAD_IMAGE)

    assert code == 1 and len(err) == 1
    assert f'cannot pull image "{BAD_IMAGE}"' in err[0]
    assert "give --image a mirror that has it" in err[0]
    assert netmon_left(lab, "default") == [] and netmon_left(lab, lab_ns) == []


def test_an_unknown_image_in_ephemeral_mode_leaves_a_container_that_never_runs(lab, lab_ns,
                                                                                capture):
    """An ephemeral container can never be removed: it stays waiting for its image."""
    lab.create_pod(lab_ns, pod("web"))

    code, err = capture("web", "-n", lab_ns, "--mode", "ephemeral", "--image", BAD_IMAGE)

    assert code == 1 and len(err) == 1
    assert f'cannot pull image "{BAD_IMAGE}"' in err[0]
    _, web = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods/web")
    states = [s["state"] for s in web["status"].get("ephemeralContainerStatuses", [])]
    assert states and all("running" not in s for s in states)



def test_a_capture_file_that_cannot_be_written_is_named_and_the_cluster_left_clean(lab, lab_ns,
                                                                                tmp_path):
    """A full disk (-w /dev/full) mid-capture: one line naming the file, exit 1, the capture
    pod gone."""
    lab.create_pod(lab_ns, pod("web"))
    done = subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", "capture", "web", "-n", lab_ns, "--mode", "node",
         "--duration", "60s", "-w", "/dev/full", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(lab.kubeconfig)})

    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: -w /dev/full: cannot write it (No space left on device); what was recorded "
        "before the failure is in it"])
    assert netmon_left(lab, lab_ns) == [] and netmon_left(lab, "default") == []


def test_a_filter_dumpcap_rejects_is_quoted_with_its_words(lab, lab_ns, tmp_path):
    """A filter libpcap parses but dumpcap refuses on the pod's interface: not "the stream
    dropped ... empty" but what dumpcap said of it, exit 1."""
    lab.create_pod(lab_ns, pod("web"))

    done = subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web", "-n", lab_ns, "-f",
         "port 99999", "--duration", "30s", "-q", "-o", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(lab.kubeconfig)})

    code, err = done.returncode, done.stderr.splitlines()
    assert code == 1
    assert err[-1].startswith(f'error: {lab_ns}/web: capture failed: dumpcap: Invalid capture '
                              'filter "port 99999" for interface \'eth0\'.')
    assert "dropped" not in err[-1]
