"""--mode auto: permissions and Pod Security labels decide the mode before anything is created."""

from __future__ import annotations

import pytest

from kubectl_netmon.cluster import admission, specs
from kubectl_netmon.cluster.admission import Need, choose_mode, psa_problem
from kubectl_netmon.cluster.session import AcquireOptions, CaptureSession
from kubectl_netmon.cluster.targets import Targets, parse_targets, resolve
from kubectl_netmon.errors import ClusterError, UsageError
from tests.lab import fixtures
from tests.lab.fixtures import pod
from tests.live import acquire_lab

lab, lab_ns, api = fixtures.lab, fixtures.lab_ns, acquire_lab.api
restricted_api = acquire_lab.restricted_api

READ = {"verbs": ["get", "list", "watch"], "apiGroups": [""],
        "resources": ["pods", "namespaces", "nodes"]}
EXEC = {"verbs": ["get", "create"], "apiGroups": [""], "resources": ["pods/exec"]}
EPHEMERAL = {"verbs": ["patch"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]}
NODE_PODS = {"verbs": ["create", "delete"], "apiGroups": [""], "resources": ["pods"]}


@pytest.mark.parametrize(
    "labels, mode, blocked",
    [
        ({}, "ephemeral", False),
        ({admission.ENFORCE: "privileged"}, "node", False),
        ({admission.ENFORCE: "baseline"}, "ephemeral", True),
        ({admission.ENFORCE: "restricted"}, "ephemeral", True),
        ({admission.ENFORCE: "baseline"}, "node", True),
        ({"pod-security.kubernetes.io/warn": "restricted"}, "node", False),
    ],
)
def test_only_an_enforce_level_other_than_privileged_blocks(labels, mode, blocked):
    assert (psa_problem("shop", labels, mode) is not None) == blocked


def test_the_psa_problem_names_the_label_and_what_it_forbids():
    problem = psa_problem("shop", {admission.ENFORCE: "baseline"}, "ephemeral")
    assert problem == ('namespace "shop" enforces Pod Security "baseline" (label '
                       "pod-security.kubernetes.io/enforce=baseline), which forbids the NET_RAW "
                       "and NET_ADMIN capabilities")


def test_a_need_reads_as_verb_resource_and_namespace():
    assert str(Need("patch", "pods", "shop", "ephemeralcontainers")) == \
        'patch pods/ephemeralcontainers in namespace "shop"'


def test_an_unknown_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="--mode must be"):
        choose_mode(None, "sidecar", Targets(), "default")


def test_a_whole_node_cannot_be_captured_in_ephemeral_mode():
    with pytest.raises(UsageError, match="--mode node"):
        choose_mode(None, "ephemeral", Targets(nodes=["node-1"]), "default")


# against the lab ---------------------------------------------------------------------------------


def _label(lab, ns: str, level: str) -> None:
    code, body = lab.request("PATCH", f"/api/v1/namespaces/{ns}",
                             {"metadata": {"labels": {admission.ENFORCE: level}}},
                             content_type="application/merge-patch+json")
    assert code == 200, body


def _web(lab, ns: str, api) -> Targets:
    lab.create_pod(ns, pod("web"))
    return resolve(api, parse_targets(["web"], ns))


def _start_and_stop(api, targets: Targets, options: AcquireOptions) -> None:
    with CaptureSession(api, targets, options, [].append):
        pass


def _untouched(lab, ns: str) -> bool:
    """No ephemeral container in pod web and no netmon pod anywhere in the namespace."""
    _, web = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/web")
    _, netmon = lab.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector="
                            f"{specs.MANAGED_BY}%3D{specs.MANAGER}")
    return not web["spec"].get("ephemeralContainers") and not netmon["items"]


def test_auto_prefers_ephemeral_when_everything_is_allowed(lab, lab_ns, api):
    assert choose_mode(api, "auto", _web(lab, lab_ns, api), lab_ns) == "ephemeral"


def test_auto_prefers_one_node_capture_for_several_pods_on_a_node(lab, lab_ns, api):
    lab.create_pod(lab_ns, pod("a", nodeName="node-1"))
    lab.create_pod(lab_ns, pod("b", nodeName="node-1"))
    targets = resolve(api, parse_targets(["a", "b"], lab_ns))
    assert choose_mode(api, "auto", targets, lab_ns) == "node"


