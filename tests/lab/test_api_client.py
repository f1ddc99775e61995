"""The kubernetes Python client, as the product uses it, against the lab unchanged."""

from __future__ import annotations

import pytest

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures

kubernetes = pytest.importorskip("kubernetes")


def _client(lab, context: str = "lab"):
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(lab.kubeconfig), context=context)
    return client.CoreV1Api(api)


def test_client_lists_pods_with_their_ips(lab, lab_ns):
    running = lab.create_pod(lab_ns, pod("web"))
    listed = _client(lab).list_namespaced_pod(lab_ns).items
    assert [(p.metadata.name, p.status.pod_ip) for p in listed] == [
        ("web", running["status"]["podIP"])
    ]


def test_client_raises_api_exception_with_the_status_body(lab, lab_ns):
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as err:
        _client(lab).read_namespaced_pod("nope", lab_ns)
    assert (err.value.status, err.value.reason) == (404, "Not Found")


def test_client_stream_exec_returns_binary_output_and_exit_code(lab, lab_ns):
    from kubernetes.stream import stream

    lab.create_pod(lab_ns, pod("web"))
    api = _client(lab)
    resp = stream(
        api.connect_get_namespaced_pod_exec,
        "web",
        lab_ns,
        command=["sh", "-c", "printf '\\000\\377\\200'; exit 4"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        binary=True,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    assert (resp.read_stdout(), resp.returncode) == (b"\x00\xff\x80", 4)


def test_client_patch_ephemeralcontainers_with_a_dict_is_strategic_merge(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    body = {
        "spec": {
            "ephemeralContainers": [{"name": "dbg", "image": "busybox", "command": ["sleep", "30"]}]
        }
    }
    out = _client(lab).patch_namespaced_pod_ephemeralcontainers("web", lab_ns, body)
    assert [c.name for c in out.spec.ephemeral_containers] == ["dbg"]


def test_client_restricted_context_is_forbidden_to_add_ephemeral_containers(lab, lab_ns):
    from kubernetes.client.rest import ApiException

    lab.create_pod(lab_ns, pod("web"))
    body = {"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}
    with pytest.raises(ApiException) as err:
        _client(lab, "lab-restricted").patch_namespaced_pod_ephemeralcontainers("web", lab_ns, body)
    assert err.value.status == 403


def test_client_watch_streams_pod_events(lab, lab_ns):
    from kubernetes import watch

    _, created = lab.request("POST", f"/api/v1/namespaces/{lab_ns}/pods", pod("web"))
    w = watch.Watch()
    for event in w.stream(
        _client(lab).list_namespaced_pod,
        lab_ns,
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=30,
    ):
        if event["object"].status.phase == "Running":
            w.stop()
    assert event["object"].status.container_statuses[0].ready is True
