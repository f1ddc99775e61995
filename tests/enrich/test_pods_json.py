"""load_pods_json: a PodMap from `kubectl get pods -A -o json` (or one Pod)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from kubectl_netmon.enrich.podmap import PodInfo
from kubectl_netmon.enrich.pods_json import load_pods_json
from kubectl_netmon.errors import UsageError

NODE_IP = "172.31.11.115"


def ns_at(text: str) -> int:
    t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 1_000_000_000


def pod(name: str, ip: str, phase: str = "Running", ns: str = "default", start: str = "",
        finished: str = "", deleted: str = "", host_network: bool = False) -> dict:
    """A Pod object shaped as the API returns it (only the fields enrichment reads, plus noise)."""
    obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": "u-" + name,
                     "ownerReferences": [{"kind": "ReplicaSet", "name": name[:-6]}]},
        "spec": {"nodeName": "node2", "containers": [{"name": "c", "image": "img"}]},
        "status": {"phase": phase, "hostIP": NODE_IP, "podIP": ip, "podIPs": [{"ip": ip}]},
    }
    if host_network:
        obj["spec"]["hostNetwork"] = True
    if start:
        obj["status"]["startTime"] = start
    if finished:
        obj["status"]["containerStatuses"] = [
            {"name": "c", "state": {"terminated": {"exitCode": 0, "finishedAt": finished}}}]
    if deleted:
        obj["metadata"]["deletionTimestamp"] = deleted
    return obj


def write(tmp_path, doc) -> str:
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def pod_list(*items) -> dict:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": list(items)}


def test_a_pod_list_maps_each_pod_ip_to_namespace_name_node_and_node_ip(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("websvr2-58d56cf5-2whrf", "10.244.1.23", start="2022-03-08T10:00:00Z"),
        pod("ldap-784466db5f-rv25w", "10.244.1.24"))))
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T18:54:18Z")) == PodInfo(
        "default", "websvr2-58d56cf5-2whrf", "node2", NODE_IP)
    assert pods.lookup("10.244.1.24", 0).name == "ldap-784466db5f-rv25w"


def test_a_single_pod_document_is_accepted(tmp_path):
    pods = load_pods_json(write(tmp_path, pod("web-abcdef", "10.244.1.23")))
    assert pods.lookup("10.244.1.23", 0).name == "web-abcdef"


def test_a_running_pod_holds_its_ip_before_its_start_time_too(tmp_path):
    # A snapshot has no history: the capture may be older than the pod's last restart.
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("web-abcdef", "10.244.1.23", start="2022-03-08T10:00:00Z"))))
    assert pods.lookup("10.244.1.23", ns_at("2021-12-13T18:00:00Z")).name == "web-abcdef"


def test_a_reused_ip_resolves_to_the_finished_pod_during_its_lifetime(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("web-abcdef", "10.244.1.23", start="2022-03-08T12:00:00Z"),
        pod("job-abcdef", "10.244.1.23", phase="Succeeded", start="2022-03-08T10:00:00Z",
            finished="2022-03-08T11:00:00Z"))))
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T10:30:00Z")).name == "job-abcdef"
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T11:30:00Z")).name == "web-abcdef"
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T12:30:00Z")).name == "web-abcdef"


def test_a_finished_pod_without_an_end_time_holds_its_ip_until_the_next_pod_started(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("job-abcdef", "10.244.1.23", phase="Failed", start="2022-03-08T10:00:00Z"),
        pod("web-abcdef", "10.244.1.23", start="2022-03-08T12:00:00Z"))))
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T11:59:00Z")).name == "job-abcdef"
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T12:00:00Z")).name == "web-abcdef"


def test_a_terminating_pod_holds_its_ip_until_its_deletion_time(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("web-abcdef", "10.244.1.23", deleted="2022-03-08T12:00:00Z"))))
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T11:00:00Z")).name == "web-abcdef"
    assert pods.lookup("10.244.1.23", ns_at("2022-03-08T13:00:00Z")) is None


def test_a_host_network_pod_address_names_the_node_not_the_pod(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(
        pod("kube-proxy-abcde", NODE_IP, ns="kube-system", host_network=True))))
    assert pods.lookup(NODE_IP, 0) == PodInfo("", "node2", "node2", NODE_IP, kind="node")


def test_every_pod_also_makes_its_node_address_known(tmp_path):
    pods = load_pods_json(write(tmp_path, pod_list(pod("web-abcdef", "10.244.1.23"))))
    assert pods.lookup(NODE_IP, 0).name == "node2"


def test_dual_stack_pods_are_found_by_either_address(tmp_path):
    doc = pod("web-abcdef", "10.244.1.23")
    doc["status"]["podIPs"].append({"ip": "fd00:10:244:1::17"})
    pods = load_pods_json(write(tmp_path, doc))
    assert pods.lookup("fd00:10:244:1::17", 0).name == "web-abcdef"


def test_a_pending_pod_without_an_ip_is_skipped(tmp_path):
    doc = pod("web-abcdef", "")
    del doc["status"]["podIPs"]
    assert len(load_pods_json(write(tmp_path, pod_list(doc)))) == 1  # only its node


def test_services_in_the_list_name_their_cluster_ips(tmp_path):
    svc = {"kind": "Service", "metadata": {"name": "ldap", "namespace": "default"},
           "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"]}}
    pods = load_pods_json(write(tmp_path, pod_list(svc)))
    assert pods.lookup("10.96.0.20", 0) == PodInfo("default", "ldap", kind="service")


def test_a_missing_file_is_a_usage_error_naming_it(tmp_path):
    with pytest.raises(UsageError, match=r"--pods-json .*nope\.json: cannot read"):
        load_pods_json(str(tmp_path / "nope.json"))


def test_a_file_that_is_not_json_is_a_one_line_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not JSON") as caught:
        load_pods_json(write(tmp_path, "NAME  READY  STATUS\nweb  1/1  Running\n"))
    assert "\n" not in str(caught.value)


def test_json_that_is_not_pods_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not a Pod or a List"):
        load_pods_json(write(tmp_path, {"kind": "ConfigMap", "data": {}}))


def test_an_api_pod_list_whose_items_carry_no_kind_is_read_as_pods(tmp_path):
    item = pod("web-abcdef", "10.244.1.23")
    del item["kind"], item["apiVersion"]
    pods = load_pods_json(write(tmp_path, {"kind": "PodList", "items": [item]}))
    assert pods.lookup("10.244.1.23", 0).name == "web-abcdef"


def test_nodes_in_the_list_name_their_internal_addresses(tmp_path):
    node = {"kind": "Node", "metadata": {"name": "node3"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.31.0.9"},
                                     {"type": "Hostname", "address": "node3"}]}}
    pods = load_pods_json(write(tmp_path, pod_list(node)))
    assert pods.lookup("172.31.0.9", 0).name == "node3" and len(pods) == 1
