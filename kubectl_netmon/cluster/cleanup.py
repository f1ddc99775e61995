"""Find and remove what netmon left in a cluster (after a crash or a lost connection).

Node capture pods carry the label app.kubernetes.io/managed-by=kubectl-netmon and are deleted.
Ephemeral containers can never be removed; the ones still running are listed so the user knows
they exist (they exit by themselves once no capture has used them for a while).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubernetes import client

from kubectl_netmon.cluster import launch, rest, specs
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape


@dataclass
class Leftovers:
    """netmon pods (namespace, name, phase) and running netmon ephemeral containers
    (namespace, pod, container)."""

    pods: list[tuple[str, str, str]] = field(default_factory=list)
    containers: list[tuple[str, str, str]] = field(default_factory=list)


def _list(api_client: client.ApiClient, namespace: str, **kwargs: object) -> list[dict]:
    core = client.CoreV1Api(api_client)
    if namespace:
        where = f'pods in namespace "{escape(namespace)}"'
        return rest.call(where, core.list_namespaced_pod, namespace, **kwargs)["items"]
    try:
        return rest.call("pods in all namespaces", core.list_pod_for_all_namespaces,
                         **kwargs)["items"]
    except rest.ApiError as e:
        if e.code == 403:
            raise ClusterError(f"{e}; pass -n NAMESPACE to clean up one namespace") from None
        raise


def running_containers(pod: dict) -> list[str]:
    """Names of the netmon ephemeral containers running in a pod object."""
    return [cs["name"] for cs in pod.get("status", {}).get("ephemeralContainerStatuses") or []
            if cs.get("name", "").startswith(specs.CONTAINER_PREFIX)
            and "running" in (cs.get("state") or {})]


def find(api_client: client.ApiClient, namespace: str = "") -> Leftovers:
    """What netmon left in one namespace, or in all of them when namespace is empty."""
    found = Leftovers()
    for pod in _list(api_client, namespace, label_selector=specs.MANAGED_SELECTOR):
        meta = pod["metadata"]
        found.pods.append((meta["namespace"], meta["name"], pod["status"].get("phase", "")))
    for pod in _list(api_client, namespace):
        meta = pod["metadata"]
        for name in running_containers(pod):
            found.containers.append((meta["namespace"], meta["name"], name))
    return found


def remove(api_client: client.ApiClient, leftovers: Leftovers) -> dict[tuple[str, str], str]:
    """Delete the leftover pods; the failures, (namespace, name) -> message."""
    failures = {}
    for namespace, name, _ in leftovers.pods:
        try:
            launch.delete_pod(api_client, namespace, name)
        except ClusterError as e:
            failures[(namespace, name)] = str(e)
    return failures
