"""Policy: RBAC (a restricted user, rules switched through policy.json), self subject access
reviews, and Pod Security Admission from namespace labels, with the real messages."""

from __future__ import annotations

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures

SMP = "application/strategic-merge-patch+json"
NETADMIN = {
    "name": "debugger-abc",
    "image": "nicolaka/netshoot",
    "command": ["sleep", "60"],
    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
}
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def _enforce(lab, ns: str, level: str) -> None:
    lab.request(
        "PATCH",
        f"/api/v1/namespaces/{ns}",
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": level}}},
        content_type="application/merge-patch+json",
    )


def _add_ephemeral(lab, ns: str, container: dict = NETADMIN, token: str | None = None):
    return lab.request(
        "PATCH",
        f"/api/v1/namespaces/{ns}/pods/web/ephemeralcontainers",
        {"spec": {"ephemeralContainers": [container]}},
        content_type=SMP,
        token=token,
    )


def _review(lab, token: str, **attrs: str) -> dict:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    code, out = lab.request("POST", SSAR, body, token=token)
    assert code == 201, out
    return out["status"]


# RBAC -------------------------------------------------------------------------------------------


def test_restricted_user_cannot_add_an_ephemeral_container(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, body = _add_ephemeral(lab, lab_ns, token=lab.restricted_token)
    assert (code, body["reason"], body["details"]) == (
        403,
        "Forbidden",
        {"name": "web", "kind": "pods"},
    )
    assert body["message"] == (
        'pods "web" is forbidden: User "lab-restricted" cannot patch resource '
        f'"pods/ephemeralcontainers" in API group "" in the namespace "{lab_ns}"'
    )


def test_restricted_user_may_list_pods(lab, lab_ns):
    code, _ = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods", token=lab.restricted_token)
    assert code == 200


def test_rules_written_to_the_policy_file_take_effect(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    grant = [{"verbs": ["patch"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]}]
    with lab.rules("lab-restricted", grant):
        code, _ = _add_ephemeral(lab, lab_ns, token=lab.restricted_token)
    assert code == 200


def test_exec_needs_create_on_pods_exec(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    reads = [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/exec"]}]
    with lab.rules("lab-restricted", reads):
        code, body = lab.request(
            "GET",
            f"/api/v1/namespaces/{lab_ns}/pods/web/exec?command=true&stdout=true",
            token=lab.restricted_token,
        )
    assert (code, body["message"]) == (
        403,
        'pods "web" is forbidden: User "lab-restricted" cannot create resource "pods/exec" '
        f'in API group "" in the namespace "{lab_ns}"',
    )


def test_a_rule_limited_to_one_namespace_does_not_grant_another(lab, lab_ns):
    only_default = [
        {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"], "namespaces": ["default"]}
    ]
    with lab.rules("lab-restricted", only_default):
        code, _ = lab.request(
            "GET", f"/api/v1/namespaces/{lab_ns}/pods", token=lab.restricted_token
        )
    assert code == 403


def test_access_review_allows_what_rbac_allows(lab, lab_ns):
    status = _review(
        lab,
        lab.restricted_token,
        namespace=lab_ns,
        verb="create",
        resource="pods",
        subresource="exec",
    )
    assert status["allowed"] is True


def test_access_review_denies_what_rbac_denies(lab, lab_ns):
    status = _review(
        lab,
        lab.restricted_token,
        namespace=lab_ns,
        verb="patch",
        resource="pods",
        subresource="ephemeralcontainers",
    )
    assert status == {"allowed": False}


def test_access_review_changes_nothing(lab, lab_ns):
    _review(lab, lab.admin_token, namespace=lab_ns, verb="create", resource="pods")
    _, body = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/pods")
    assert body["items"] == []


# Pod Security Admission -------------------------------------------------------------------------


def test_baseline_rejects_an_ephemeral_container_adding_net_raw(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _enforce(lab, lab_ns, "baseline")
    code, body = _add_ephemeral(lab, lab_ns)
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'pods "web" is forbidden: violates PodSecurity "baseline:latest": non-default '
        'capabilities (container "debugger-abc" must not include "NET_ADMIN", "NET_RAW" in '
        "securityContext.capabilities.add)"
    )


def test_baseline_rejects_a_host_network_privileged_pod(lab, lab_ns):
    _enforce(lab, lab_ns, "baseline")
    manifest = pod("node-debugger", hostNetwork=True)
    manifest["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", manifest)
    assert (code, body["message"]) == (
        403,
        'pods "node-debugger" is forbidden: violates PodSecurity "baseline:latest": host '
        'namespaces (hostNetwork=true), privileged (container "app" must not set '
        "securityContext.privileged=true)",
    )


def test_baseline_admits_a_plain_pod(lab, lab_ns):
    _enforce(lab, lab_ns, "baseline")
    code, _ = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
    assert code == 201


def test_restricted_lists_every_restricted_check_a_plain_pod_fails(lab, lab_ns):
    _enforce(lab, lab_ns, "restricted")
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
    assert (code, body["message"]) == (
        403,
        'pods "web" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "app" must set '
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must '
        'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    )


def test_privileged_level_admits_net_admin(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _enforce(lab, lab_ns, "privileged")
    code, _ = _add_ephemeral(lab, lab_ns)
    assert code == 200


def test_access_review_of_a_discovery_path_is_allowed_for_any_user(lab):
    body = {"spec": {"nonResourceAttributes": {"path": "/api/v1", "verb": "get"}}}
    code, out = lab.request("POST", SSAR, body, token=lab.restricted_token)
    assert (code, out["status"]) == (201, {"allowed": True})


def test_access_review_needs_exactly_one_kind_of_attributes(lab):
    code, body = lab.request("POST", SSAR, {"spec": {}}, token=lab.restricted_token)
    assert (code, body["reason"]) == (422, "Invalid")


def test_restricted_names_host_path_as_a_restricted_volume_type(lab, lab_ns):
    _enforce(lab, lab_ns, "restricted")
    manifest = pod("web")
    manifest["spec"]["volumes"] = [{"name": "host-root", "hostPath": {"path": "/"}}]
    _, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", manifest)
    assert 'hostPath volumes (volume "host-root")' in body["message"]
    assert (
        'restricted volume types (volume "host-root" uses restricted volume type "hostPath")'
    ) in body["message"]


def test_baseline_rejects_an_unconfined_seccomp_profile(lab, lab_ns):
    _enforce(lab, lab_ns, "baseline")
    manifest = pod("web")
    manifest["spec"]["securityContext"] = {"seccompProfile": {"type": "Unconfined"}}
    _, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", manifest)
    assert body["message"] == (
        'pods "web" is forbidden: violates PodSecurity "baseline:latest": seccompProfile (pod '
        'must not set securityContext.seccompProfile.type to "Unconfined")'
    )
