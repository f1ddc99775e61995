"""What a container gets to reach the API server, as from a kubelet: the `kubernetes` Service's
variables, and its service account's token, CA and namespace in the directory in-cluster
clients read; the token is bound to the pod."""

from __future__ import annotations

import sys
import time

from tests.lab import fixtures
from tests.lab.fixtures import pod, ws_exec

lab, lab_ns = fixtures.lab, fixtures.lab_ns

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# From inside the pod: list pods as the mounted token, over the Service's address.
CALL_HOME = f"""
import http.client, json, os, ssl
ctx = ssl.create_default_context(cafile="{SA_DIR}/ca.crt")
conn = http.client.HTTPSConnection(os.environ["KUBERNETES_SERVICE_HOST"],
                                   int(os.environ["KUBERNETES_SERVICE_PORT"]), context=ctx)
ns = open("{SA_DIR}/namespace").read()
token = open("{SA_DIR}/token").read()
conn.request("GET", f"/api/v1/namespaces/{{ns}}/pods",
             headers={{"Authorization": "Bearer " + token}})
resp = conn.getresponse()
print(resp.status, json.loads(resp.read()).get("message", ""))
"""


def _account(lab, ns: str, name: str, **fields) -> dict:
    """Create ServiceAccount `name` in ns."""
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **fields}
    code, body = lab.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", sa)
    assert code == 201, body
    return body


def _run(lab, ns: str, name: str, argv: list[str], **spec) -> str:
    """argv as the one container of a sleeping pod; what it printed."""
    lab.create_pod(ns, pod(name, **spec))
    done = ws_exec(lab, ns, name, argv)
    return (done.channel(1) + done.channel(2)).decode()


def test_a_container_reaches_the_api_server_as_its_service_account(lab, lab_ns):
    _account(lab, lab_ns, "reader")
    said = _run(lab, lab_ns, "caller", [sys.executable, "-c", CALL_HOME],
                serviceAccountName="reader")

    assert said.startswith("403 "), said  # authenticated, and no rule allows it
    assert f'User "system:serviceaccount:{lab_ns}:reader" cannot list' in said


def test_the_service_account_rules_apply_to_its_token(lab, lab_ns):
    user = f"system:serviceaccount:{lab_ns}:default"
    with lab.rules(user, [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]):
        said = _run(lab, lab_ns, "caller", [sys.executable, "-c", CALL_HOME])

    assert said.startswith("200 "), said


def test_a_token_no_longer_authenticates_once_its_pod_is_gone(lab, lab_ns):
    token = _run(lab, lab_ns, "holder", ["cat", f"{SA_DIR}/token"])
    assert lab.request("GET", "/api", token=token)[0] == 200

    lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/pods/holder?gracePeriodSeconds=0")

    assert lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods/holder")[0] == 404
    assert lab.request("GET", "/api", token=token)[0] == 401


def test_automount_false_gives_no_token(lab, lab_ns):
    said = _run(lab, lab_ns, "bare", ["ls", SA_DIR], automountServiceAccountToken=False)

    assert "No such file or directory" in said


def test_every_namespace_has_a_default_service_account(lab, lab_ns):
    code, sa = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/serviceaccounts/default")

    assert (code, sa["kind"], sa["metadata"]["namespace"]) == (200, "ServiceAccount", lab_ns)


def test_a_deleted_default_service_account_is_made_again(lab, lab_ns):
    path = f"/api/v1/namespaces/{lab_ns}/serviceaccounts/default"
    old = lab.request("GET", path)[1]["metadata"]["uid"]
    lab.request("DELETE", path)

    deadline = time.monotonic() + 10
    while (code := lab.request("GET", path)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (code, lab.request("GET", path)[1]["metadata"]["uid"] != old) == (200, True)


def test_a_pod_of_a_missing_service_account_is_refused(lab, lab_ns):
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                             pod("orphan", serviceAccountName="ghost"))

    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (f'pods "orphan" is forbidden: error looking up service account '
                               f'{lab_ns}/ghost: serviceaccount "ghost" not found')


def test_the_pod_spec_shows_the_token_volume_and_its_mounts(lab, lab_ns):
    manifest = pod("shown")
    manifest["spec"]["initContainers"] = [{"name": "init", "image": "busybox:1.36",
                                           "command": ["true"]}]
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", manifest)

    assert code == 201, body
    (volume,) = body["spec"]["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    assert [list(s) for s in volume["projected"]["sources"]] == [
        ["serviceAccountToken"], ["configMap"], ["downwardAPI"]]
    mount = {"name": volume["name"], "readOnly": True, "mountPath": SA_DIR}
    containers = body["spec"]["initContainers"] + body["spec"]["containers"]
    assert [c["volumeMounts"] for c in containers] == [[mount], [mount]]
    assert body["spec"]["serviceAccountName"] == body["spec"]["serviceAccount"] == "default"


def test_an_ephemeral_container_gets_no_token(lab, lab_ns):
    lab.create_pod(lab_ns, pod("target"))
    debugger = {"name": "debugger", "image": "busybox:1.36", "command": ["sleep", "300"]}
    lab.request("PATCH", f"/api/v1/namespaces/{lab_ns}/pods/target/ephemeralcontainers",
                {"spec": {"ephemeralContainers": [debugger]}},
                content_type="application/strategic-merge-patch+json")
    lab.wait_for_pod(lab_ns, "target", lambda p: any(
        "running" in s["state"] for s in p["status"].get("ephemeralContainerStatuses", [])))

    done = ws_exec(lab, lab_ns, "target", ["ls", SA_DIR], container="debugger")

    assert b"No such file or directory" in done.channel(2)


def test_a_token_no_longer_authenticates_once_its_service_account_is_gone(lab, lab_ns):
    _account(lab, lab_ns, "short-lived")
    token = _run(lab, lab_ns, "holder", ["cat", f"{SA_DIR}/token"],
                 serviceAccountName="short-lived")
    assert lab.request("GET", "/api", token=token)[0] == 200

    lab.request("DELETE", f"/api/v1/namespaces/{lab_ns}/serviceaccounts/short-lived")

    assert lab.request("GET", "/api", token=token)[0] == 401


def test_an_account_that_opts_out_gives_its_pods_no_token(lab, lab_ns):
    _account(lab, lab_ns, "quiet", automountServiceAccountToken=False)
    said = _run(lab, lab_ns, "bare", ["ls", SA_DIR], serviceAccountName="quiet")

    assert "No such file or directory" in said


def test_the_pod_s_choice_wins_over_its_account_s(lab, lab_ns):
    _account(lab, lab_ns, "quiet", automountServiceAccountToken=False)
    said = _run(lab, lab_ns, "mounted", ["ls", SA_DIR], serviceAccountName="quiet",
                automountServiceAccountToken=True)

    assert said.split() == ["ca.crt", "namespace", "token"]


def test_a_pod_takes_its_account_s_image_pull_secrets(lab, lab_ns):
    _account(lab, lab_ns, "puller", imagePullSecrets=[{"name": "registry"}])
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods",
                             pod("pulled", serviceAccountName="puller"))

    assert (code, body["spec"].get("imagePullSecrets")) == (201, [{"name": "registry"}])