def test_auto_uses_ephemeral_for_several_pods_when_node_mode_is_refused(lab, lab_ns, api,
                                                                        restricted_api):
    lab.create_pod(lab_ns, pod("a", nodeName="node-1"))
    lab.create_pod(lab_ns, pod("b", nodeName="node-1"))
    targets = resolve(api, parse_targets(["a", "b"], lab_ns))
    with lab.rules("lab-restricted", [READ, EXEC, EPHEMERAL]):
        assert choose_mode(restricted_api, "auto", targets, lab_ns) == "ephemeral"


def test_auto_falls_back_to_node_mode_when_the_pods_namespace_is_baseline(lab, lab_ns, api):
    targets = _web(lab, lab_ns, api)
    _label(lab, lab_ns, "baseline")
    assert choose_mode(api, "auto", targets, "default") == "node"


def test_auto_falls_back_to_node_mode_without_the_ephemeral_permission(lab, lab_ns, api,
                                                                        restricted_api):
    targets = _web(lab, lab_ns, api)
    with lab.rules("lab-restricted", [READ, EXEC, NODE_PODS]):
        assert choose_mode(restricted_api, "auto", targets, lab_ns) == "node"


def test_when_no_mode_is_admitted_each_missing_permission_is_named(lab, lab_ns, api,
                                                                   restricted_api):
    targets = _web(lab, lab_ns, api)
    with lab.rules("lab-restricted", [READ, EXEC]), pytest.raises(ClusterError) as err:
        choose_mode(restricted_api, "auto", targets, lab_ns)
    message = str(err.value)
    assert f'ephemeral mode: missing permission: patch pods/ephemeralcontainers in namespace ' \
           f'"{lab_ns}"' in message
    assert f'node mode: missing permission: create pods in namespace "{lab_ns}"' in message


def test_when_no_mode_is_admitted_the_blocking_labels_are_named(lab, lab_ns, api):
    targets = _web(lab, lab_ns, api)
    _label(lab, lab_ns, "restricted")
    with pytest.raises(ClusterError) as err:
        choose_mode(api, "auto", targets, lab_ns)
    assert str(err.value).count("label pod-security.kubernetes.io/enforce=restricted") == 2


def test_a_missing_exec_permission_is_named(lab, lab_ns, api, restricted_api):
    targets = _web(lab, lab_ns, api)
    with lab.rules("lab-restricted", [READ, EPHEMERAL]), pytest.raises(ClusterError) as err:
        choose_mode(restricted_api, "ephemeral", targets, lab_ns)
    assert f'missing permission: create pods/exec in namespace "{lab_ns}"' in str(err.value)


def test_a_refused_session_creates_nothing(lab, lab_ns, api, restricted_api):
    targets = _web(lab, lab_ns, api)
    with lab.rules("lab-restricted", [READ, EXEC]), pytest.raises(ClusterError):
        _start_and_stop(restricted_api, targets, AcquireOptions(node_namespace=lab_ns))
    assert _untouched(lab, lab_ns)


def test_pod_security_rejection_is_caught_before_patching(lab, lab_ns, api):
    targets = _web(lab, lab_ns, api)
    _label(lab, lab_ns, "baseline")
    with pytest.raises(ClusterError, match="enforce=baseline"):
        _start_and_stop(api, targets, AcquireOptions(mode="ephemeral"))
    assert _untouched(lab, lab_ns)


def test_without_read_access_to_namespaces_the_servers_rejection_is_reported(lab, lab_ns, api,
                                                                             restricted_api):
    targets = _web(lab, lab_ns, api)
    _label(lab, lab_ns, "baseline")
    pods_only = {**READ, "resources": ["pods"]}
    with lab.rules("lab-restricted", [pods_only, EXEC, EPHEMERAL]), \
            pytest.raises(ClusterError, match="violates PodSecurity"):
        _start_and_stop(restricted_api, targets, AcquireOptions(mode="ephemeral"))
    assert _untouched(lab, lab_ns)


def test_a_missing_node_namespace_is_named(lab, lab_ns, api):
    targets = _web(lab, lab_ns, api)
    with pytest.raises(ClusterError, match='namespace "no-such-ns" not found'):
        choose_mode(api, "node", targets, "no-such-ns")
