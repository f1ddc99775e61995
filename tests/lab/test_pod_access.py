"""What a container gets to reach the API server, as from a kubelet: the `kubernetes` Service's
variables, and its service account's token, CA and namespace in the directory in-cluster
clients read; the token is bound to the pod."""

from __future__ import annotations

import sys

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


def _run(lab, ns: str, name: str, argv: list[str], **spec) -> str:
    """argv as the one container of a sleeping pod; what it printed."""
    lab.create_pod(ns, pod(name, **spec))
    done = ws_exec(lab, ns, name, argv)
    return (done.channel(1) + done.channel(2)).decode()


def test_a_container_reaches_the_api_server_as_its_service_account(lab, lab_ns):
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
