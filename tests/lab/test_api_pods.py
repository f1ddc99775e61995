"""Pods, nodes, namespaces and services through the API: what a kubelet-backed server returns."""

from __future__ import annotations

import ipaddress
import re

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures


def _pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def test_nodes_publish_internal_ip_and_pod_cidr(lab):
    _, body = lab.request("GET", "/api/v1/nodes")
    node = body["items"][0]
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "172.31.0.11"}
    assert node["spec"]["podCIDR"] == "10.244.1.0/24"


def test_running_pod_gets_an_ip_from_its_node_cidr(lab, lab_ns):
    running = lab.create_pod(lab_ns, pod("web"))
    _, node = lab.request("GET", f"/api/v1/nodes/{running['spec']['nodeName']}")
    cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
    assert ipaddress.ip_address(running["status"]["podIP"]) in cidr
    assert running["status"]["podIPs"] == [{"ip": running["status"]["podIP"]}]


def test_running_pod_status_is_shaped_like_a_kubelet_status(lab, lab_ns):
    status = lab.create_pod(lab_ns, pod("web"))["status"]
    app = status["containerStatuses"][0]
    assert status["hostIP"].startswith("172.31.0.") and status["startTime"]
    assert (app["name"], app["ready"], app["restartCount"]) == ("app", True, 0)
    assert "running" in app["state"] and app["containerID"].startswith("containerd://")
    assert app["image"] == "docker.io/library/busybox:1.36"


def test_api_server_fills_in_defaults_on_create(lab, lab_ns):
    _, body = lab.request("POST", _pods(lab_ns), pod("web"))
    spec = body["spec"]
    assert (
        spec["restartPolicy"],
        spec["dnsPolicy"],
        spec["terminationGracePeriodSeconds"],
        spec["containers"][0]["imagePullPolicy"],
    ) == ("Always", "ClusterFirst", 30, "IfNotPresent")


def test_get_of_a_missing_pod_is_not_found_with_details(lab, lab_ns):
    code, body = lab.request("GET", f"{_pods(lab_ns)}/nope")
    assert code == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


def test_creating_a_pod_twice_is_already_exists(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web"))
    code, body = lab.request("POST", _pods(lab_ns), pod("web"))
    assert (code, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'pods "web" already exists',
    )


def test_strict_field_validation_rejects_an_unknown_field(lab, lab_ns):
    manifest = pod("web")
    manifest["spec"]["containers"][0]["imagePullPolice"] = "Always"
    code, body = lab.request("POST", f"{_pods(lab_ns)}?fieldValidation=Strict", manifest)
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding '
        'error: unknown field "spec.containers[0].imagePullPolice"'
    )


def test_a_container_without_image_is_invalid_with_a_field_cause(lab, lab_ns):
    manifest = pod("web")
    del manifest["spec"]["containers"][0]["image"]
    code, body = lab.request("POST", _pods(lab_ns), manifest)
    assert (code, body["message"]) == (
        422,
        'Pod "web" is invalid: spec.containers[0].image: Required value',
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers[0].image",
        }
    ]


def test_a_pod_in_a_missing_namespace_is_not_found(lab):
    code, body = lab.request("POST", _pods("no-such-ns"), pod("web"))
    assert (code, body["message"]) == (404, 'namespaces "no-such-ns" not found')


def test_generate_name_gets_a_random_suffix(lab, lab_ns):
    manifest = pod("")
    manifest["metadata"] = {"generateName": "job-"}
    _, body = lab.request("POST", _pods(lab_ns), manifest)
    assert body["metadata"]["name"].startswith("job-") and len(body["metadata"]["name"]) == 9


def test_label_selector_filters_a_list(lab, lab_ns):
    for name, tier in (("a", "front"), ("b", "back")):
        manifest = pod(name)
        manifest["metadata"]["labels"] = {"tier": tier}
        lab.request("POST", _pods(lab_ns), manifest)
    _, body = lab.request("GET", f"{_pods(lab_ns)}?labelSelector=tier%20in%20(back)")
    assert [p["metadata"]["name"] for p in body["items"]] == ["b"]


def test_field_selector_on_node_name_filters_a_list(lab, lab_ns):
    first = lab.create_pod(lab_ns, pod("a"))
    lab.create_pod(lab_ns, pod("b"))
    node = first["spec"]["nodeName"]
    _, body = lab.request("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}")
    assert {p["spec"]["nodeName"] for p in body["items"]} == {node}


def test_an_unsupported_field_selector_is_bad_request(lab):
    code, body = lab.request("GET", "/api/v1/pods?fieldSelector=spec.image%3Dx")
    assert (code, body["message"]) == (400, "field label not supported: spec.image")


