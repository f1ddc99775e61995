"""Put netmon's capture containers into the cluster, and take node pods out again.

Ephemeral mode adds a container to the target pod (or reuses a netmon container still running
there: they cannot be removed, so piling up new ones would litter the pod); node mode creates a
pod pinned to the node. Both only start the heartbeat loop; captures are exec'd into them.
"""

from __future__ import annotations

from kubernetes import client

from kubectl_netmon.cluster import rest, specs
from kubectl_netmon.cluster.targets import PodRef
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape


def _running(pod: dict) -> set[str]:
    """The names of the pod's ephemeral containers that run (as its status says)."""
    return {cs["name"] for cs in pod.get("status", {}).get("ephemeralContainerStatuses") or []
            if "running" in (cs.get("state") or {})}


def reusable_container(pod: dict, target: str = "") -> str | None:
    """The name of a netmon ephemeral container that still runs in this pod (and targets the
    container asked for with -c), if any."""
    running = _running(pod)
    for c in pod.get("spec", {}).get("ephemeralContainers") or []:
        name = c.get("name", "")
        if (name.startswith(specs.CONTAINER_PREFIX) and name in running
                and (not target or c.get("targetContainerName") == target)):
            return name
    return None


def add_ephemeral(api_client: client.ApiClient, target: PodRef, image: str,
                  linger_s: int, reuse: bool = True) -> tuple[str, bool]:
    """(container name, True when newly added): reuse a running netmon container (if reuse),
    else add one with a strategic merge patch as `kubectl debug` does."""
    core = client.CoreV1Api(api_client)
    where = f'pod "{escape(target.key)}"'
    if reuse:
        name = reusable_container(_read(core, target), target.container)
        if name:
            return name, False
    name = specs.new_name(specs.CONTAINER_PREFIX.rstrip("-"))
    body = {"spec": {"ephemeralContainers": [
        specs.ephemeral_container(name, image, linger_s, target.container)]}}
    try:
        rest.call(f"adding a capture container to {where}",
                  core.patch_namespaced_pod_ephemeralcontainers,
                  target.name, target.namespace, body)
    except rest.ApiError as e:
        if e.code == 404 and not e.name:  # the subresource itself is missing
            raise ClusterError("ephemeral containers are not supported by this cluster; "
                               "use --mode node") from None
        raise
    return name, True


def still_running(api_client: client.ApiClient, target: PodRef, name: str) -> bool:
    """Whether the pod's ephemeral container `name` runs, as the pod's status says now."""
    return name in _running(_read(client.CoreV1Api(api_client), target))


def _read(core: client.CoreV1Api, target: PodRef) -> dict:
    return rest.call(f'pod "{escape(target.key)}"', core.read_namespaced_pod, target.name,
                     target.namespace)


def create_node_pod(api_client: client.ApiClient, node: str, namespace: str, image: str,
                    linger_s: int, deadline_s: int, pull_secret: str) -> str:
    """Create the capture pod for `node`; its name."""
    core = client.CoreV1Api(api_client)
    name = specs.new_name(f"netmon-{node}")
    body = specs.node_pod(name, node, image, linger_s, deadline_s, pull_secret)
    rest.call(f'creating capture pod on node "{escape(node)}" in namespace '
              f'"{escape(namespace)}"', core.create_namespaced_pod, namespace, body)
    return name


def delete_pod(api_client: client.ApiClient, namespace: str, name: str) -> None:
    """Delete a pod at once (grace 0); one that is already gone is fine, other refusals raise."""
    core = client.CoreV1Api(api_client)
    try:
        rest.call(f'deleting pod "{escape(namespace)}/{escape(name)}"',
                  core.delete_namespaced_pod, name, namespace, grace_period_seconds=0)
    except rest.ApiError as e:
        if e.code != 404:
            raise
