"""The pods/ephemeralcontainers subresource: append-only, patched like kubectl debug does."""

from __future__ import annotations

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures

SMP = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
DEBUGGER = {
    "name": "debugger-abc",
    "image": "nicolaka/netshoot",
    "command": ["sleep", "300"],
    "resources": {},
    "terminationMessagePolicy": "File",
    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
}


def _sub(ns: str, name: str = "web") -> str:
    return f"/api/v1/namespaces/{ns}/pods/{name}/ephemeralcontainers"


def _state(p: dict, name: str) -> dict:
    for cs in p["status"].get("ephemeralContainerStatuses", []):
        if cs["name"] == name:
            return cs["state"]
    return {}


def _add(lab, ns: str, container: dict = DEBUGGER) -> tuple[int, dict]:
    return lab.request(
        "PATCH", _sub(ns), {"spec": {"ephemeralContainers": [container]}}, content_type=SMP
    )


def test_strategic_merge_patch_adds_an_ephemeral_container_that_runs(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, _ = _add(lab, lab_ns)
    running = lab.wait_for_pod(lab_ns, "web", lambda p: "running" in _state(p, "debugger-abc"))
    assert code == 200
    assert running["spec"]["ephemeralContainers"][0]["name"] == "debugger-abc"


def test_a_second_strategic_merge_patch_keeps_the_first_container(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _add(lab, lab_ns)
    _, body = _add(lab, lab_ns, {**DEBUGGER, "name": "debugger-def"})
    names = [c["name"] for c in body["spec"]["ephemeralContainers"]]
    assert names == ["debugger-abc", "debugger-def"]


def test_json_patch_adds_an_ephemeral_container(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    ops = [{"op": "add", "path": "/spec/ephemeralContainers", "value": [DEBUGGER]}]
    code, body = lab.request("PATCH", _sub(lab_ns), ops, content_type=JSON_PATCH)
    assert (code, body["spec"]["ephemeralContainers"][0]["name"]) == (200, "debugger-abc")


def test_the_server_defaults_an_added_ephemeral_container(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _, body = _add(lab, lab_ns)
    added = body["spec"]["ephemeralContainers"][0]
    assert (added["imagePullPolicy"], added["terminationMessagePath"]) == (
        "Always",
        "/dev/termination-log",
    )


def test_changing_an_ephemeral_container_is_invalid(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _add(lab, lab_ns)
    code, body = _add(lab, lab_ns, {"name": "debugger-abc", "image": "busybox"})
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith(
        'Pod "web" is invalid: spec.ephemeralContainers: '
        'Forbidden: existing ephemeral containers "debugger-abc" '
        "may not be changed"
    )


def test_removing_an_ephemeral_container_is_invalid(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _add(lab, lab_ns)
    ops = [{"op": "remove", "path": "/spec/ephemeralContainers/0"}]
    code, body = lab.request("PATCH", _sub(lab_ns), ops, content_type=JSON_PATCH)
    assert (code, body["details"]["causes"][0]["message"]) == (
        422,
        'Forbidden: existing ephemeral containers "debugger-abc" may not be removed\n',
    )


def test_ephemeral_containers_cannot_be_set_through_the_pod_itself(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, body = lab.request(
        "PATCH",
        f"/api/v1/namespaces/{lab_ns}/pods/web",
        {"spec": {"ephemeralContainers": [DEBUGGER]}},
        content_type=SMP,
    )
    assert (code, body["reason"]) == (422, "Invalid")


def test_other_spec_changes_sent_to_the_subresource_are_dropped(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    body = {"spec": {"activeDeadlineSeconds": 5, "ephemeralContainers": [DEBUGGER]}}
    _, out = lab.request("PATCH", _sub(lab_ns), body, content_type=SMP)
    assert "activeDeadlineSeconds" not in out["spec"]


def test_ephemeral_container_with_ports_is_invalid(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, body = _add(lab, lab_ns, {**DEBUGGER, "ports": [{"containerPort": 80}]})
    assert (code, body["details"]["causes"][0]["field"]) == (
        422,
        "spec.ephemeralContainers[0].ports",
    )


def test_ephemeral_status_goes_from_waiting_to_running_to_terminated(lab, lab_ns):
    running = lab.create_pod(lab_ns, pod("web"))
    rv = running["metadata"]["resourceVersion"]
    _add(lab, lab_ns, {**DEBUGGER, "command": ["sleep", "1"]})
    seen: list[str] = []
    path = f"/api/v1/namespaces/{lab_ns}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=60"
    for event in lab.watch(path):
        state = next(iter(_state(event["object"], "debugger-abc")), None)
        if state and state not in seen:
            seen.append(state)
        if state == "terminated":
            break
    assert seen == ["waiting", "running", "terminated"]


def test_ephemeral_container_from_an_unreachable_registry_backs_off(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _add(lab, lab_ns, {**DEBUGGER, "image": "registry.invalid/tools:1"})
    waiting = lab.wait_for_pod(
        lab_ns,
        "web",
        lambda p: _state(p, "debugger-abc").get("waiting", {}).get("reason") == "ImagePullBackOff",
    )
    assert _state(waiting, "debugger-abc")["waiting"]["message"] == (
        'Back-off pulling image "registry.invalid/tools:1"'
    )


def test_patching_the_subresource_of_a_missing_pod_is_not_found_with_a_name(lab, lab_ns):
    code, body = _add(lab, lab_ns)
    assert (code, body["details"]) == (404, {"name": "web", "kind": "pods"})