def test_list_paginates_with_limit_and_continue(lab, lab_ns):
    for name in ("a", "b", "c"):
        lab.request("POST", _pods(lab_ns), pod(name))
    _, first = lab.request("GET", f"{_pods(lab_ns)}?limit=2")
    _, rest = lab.request(
        "GET", f"{_pods(lab_ns)}?limit=2&continue={first['metadata']['continue']}"
    )
    names = [p["metadata"]["name"] for p in first["items"] + rest["items"]]
    assert (names, first["metadata"]["remainingItemCount"]) == (["a", "b", "c"], 1)


def test_changing_a_pod_command_is_forbidden(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web"))
    code, body = lab.request(
        "PATCH",
        f"{_pods(lab_ns)}/web",
        {"spec": {"containers": [{"name": "app", "command": ["true"]}]}},
        content_type="application/strategic-merge-patch+json",
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may '
        "not change fields other than `spec.containers[*].image`"
    )


def test_stale_resource_version_on_update_is_a_conflict(lab, lab_ns):
    _, created = lab.request("POST", _pods(lab_ns), pod("web"))
    lab.request(
        "PATCH",
        f"{_pods(lab_ns)}/web",
        {"metadata": {"labels": {"a": "b"}}},
        content_type="application/merge-patch+json",
    )
    code, body = lab.request("PUT", f"{_pods(lab_ns)}/web", created)
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on pods "web": the object has been '
        "modified; please apply your changes to the latest version and "
        "try again"
    )


