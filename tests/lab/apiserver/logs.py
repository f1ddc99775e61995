"""pods/log: one container instance's output, from the runtime's log file.

The runtime appends every instance of a container to one file; the kubelet remembers where each
instance starts, so the current and the previous (restarted) instance are told apart like on a
node, where each has its own file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .messages import Request, Response
from .status import bad_request

if TYPE_CHECKING:
    from .api import Api
    from .routing import RequestInfo

LOG_POLL = 0.2  # seconds between looks at a followed log file (a file has no watch)


def container_status(pod: dict, name: str) -> dict[str, Any]:
    """The named container's status, defaulting to the only (or annotated default) container."""
    spec = pod["spec"]
    all_names = [c["name"] for c in spec["containers"]]
    extra = [
        c["name"] for c in spec.get("initContainers", []) + spec.get("ephemeralContainers", [])
    ]
    pname = pod["metadata"]["name"]
    if not name:
        name = (pod["metadata"].get("annotations") or {}).get(
            "kubectl.kubernetes.io/default-container", ""
        )
    if not name:
        if len(all_names) > 1:
            raise bad_request(
                f"a container name must be specified for pod {pname}, choose one "
                f"of: [{' '.join(all_names)}]"
            )
        name = all_names[0]
    if name not in all_names + extra:
        raise bad_request(f"container {name} is not valid for pod {pname}")
    statuses = pod["status"].get("containerStatuses", []) + pod["status"].get(
        "ephemeralContainerStatuses", []
    )
    return next((s for s in statuses if s["name"] == name), {"name": name, "state": {}})


def instance(pod: dict, status: dict, previous: bool) -> str:
    """The containerID whose log is wanted, or the refusal (kubelet validateContainerLogStatus)."""
    name, pname = status["name"], pod["metadata"]["name"]
    state, last = status["state"], (status.get("lastState") or {}).get("terminated")
    if previous:
        if not last:
            raise bad_request(f'previous terminated container "{name}" in pod "{pname}" not found')
        return last["containerID"]
    if "running" in state:
        return status["containerID"]
    if "terminated" in state:
        return state["terminated"]["containerID"]
    if last:
        return last["containerID"]
    reason = state.get("waiting", {}).get("reason", "ContainerCreating")
    raise bad_request(f'container "{name}" in pod "{pname}" is waiting to start: {reason}')


def handle(api: Api, req: Request, info: RequestInfo) -> Response:
    """The log as text/plain, or a chunked stream with follow=true."""
    if req.flag("timestamps"):
        raise bad_request(
            "timestamps=true is not supported by the lab: its container logs carry "
            "no per-line times"
        )
    pod = api.store.get("pods", info.namespace, info.name)
    status = container_status(pod, req.param("container"))
    uid, name = pod["metadata"]["uid"], status["name"]
    cid = instance(pod, status, req.flag("previous"))
    start, end = api.kubelet.log_span(uid, name, cid) or (0, 0)
    path = api.runtime.container_log(uid, name)
    data = _read(path, start, end)
    tail = req.param("tailLines")
    if tail:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(tail) :]) if int(tail) else b""
    limit = req.param("limitBytes")
    if limit:
        data = data[: int(limit)]
    if not req.flag("follow") or end is not None:
        return Response(body=data, content_type="text/plain")
    offset = start + len(_read(path, start, None))
    return Response(
        stream=_follow(api, pod, name, cid, path, data, offset), content_type="text/plain"
    )


def _read(path: Path, start: int, end: int | None) -> bytes:
    if not path.exists():
        return b""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read() if end is None else f.read(end - start)


def _running(api: Api, pod: dict, name: str, cid: str) -> bool:
    meta = pod["metadata"]
    current = api.store.find("pods", meta["namespace"], meta["name"])
    if current is None or current["metadata"]["uid"] != meta["uid"]:
        return False
    statuses = current["status"].get("containerStatuses", []) + current["status"].get(
        "ephemeralContainerStatuses", []
    )
    return any(
        s["name"] == name and s.get("containerID") == cid and "running" in s["state"]
        for s in statuses
    )


def _follow(
    api: Api, pod: dict, name: str, cid: str, path: Path, first: bytes, offset: int
) -> Iterator[bytes]:
    """The log so far, then what the instance writes until it stops running."""
    yield first
    while True:
        running = _running(api, pod, name, cid)
        chunk = _read(path, offset, None)
        offset += len(chunk)
        yield chunk
        if not running:
            return
        time.sleep(LOG_POLL)
