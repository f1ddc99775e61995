"""Discovery, OpenAPI and authentication, as clients see them before any resource request."""

from __future__ import annotations

from tests.lab import fixtures

lab = fixtures.lab  # the lab's fixture


def test_version_reports_a_1_32_server(lab):
    code, body = lab.request("GET", "/version")
    assert (code, body["major"], body["minor"]) == (200, "1", "32")


def test_api_lists_v1_and_the_server_address(lab):
    _, body = lab.request("GET", "/api")
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    assert body["serverAddressByClientCIDRs"][0]["serverAddress"] == f"127.0.0.1:{lab.port}"


def test_core_v1_lists_the_pod_subresources_the_product_uses(lab):
    _, body = lab.request("GET", "/api/v1")
    names = {r["name"] for r in body["resources"]}
    assert {
        "pods",
        "pods/exec",
        "pods/ephemeralcontainers",
        "pods/log",
        "nodes",
        "namespaces",
        "services",
    } <= names


def test_apis_lists_the_apps_and_authorization_groups(lab):
    _, body = lab.request("GET", "/apis")
    assert [g["name"] for g in body["groups"]] == ["apps", "authorization.k8s.io"]


def test_openapi_v3_root_leads_to_a_pod_schema_with_its_group_version_kind(lab):
    _, root = lab.request("GET", "/openapi/v3")
    _, doc = lab.request("GET", root["paths"]["api/v1"]["serverRelativeURL"])
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]


def test_openapi_v3_pod_create_takes_field_validation(lab):
    _, doc = lab.request("GET", "/openapi/v3/api/v1")
    post = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"]
    assert "fieldValidation" in [p["name"] for p in post["parameters"]]


def test_unknown_resource_is_a_not_found_status(lab):
    code, body = lab.request("GET", "/api/v1/namespaces/default/widgets")
    assert (code, body["reason"], body["message"]) == (
        404,
        "NotFound",
        "the server could not find the requested resource",
    )


def test_unknown_token_is_unauthorized(lab):
    code, body = lab.request("GET", "/api/v1/pods", token="not-a-token")
    assert (code, body["kind"], body["reason"], body["message"]) == (
        401,
        "Status",
        "Unauthorized",
        "Unauthorized",
    )


def test_anonymous_may_read_the_version(lab):
    code, _ = lab.request("GET", "/version", token="")
    assert code == 200


def test_anonymous_may_not_read_the_api(lab):
    code, body = lab.request("GET", "/api", token="")
    assert (code, body["message"]) == (
        403,
        'forbidden: User "system:anonymous" cannot get path "/api"',
    )


def test_anonymous_may_not_list_pods(lab):
    code, body = lab.request("GET", "/api/v1/pods", token="")
    assert (code, body["message"]) == (
        403,
        'pods is forbidden: User "system:anonymous" cannot '
        'list resource "pods" in API group "" at the '
        "cluster scope",
    )


def test_a_chunked_request_body_is_read(lab):
    conn = lab.connect()
    conn.putrequest("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    conn.putheader("Authorization", f"Bearer {lab.admin_token}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    body = b'{"spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}}'
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    resp = conn.getresponse()
    assert (resp.status, b'"allowed": true' in resp.read()) == (201, True)


def test_openapi_v3_root_leads_to_the_apps_v1_deployment_schema(lab):
    _, root = lab.request("GET", "/openapi/v3")
    _, doc = lab.request("GET", root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    deployment = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "version": "v1", "kind": "Deployment"}]
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


def test_apps_v1_lists_the_scale_subresources_as_autoscaling_v1_scale(lab):
    _, body = lab.request("GET", "/apis/apps/v1")
    scales = {r["name"]: (r["group"], r["version"], r["kind"])
              for r in body["resources"] if r["name"].endswith("/scale")}
    assert scales == {f"{r}/scale": ("autoscaling", "v1", "Scale")
                      for r in ("deployments", "replicasets", "statefulsets")}