def test_delete_with_a_grace_period_marks_the_pod_first(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, body = lab.request("DELETE", f"{_pods(lab_ns)}/web", {"gracePeriodSeconds": 20})
    assert (code, body["metadata"]["deletionGracePeriodSeconds"]) == (200, 20)
    assert body["metadata"]["deletionTimestamp"]


def test_a_deleted_pod_is_gone_once_its_processes_stopped(lab, lab_ns):
    running = lab.create_pod(lab_ns, pod("web"))
    rv = running["metadata"]["resourceVersion"]
    lab.request("DELETE", f"{_pods(lab_ns)}/web")
    events = lab.watch(f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&timeoutSeconds=60")
    assert any(e["type"] == "DELETED" for e in events)
    assert lab.request("GET", f"{_pods(lab_ns)}/web")[0] == 404


def test_active_deadline_fails_the_pod_with_deadline_exceeded(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web", activeDeadlineSeconds=1))
    failed = lab.wait_for_pod(lab_ns, "web", lambda p: p["status"].get("phase") == "Failed")
    assert (failed["status"]["reason"], failed["status"]["message"]) == (
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )


def test_unreachable_registry_ends_in_image_pull_backoff(lab, lab_ns):
    _, created = lab.request("POST", _pods(lab_ns), pod("web", image="registry.invalid/web:1"))
    rv = created["metadata"]["resourceVersion"]
    reasons = []
    for event in lab.watch(f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&timeoutSeconds=60"):
        for cs in event["object"]["status"].get("containerStatuses", []):
            reason = cs["state"].get("waiting", {}).get("reason")
            if reason and reason not in reasons:
                reasons.append(reason)
        if "ImagePullBackOff" in reasons:
            break
    assert reasons == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff"]


def test_a_container_that_exits_zero_with_restart_never_succeeds(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("job", ["true"], restartPolicy="Never"))
    done = lab.wait_for_pod(
        lab_ns, "job", lambda p: p["status"].get("phase") in ("Succeeded", "Failed")
    )
    term = done["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (done["status"]["phase"], term["exitCode"], term["reason"]) == (
        "Succeeded",
        0,
        "Completed",
    )


def test_a_missing_executable_is_a_start_error_with_exit_code_128(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("job", ["no-such-binary"], restartPolicy="Never"))
    done = lab.wait_for_pod(lab_ns, "job", lambda p: p["status"].get("phase") == "Failed")
    term = done["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert 'exec: "no-such-binary": executable file not found in $PATH' in term["message"]


def test_log_returns_what_the_container_wrote(lab, lab_ns):
    lab.request(
        "POST",
        _pods(lab_ns),
        pod("job", ["sh", "-c", "echo one; echo two >&2"], restartPolicy="Never"),
    )
    lab.wait_for_pod(lab_ns, "job", lambda p: p["status"].get("phase") == "Succeeded")
    code, text = lab.request("GET", f"{_pods(lab_ns)}/job/log")
    assert (code, sorted(text.splitlines())) == (200, ["one", "two"])


def test_log_of_a_container_waiting_to_start_is_bad_request(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web", image="registry.invalid/web:1"))
    lab.wait_for_pod(lab_ns, "web", lambda p: "containerStatuses" in p["status"])
    code, body = lab.request("GET", f"{_pods(lab_ns)}/web/log")
    assert code == 400
    assert body["message"].startswith('container "app" in pod "web" is waiting to start: ')


def test_a_service_gets_a_cluster_ip_from_the_service_range(lab, lab_ns):
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    code, body = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/services", svc)
    assert code == 201
    assert ipaddress.ip_address(body["spec"]["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert body["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}


def test_init_containers_run_in_order_before_the_containers(lab, lab_ns):
    manifest = pod("web", ["sleep", "3600"])
    manifest["spec"]["initContainers"] = [
        {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo 1"]},
        {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo 2"]},
    ]
    running = lab.create_pod(lab_ns, manifest)
    inits = running["status"]["initContainerStatuses"]
    finished = [s["state"]["terminated"]["finishedAt"] for s in inits]
    started = running["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert [s["state"]["terminated"]["exitCode"] for s in inits] == [0, 0]
    assert finished == sorted(finished) and finished[-1] <= started


def test_a_failing_init_container_with_restart_never_fails_the_pod(lab, lab_ns):
    manifest = pod("web", restartPolicy="Never")
    manifest["spec"]["initContainers"] = [
        {"name": "init", "image": "busybox", "command": ["sh", "-c", "exit 2"]}
    ]
    lab.request("POST", _pods(lab_ns), manifest)
    failed = lab.wait_for_pod(lab_ns, "web", lambda p: p["status"].get("phase") == "Failed")
    assert failed["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert "running" not in failed["status"]["containerStatuses"][0]["state"]


def test_a_host_network_pod_has_its_node_ip(lab, lab_ns):
    running = lab.create_pod(lab_ns, pod("web", hostNetwork=True))
    assert running["status"]["podIP"] == running["status"]["hostIP"]


def test_args_without_a_command_replace_the_image_cmd(lab, lab_ns):
    manifest = pod("job", restartPolicy="Never")
    manifest["spec"]["containers"][0] = {
        "name": "app",
        "image": "busybox",
        "args": ["sh", "-c", "echo from-args"],
    }
    lab.request("POST", _pods(lab_ns), manifest)
    lab.wait_for_pod(lab_ns, "job", lambda p: p["status"].get("phase") == "Succeeded")
    assert lab.request("GET", f"{_pods(lab_ns)}/job/log")[1] == "from-args\n"


def test_delete_collection_removes_only_the_selected_pods(lab, lab_ns):
    for name, tier in (("a", "front"), ("b", "back")):
        manifest = pod(name)
        manifest["metadata"]["labels"] = {"tier": tier}
        lab.request("POST", _pods(lab_ns), manifest)
    code, body = lab.request("DELETE", f"{_pods(lab_ns)}?labelSelector=tier%3Dfront")
    assert (code, [p["metadata"]["name"] for p in body["items"]]) == (200, ["a"])


def test_a_crashed_container_restarts_and_its_previous_log_is_kept_apart(lab, lab_ns):
    counter = "/tmp/state/runs"  # on an emptyDir volume: kept across restarts, unlike /tmp
    script = (
        f"n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; "
        "echo run-$n; [ $n -gt 1 ] && exec sleep 3600; exit 1"
    )
    manifest = _with_empty_dir(pod("web", ["sh", "-c", script]), "/tmp/state")
    lab.request("POST", _pods(lab_ns), manifest)
    lab.wait_for_pod(
        lab_ns,
        "web",
        lambda p: any(
            cs["restartCount"] == 1 and "running" in cs["state"]
            for cs in p["status"].get("containerStatuses", [])
        ),
    )
    previous = lab.request("GET", f"{_pods(lab_ns)}/web/log?previous=true")[1]
    assert (previous, _first_line_followed(lab, f"{_pods(lab_ns)}/web/log?follow=true")) == (
        "run-1\n",
        b"run-2\n",
    )


def _with_empty_dir(manifest: dict, path: str) -> dict:
    """The pod with an emptyDir volume mounted at path in its container."""
    manifest["spec"]["volumes"] = [{"name": "state", "emptyDir": {}}]
    manifest["spec"]["containers"][0]["volumeMounts"] = [{"name": "state", "mountPath": path}]
    return manifest


def _first_line_followed(lab, path: str) -> bytes:
    """The first line of a followed log (the request itself stays open while the container runs)."""
    conn = lab.connect()
    conn.request("GET", path, headers={"Authorization": f"Bearer {lab.admin_token}"})
    try:
        return conn.getresponse().readline()
    finally:
        conn.close()


def test_previous_log_of_a_container_that_never_restarted_is_bad_request(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    code, body = lab.request("GET", f"{_pods(lab_ns)}/web/log?previous=true")
    assert (code, body["message"]) == (
        400,
        'previous terminated container "app" in pod "web" not found',
    )


def test_deleting_a_namespace_deletes_its_pods_then_itself(lab):
    lab.request("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    lab.create_pod("doomed", pod("web"))
    _, marked = lab.request("DELETE", "/api/v1/namespaces/doomed")
    events = lab.watch(
        "/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3Ddoomed"
        f"&resourceVersion={marked['metadata']['resourceVersion']}"
        "&timeoutSeconds=60"
    )
    assert marked["status"]["phase"] == "Terminating"
    assert any(e["type"] == "DELETED" for e in events)
    assert lab.request("GET", "/api/v1/namespaces/doomed/pods/web")[0] == 404


def test_creating_in_a_terminating_namespace_is_forbidden(lab):
    lab.request("POST", "/api/v1/namespaces", {"metadata": {"name": "closing"}})
    stubborn = ["sh", "-c", "trap '' TERM; exec sleep 3600"]  # outlives SIGTERM: grace runs
    lab.create_pod("closing", pod("web", stubborn, terminationGracePeriodSeconds=30))
    lab.request("DELETE", "/api/v1/namespaces/closing")
    code, body = lab.request("POST", "/api/v1/namespaces/closing/pods", pod("late"))
    assert (code, body["message"]) == (
        403,
        'pods "late" is forbidden: unable to create new content in namespace closing '
        "because it is being terminated",
    )


def test_a_pod_ignoring_sigterm_is_killed_when_its_grace_period_ends(lab, lab_ns):
    stubborn = ["sh", "-c", "trap '' TERM; exec sleep 3600"]
    running = lab.create_pod(lab_ns, pod("web", stubborn))
    lab.request("DELETE", f"{_pods(lab_ns)}/web", {"gracePeriodSeconds": 1})
    rv = running["metadata"]["resourceVersion"]
    events = lab.watch(f"{_pods(lab_ns)}?watch=true&resourceVersion={rv}&timeoutSeconds=60")
    assert any(e["type"] == "DELETED" for e in events)


def test_the_kubelet_records_events_for_a_started_pod(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    _, body = lab.request(
        "GET", f"/api/v1/namespaces/{lab_ns}/events?fieldSelector=involvedObject.name%3Dweb"
    )
    reasons = [e["reason"] for e in body["items"]]
    assert reasons == ["Scheduled", "Pulled", "Created", "Started"]
    assert body["items"][-1]["involvedObject"]["fieldPath"] == "spec.containers{app}"


def test_an_image_from_the_slow_registry_is_pulled_while_the_container_waits(lab, lab_ns):
    image = f"slow.registry.test/tools:{lab_ns}"  # a tag no node holds yet
    lab.request("POST", _pods(lab_ns), pod("web", image=image))
    _wait_for_event(lab, lab_ns, "Pulling")
    _, pulling = lab.request("GET", f"{_pods(lab_ns)}/web")
    lab.wait_for_pod(lab_ns, "web", lambda p: p["status"].get("phase") == "Running")
    _, body = lab.request(
        "GET", f"/api/v1/namespaces/{lab_ns}/events?fieldSelector=involvedObject.name%3Dweb"
    )
    assert pulling["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert [e["reason"] for e in body["items"]] == [
        "Scheduled", "Pulling", "Pulled", "Created", "Started"
    ]
    assert re.fullmatch(
        rf'Successfully pulled image "{image}" in 3(\.\d+)?s \(3(\.\d+)?s including waiting\)\. '
        r"Image size: 0 bytes\.",
        body["items"][2]["message"],
    )


def test_a_node_pulls_an_image_once(lab, lab_ns):
    image = f"slow.registry.test/tools:{lab_ns}"
    node = {"nodeName": "node-1"}
    lab.create_pod(lab_ns, pod("first", image=image, **node))
    lab.create_pod(lab_ns, pod("second", image=image, **node))
    _, body = lab.request(
        "GET", f"/api/v1/namespaces/{lab_ns}/events?fieldSelector=involvedObject.name%3Dsecond"
    )
    assert f'Container image "{image}" already present on machine' in [
        e["message"] for e in body["items"] if e["reason"] == "Pulled"
    ]


def _wait_for_event(lab, ns: str, reason: str) -> None:
    path = f"/api/v1/namespaces/{ns}/events?watch=true&fieldSelector=reason%3D{reason}"
    assert any(e["type"] == "ADDED" for e in lab.watch(path + "&timeoutSeconds=60"))


def test_an_unreachable_image_is_reported_in_warning_events(lab, lab_ns):
    lab.request("POST", _pods(lab_ns), pod("web", image="registry.invalid/web:1"))
    lab.wait_for_pod(
        lab_ns,
        "web",
        lambda p: any(
            cs["state"].get("waiting", {}).get("reason") == "ImagePullBackOff"
            for cs in p["status"].get("containerStatuses", [])
        ),
    )
    _, body = lab.request("GET", f"/api/v1/namespaces/{lab_ns}/events?fieldSelector=type%3DWarning")
    assert [e["message"] for e in body["items"]][-2:] == [
        "Error: ErrImagePull",
        "Error: ImagePullBackOff",
    ]
