"""A real kubectl binary against the lab, unchanged: what kubectl accepts is the lab's contract."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from tests.lab import fixtures
from tests.lab.fixtures import pod

kubectl_bin, lab, lab_ns = fixtures.kubectl_bin, fixtures.lab, fixtures.lab_ns  # the lab's fixtures

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: ["sh", "-c", "echo started; exec sleep 3600"]
"""


@pytest.fixture
def kubectl(lab, kubectl_bin, lab_ns):
    """Run kubectl in the test's namespace; returns the CompletedProcess."""

    def run(*args: str, context: str = "lab", stdin: bytes = b"") -> subprocess.CompletedProcess:
        return lab.kubectl(kubectl_bin, "-n", lab_ns, *args, context=context, stdin=stdin)

    return run


@pytest.fixture
def web(lab, lab_ns, kubectl):
    """Pod `web` applied with kubectl and running."""
    done = kubectl("apply", "-f", "-", stdin=POD_YAML.encode())
    assert done.returncode == 0, done.stderr
    return lab.wait_for_pod(lab_ns, "web", lambda p: p["status"].get("phase") == "Running")


def test_get_nodes_lists_ready_nodes_with_internal_ips(lab, kubectl_bin):
    out = lab.kubectl(kubectl_bin, "get", "nodes", "-o", "wide").stdout.decode().splitlines()
    assert out[0].split()[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert [line.split()[5] for line in out[1:]] == ["172.31.0.11", "172.31.0.12"]


def test_apply_creates_the_pod(kubectl):
    done = kubectl("apply", "-f", "-", stdin=POD_YAML.encode())
    assert (done.returncode, done.stdout) == (0, b"pod/web created\n")


def test_apply_with_an_unknown_field_is_refused_by_strict_validation(kubectl):
    done = kubectl("apply", "-f", "-", stdin=POD_YAML.replace("image:", "imag:").encode())
    assert done.returncode == 1
    assert b'strict decoding error: unknown field "spec.containers[0].imag"' in done.stderr


def test_get_pods_all_namespaces_wide_shows_ip_and_node(lab, lab_ns, web, kubectl_bin):
    out = lab.kubectl(kubectl_bin, "get", "pods", "-A", "-o", "wide").stdout.decode()
    row = next(line.split() for line in out.splitlines() if line.startswith(f"{lab_ns} "))
    assert row[2:4] == ["1/1", "Running"]
    assert row[6:8] == [web["status"]["podIP"], web["spec"]["nodeName"]]


def test_get_pod_as_json_is_the_stored_object(web, kubectl):
    got = json.loads(kubectl("get", "pod", "web", "-o", "json").stdout)
    assert got["metadata"]["uid"] == web["metadata"]["uid"]


def test_logs_prints_the_container_output(lab, lab_ns, kubectl):
    lab.request(
        "POST",
        f"/api/v1/namespaces/{lab_ns}/pods",
        pod("job", ["sh", "-c", "echo one; echo two"], restartPolicy="Never"),
    )
    lab.wait_for_pod(lab_ns, "job", lambda p: p["status"].get("phase") == "Succeeded")
    assert kubectl("logs", "job").stdout == b"one\ntwo\n"


def test_logs_follow_streams_until_the_container_ends(lab, lab_ns, kubectl_bin, kubectl):
    script = "echo line-1; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo line-2"
    lab.create_pod(lab_ns, pod("job", ["sh", "-c", script], restartPolicy="Never"))
    cmd = [str(kubectl_bin), "--context", "lab", "-n", lab_ns, "logs", "-f", "job"]
    env = {"KUBECONFIG": str(lab.kubeconfig), "HOME": str(lab.state_dir), "PATH": "/usr/bin"}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) as follower:
        first = follower.stdout.readline()
        kubectl("exec", "job", "--", "touch", "/tmp/go")
        rest = follower.stdout.read()
    assert (first, rest, follower.returncode) == (b"line-1\n", b"line-2\n", 0)


def test_exec_returns_byte_identical_binary_output(web, kubectl):
    script = (
        'f=$(mktemp); head -c 300000 /dev/urandom > "$f"; cat "$f"; sha256sum < "$f" >&2; rm "$f"'
    )
    done = kubectl("exec", "web", "--", "sh", "-c", script)
    assert hashlib.sha256(done.stdout).hexdigest() == done.stderr.split()[0].decode()


def test_exec_exits_with_the_command_exit_code(web, kubectl):
    done = kubectl("exec", "web", "--", "sh", "-c", "exit 5")
    assert (done.returncode, done.stderr) == (5, b"command terminated with exit code 5\n")


def test_exec_passes_stdin(web, kubectl):
    done = kubectl("exec", "-i", "web", "--", "sha256sum", stdin=b"abc")
    assert done.stdout.split()[0].decode() == hashlib.sha256(b"abc").hexdigest()


