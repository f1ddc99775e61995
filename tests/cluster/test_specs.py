"""The pure builders: what netmon would put into a cluster, checked without one."""

from __future__ import annotations

import re

import pytest

from kubectl_netmon.cluster import specs

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("prefix", ["netmon", "netmon-node-1", "netmon-" + "n" * 80])
def test_new_name_is_a_dns_label_of_at_most_63_characters(prefix):
    name = specs.new_name(prefix)
    assert DNS1123_LABEL.match(name) and len(name) <= 63


def test_new_names_differ():
    assert specs.new_name("netmon") != specs.new_name("netmon")


def test_ephemeral_container_adds_only_net_raw_and_net_admin():
    c = specs.ephemeral_container("netmon-abcde", "nicolaka/netshoot:v0.13", 60)
    assert c["securityContext"] == {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}


def test_ephemeral_container_runs_the_self_terminating_heartbeat_loop():
    c = specs.ephemeral_container("netmon-abcde", "img", 45)
    assert c["command"] == ["sh", "-c", specs.LINGER_SCRIPT, "netmon-linger",
                            "/tmp/netmon-abcde.heartbeat", "45"]


def test_ephemeral_container_has_no_fields_ephemeral_containers_forbid():
    c = specs.ephemeral_container("netmon-abcde", "img", 60)
    assert not {"ports", "resources", "livenessProbe", "readinessProbe", "lifecycle"} & set(c)


def test_node_pod_is_pinned_to_the_node_on_the_host_network():
    spec = specs.node_pod("netmon-node-1-abcde", "node-1", "img", 60, 600)["spec"]
    assert (spec["nodeName"], spec["hostNetwork"]) == ("node-1", True)


def test_node_pod_tolerates_every_taint():
    spec = specs.node_pod("p", "node-1", "img", 60, 600)["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]


def test_node_pod_has_a_dead_man_deadline_and_never_restarts():
    spec = specs.node_pod("p", "node-1", "img", 60, 600)["spec"]
    assert (spec["activeDeadlineSeconds"], spec["restartPolicy"]) == (600, "Never")


def test_node_pod_is_not_privileged_and_adds_only_capture_capabilities():
    container = specs.node_pod("p", "node-1", "img", 60, 600)["spec"]["containers"][0]
    assert container["securityContext"] == {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}


def test_node_pod_carries_the_managed_by_label_cleanup_looks_for():
    labels = specs.node_pod("p", "node-1", "img", 60, 600)["metadata"]["labels"]
    assert labels[specs.MANAGED_BY] == "kubectl-netmon"


def test_node_pod_mounts_no_service_account_token():
    assert specs.node_pod("p", "n", "img", 60, 600)["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("secret, expected", [("", None), ("regcred", [{"name": "regcred"}])])
def test_node_pod_image_pull_secret_only_when_given(secret, expected):
    spec = specs.node_pod("p", "n", "img", 60, 600, secret)["spec"]
    assert spec.get("imagePullSecrets") == expected


@pytest.mark.parametrize(
    "limit, count, bpf, expected",
    [
        (3600, None, "", ["-a", "duration:3600"]),
        (30, 100, "", ["-a", "duration:30", "-c", "100"]),
        (3600, None, "tcp port 80", ["-a", "duration:3600", "-f", "tcp port 80"]),
    ],
)
def test_dumpcap_argv_limits_and_filter(limit, count, bpf, expected):
    argv = specs.dumpcap_argv("eth0", bpf, 262144, limit, count)
    assert argv == ["dumpcap", "-i", "eth0", "-s", "262144", "-n", "-w", "-", *expected]


def test_dumpcap_on_any_pins_linux_cooked_v1():
    argv = specs.dumpcap_argv("any", "", 96, 60, None)
    assert argv[argv.index("-y") + 1] == "LINUX_SLL"


def test_capture_command_passes_user_text_as_arguments_not_script():
    dumpcap = specs.dumpcap_argv("eth0", "host 1.2.3.4; rm -rf /", 96, 60, None)
    argv = specs.capture_command("netmon-abcde", dumpcap)
    assert argv[:3] == ["sh", "-c", specs.CAPTURE_SCRIPT]
    assert argv[4:] == ["/tmp/netmon-abcde.heartbeat", *dumpcap]


@pytest.mark.parametrize(
    "ips, bpf, expected",
    [
        (["10.0.0.1"], "", "host 10.0.0.1"),
        (["10.0.0.2", "10.0.0.1"], "", "(host 10.0.0.1 or host 10.0.0.2)"),
        (["10.0.0.1"], "tcp port 80", "host 10.0.0.1 and (tcp port 80)"),
        ([], "udp", "udp"),
    ],
)
def test_hosts_filter_keeps_only_the_target_pods(ips, bpf, expected):
    assert specs.hosts_filter(ips, bpf) == expected
