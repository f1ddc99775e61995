"""Wait for a container to run, with a watch (no polling), reporting progress as it changes.

Like `kubectl debug` (waitForContainer): watch `metadata.name=<pod>` until the container is
running; unlike it, an image that cannot be pulled, a terminated container, a deleted pod or the
timeout end the wait at once with a message saying which.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import urllib3
from kubernetes import client, watch

from kubectl_netmon.cluster import rest
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
RUNNING, WAITING, FAILED = "running", "waiting", "failed"


def _status(pod: dict, container: str, ephemeral: bool) -> dict:
    key = "ephemeralContainerStatuses" if ephemeral else "containerStatuses"
    for cs in pod.get("status", {}).get(key) or []:
        if cs.get("name") == container:
            return cs
    return {}


def _unscheduled(pod: dict) -> str:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("message") or cond.get("reason") or "unschedulable"
    return "waiting for a node"


def progress(pod: dict, container: str, ephemeral: bool) -> tuple[str, str]:
    """(RUNNING|WAITING|FAILED, what is happening) for one container of a pod object."""
    status, spec = pod.get("status", {}), pod.get("spec", {})
    where = f'pod "{escape(pod["metadata"]["namespace"])}/{escape(pod["metadata"]["name"])}"'
    if status.get("phase") in ("Succeeded", "Failed"):
        why = status.get("message") or status.get("reason") or status["phase"]
        return FAILED, f"{where} ended ({escape(status['phase'])}): {escape(why)}"
    if not spec.get("nodeName"):
        return WAITING, f"{where} not scheduled yet: {escape(_unscheduled(pod))}"
    if not status.get("startTime"):
        return WAITING, f"{where}: waiting for node {escape(spec['nodeName'])} to start it"
    state = _status(pod, container, ephemeral).get("state") or {}
    if "running" in state:
        return RUNNING, f"{where}: container {escape(container)} running"
    if "terminated" in state:
        term = state["terminated"]
        why = term.get("message") or term.get("reason") or f"exit code {term.get('exitCode')}"
        return FAILED, f"{where}: container {escape(container)} terminated: {escape(why)}"
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason", "")
    image = _image(spec, container, ephemeral)
    if reason in PULL_FAILURES:
        why = waiting.get("message") or reason
        login = "" if ephemeral else " (and --image-pull-secret if it needs a login)"
        return FAILED, (f'{where}: cannot pull image "{escape(image)}": {escape(why)}; check '
                        f"the image name, or give --image a mirror that has it{login}")
    return WAITING, (f'{where}: starting container {escape(container)} (pulling image '
                     f'"{escape(image)}" on node {escape(spec["nodeName"])})')


def _image(spec: dict, container: str, ephemeral: bool) -> str:
    key = "ephemeralContainers" if ephemeral else "containers"
    return next((c.get("image", "") for c in spec.get(key) or [] if c.get("name") == container), "")


def wait_running(api_client: client.ApiClient, namespace: str, pod: str, container: str,
                 ephemeral: bool, timeout_s: float, on_status: Callable[[str], None]) -> None:
    """Return once the container runs; ClusterError when it cannot, or after timeout_s."""
    core = client.CoreV1Api(api_client)
    deadline = time.monotonic() + timeout_s
    note = f'pod "{escape(namespace)}/{escape(pod)}": waiting'
    while (left := deadline - time.monotonic()) > 0:
        events = watch.Watch().stream(core.list_namespaced_pod, namespace,
                                      field_selector=f"metadata.name={pod}",
                                      timeout_seconds=max(1, int(left)), deserialize=False)
        try:
            for event in events:
                if event["type"] == "DELETED":
                    raise ClusterError(f'pod "{escape(namespace)}/{escape(pod)}" was deleted '
                                       "while netmon waited for it")
                if event["type"] == "ERROR":
                    raise ClusterError(f"watching pod {escape(pod)}: "
                                       f"{escape(str(event['object'].get('message')))}")
                state, now = progress(event["object"], container, ephemeral)
                if state == RUNNING:
                    return
                if state == FAILED:
                    raise ClusterError(now)
                if now != note:
                    note = now
                    on_status(note)
        except client.exceptions.ApiException as e:
            message, _ = rest.status_message(e)
            raise ClusterError(f"watching pod {escape(pod)}: {message}") from None
        except urllib3.exceptions.HTTPError as e:
            raise ClusterError(f"watching pod {escape(pod)}: cannot reach the API server: "
                               f"{escape(str(e))}") from None
    raise ClusterError(f"timed out after {timeout_s:g}s: {note}; its events say why: kubectl "
                       f"describe pod -n {escape(namespace)} {escape(pod)}")