def test_debug_netadmin_reaches_a_running_ephemeral_container(lab, lab_ns, web, kubectl):
    done = kubectl(
        "debug",
        "web",
        "--image=nicolaka/netshoot",
        "--profile=netadmin",
        "-c",
        "dbg",
        "--",
        "sleep",
        "60",
    )
    assert done.returncode == 0, done.stderr
    running = lab.wait_for_pod(
        lab_ns,
        "web",
        lambda p: any(
            "running" in s["state"] for s in p["status"].get("ephemeralContainerStatuses", [])
        ),
    )
    added = running["spec"]["ephemeralContainers"][0]
    assert added["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]


def test_exec_into_the_debug_container_works(lab, lab_ns, web, kubectl):
    kubectl("debug", "web", "--image=busybox", "-c", "dbg", "--", "sleep", "60")
    lab.wait_for_pod(
        lab_ns,
        "web",
        lambda p: any(
            "running" in s["state"] for s in p["status"].get("ephemeralContainerStatuses", [])
        ),
    )
    assert kubectl("exec", "web", "-c", "dbg", "--", "echo", "in-debug").stdout == b"in-debug\n"


def test_debug_as_the_restricted_user_shows_the_rbac_message(lab_ns, web, kubectl):
    done = kubectl("debug", "web", "--image=busybox", "--", "true", context="lab-restricted")
    assert done.returncode == 1
    assert (
        f'pods "web" is forbidden: User "lab-restricted" cannot patch resource '
        f'"pods/ephemeralcontainers" in API group "" in the namespace "{lab_ns}"'
    ).encode() in done.stderr


def test_delete_removes_the_pod(web, kubectl):
    done = kubectl("delete", "pod", "web", "--grace-period=1")
    assert (done.returncode, done.stdout) == (0, b'pod "web" deleted\n')
    assert b"NotFound" in kubectl("get", "pod", "web").stderr


def test_get_pods_watch_sees_a_new_pod(lab, lab_ns, web, kubectl_bin):
    cmd = [
        str(kubectl_bin),
        "--context",
        "lab",
        "-n",
        lab_ns,
        "get",
        "pods",
        "-w",
        "--request-timeout=60s",
    ]
    env = {"KUBECONFIG": str(lab.kubeconfig), "HOME": str(lab.state_dir), "PATH": "/usr/bin"}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) as watcher:
        try:
            assert watcher.stdout.readline().split()[0] == b"NAME"
            assert watcher.stdout.readline().split()[0] == b"web"
            lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("late"))
            names = iter(lambda: watcher.stdout.readline().split()[:1], [])
            assert [b"late"] in names
        finally:
            watcher.terminate()


def test_create_namespace_sent_as_protobuf_works(lab, kubectl_bin):
    done = lab.kubectl(kubectl_bin, "create", "namespace", "made-by-kubectl")
    assert (done.returncode, done.stdout) == (0, b"namespace/made-by-kubectl created\n")
    lab.request("DELETE", "/api/v1/namespaces/made-by-kubectl")


def test_create_service_sent_as_protobuf_gets_a_cluster_ip(kubectl):
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    svc = json.loads(kubectl("get", "service", "web", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["clusterIP"]


def test_create_serviceaccount_sent_as_protobuf_is_listed_beside_default(kubectl):
    kubectl("create", "serviceaccount", "builder")
    listed = kubectl("get", "serviceaccounts").stdout.decode().split("\n")
    assert [line.split()[:2] for line in listed[:3]] == [
        ["NAME", "SECRETS"], ["builder", "0"], ["default", "0"]]


def test_describe_pod_shows_the_service_account_token_volume(web, kubectl):
    described = kubectl("describe", "pod", "web").stdout.decode()
    assert "/var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-" in described
    assert "TokenExpirationSeconds:  3607" in described


def test_debug_node_runs_a_host_network_pod_on_that_node(lab, lab_ns, kubectl):
    done = kubectl(
        "debug", "node/node-2", "--image=busybox", "--profile=netadmin", "--", "sleep", "60"
    )
    assert done.returncode == 0, done.stderr
    name = done.stdout.decode().split("Creating debugging pod ")[1].split()[0]
    running = lab.wait_for_pod(lab_ns, name, lambda p: p["status"].get("phase") == "Running")
    assert (running["spec"]["nodeName"], running["status"]["podIP"]) == ("node-2", "172.31.0.12")


def test_auth_can_i_answers_from_the_restricted_rules(kubectl):
    exec_ok = kubectl(
        "auth", "can-i", "create", "pods", "--subresource=exec", context="lab-restricted"
    )
    debug_ok = kubectl(
        "auth",
        "can-i",
        "patch",
        "pods",
        "--subresource=ephemeralcontainers",
        context="lab-restricted",
    )
    assert (exec_ok.stdout, debug_ok.stdout) == (b"yes\n", b"no\n")


def test_pod_security_warn_level_is_printed_as_a_warning(lab, lab_ns, kubectl):
    lab.request(
        "PATCH",
        f"/api/v1/namespaces/{lab_ns}",
        {"metadata": {"labels": {"pod-security.kubernetes.io/warn": "baseline"}}},
        content_type="application/merge-patch+json",
    )
    done = kubectl(
        "apply",
        "-f",
        "-",
        stdin=POD_YAML.replace("spec:\n", "spec:\n  hostNetwork: true\n").encode(),
    )
    assert done.returncode == 0
    assert done.stderr == (
        b'Warning: would violate PodSecurity "baseline:latest": host '
        b"namespaces (hostNetwork=true)\n"
    )


def test_describe_pod_lists_the_kubelet_events(web, kubectl):
    out = kubectl("describe", "pod", "web").stdout.decode()
    events = out.split("Events:")[1]
    assert "Successfully assigned" in events and "Started container app" in events
