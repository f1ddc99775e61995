"""Pod subresources: exec (WebSocket), log, ephemeralcontainers, status."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import execstream, objects, pods, podsecurity
from .messages import Request, Response, ok, warning_headers
from .status import bad_request, method_not_allowed
from .websocket import WebSocket, accept_key

if TYPE_CHECKING:
    from .api import Api
    from .routing import RequestInfo

LOG_POLL = 0.2  # seconds between looks at a followed log file


def handle(api: Api, req: Request, info: RequestInfo) -> Response:
    """Dispatch a pods/<subresource> request."""
    if info.resource != "pods":
        raise method_not_allowed(info.verb, f"{info.resource}/{info.subresource}")
    sub = info.subresource
    if sub == "exec" and req.method in ("GET", "POST"):
        return _exec(api, req, info)
    if sub == "log" and info.verb == "get":
        return _log(api, req, info)
    if sub in ("ephemeralcontainers", "status") and info.verb == "get":
        return ok(api.store.get("pods", info.namespace, info.name))
    if sub == "ephemeralcontainers" and info.verb in ("patch", "update"):
        return _ephemeral(api, req, info)
    raise method_not_allowed(info.verb, f"pods/{sub}")


# ephemeral containers ----------------------------------------------------------------------------


def _ephemeral(api: Api, req: Request, info: RequestInfo) -> Response:
    old = api.store.get("pods", info.namespace, info.name)
    asked = objects.patched(req, "pods", old) if info.verb == "patch" else req.json()
    asked, warnings = objects.decode(req, "pods", asked)
    # Only spec.ephemeralContainers is taken from the request (dropNonEphemeralContainerUpdates).
    new = json.loads(json.dumps(old))
    new["spec"]["ephemeralContainers"] = asked.get("spec", {}).get("ephemeralContainers") or []
    if not new["spec"]["ephemeralContainers"]:
        del new["spec"]["ephemeralContainers"]
    for c in new["spec"].get("ephemeralContainers", []):
        pods.default_container(c)
    pods.validate_ephemeral_update(old, new)
    namespace = api.store.get("namespaces", "", info.namespace)
    podsecurity.check(namespace, new)
    expect = asked.get("metadata", {}).get("resourceVersion")
    if objects.dry_run(req):
        return ok(new)
    return ok(api.store.update("pods", new, expect), **warning_headers(warnings))


# log ---------------------------------------------------------------------------------------------


def _container(pod: dict, name: str, *, ephemeral: bool) -> dict[str, Any]:
    """The named container's status, defaulting to the only (or annotated default) container."""
    spec = pod["spec"]
    all_names = [c["name"] for c in spec["containers"]]
    extra = [
        c["name"]
        for c in spec.get("initContainers", [])
        + (spec.get("ephemeralContainers", []) if ephemeral else [])
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


def _log(api: Api, req: Request, info: RequestInfo) -> Response:
    pod = api.store.get("pods", info.namespace, info.name)
    status = _container(pod, req.param("container"), ephemeral=True)
    name = status["name"]
    waiting = status["state"].get("waiting")
    if waiting or not status["state"]:
        reason = (waiting or {}).get("reason", "ContainerCreating")
        raise bad_request(f'container "{name}" in pod "{info.name}" is waiting to start: {reason}')
    path = api.runtime.container_log(pod["metadata"]["uid"], name)
    data = path.read_bytes() if path.exists() else b""
    tail = req.param("tailLines")
    if tail:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(tail) :]) if int(tail) else b""
    limit = req.param("limitBytes")
    if limit:
        data = data[: int(limit)]
    if not req.flag("follow"):
        return Response(body=data, content_type="text/plain")
    return Response(
        stream=_follow(api, pod, name, path, data, path.stat().st_size if path.exists() else 0),
        content_type="text/plain",
    )


def _follow(
    api: Api, pod: dict, name: str, path: Any, first: bytes, offset: int
) -> Iterator[bytes]:
    """The log so far, then what the container writes until it stops running."""
    yield first
    ns, pname, uid = pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"]
    while True:
        current = api.store.find("pods", ns, pname)
        running = (
            current is not None
            and current["metadata"]["uid"] == uid
            and any(
                s["name"] == name and "running" in s["state"]
                for s in current["status"].get("containerStatuses", [])
                + current["status"].get("ephemeralContainerStatuses", [])
            )
        )
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        offset += len(chunk)
        yield chunk
        if not running:
            return
        time.sleep(LOG_POLL)


# exec --------------------------------------------------------------------------------------------


def _exec(api: Api, req: Request, info: RequestInfo) -> Response:
    # Like 1.35+: a WebSocket GET also needs `create` on pods/exec.
    if info.verb != "create":
        api.authorize(req, "create", info)
    pod = api.store.get("pods", info.namespace, info.name)
    argv = req.query.get("command", [])
    stdin, stdout, stderr = req.flag("stdin"), req.flag("stdout"), req.flag("stderr")
    if not argv:
        raise bad_request("you must specify at least 1 command")
    if not (stdin or stdout or stderr):
        raise bad_request("you must specify at least one of stdin, stdout, stderr")
    if req.flag("tty"):
        raise bad_request("tty is not supported by the lab: use tty=false for exact bytes")
    phase = pod["status"].get("phase")
    if phase in ("Succeeded", "Failed"):
        raise bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    status = _container(pod, req.param("container"), ephemeral=True)
    if "running" not in status["state"]:
        raise bad_request(f'unable to upgrade connection: container not found ("{status["name"]}")')
    upgrade = req.headers.get("Upgrade", "").lower()
    if upgrade != "websocket":
        raise bad_request("Upgrade request required")
    proto = execstream.choose_protocol(req.headers.get("Sec-WebSocket-Protocol", ""))
    if proto is None:
        raise bad_request(
            "unable to upgrade: unable to negotiate protocol: client supports "
            f"{req.headers.get('Sec-WebSocket-Protocol', '')!r}, server supports "
            f"{list(execstream.PROTOCOLS)}"
        )
    key = req.headers.get("Sec-WebSocket-Key", "")
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": accept_key(key),
        "Sec-WebSocket-Protocol": proto,
    }
    uid = pod["metadata"]["uid"]

    def serve() -> None:
        ws = WebSocket(req.rfile, req.wfile)
        session = execstream.ExecSession(ws, proto, stdout, stderr)
        session.open()
        try:
            proc = api.runtime.exec(uid, argv, stdin)
        except Exception as e:  # ExecNotFound: the CRI's message, as an InternalError
            session.finish(execstream.internal_failure(str(e)))
            waiter = threading.Thread(target=_drain_close, args=(ws,), daemon=True)
            waiter.start()
            waiter.join(execstream.CLOSE_WAIT)
            return
        session.run(proc, argv)

    return Response(code=101, headers=headers, upgraded=serve)


def _drain_close(ws: WebSocket) -> None:
    try:
        while ws.receive() is not None:
            pass
    except Exception:  # the peer went away or broke the protocol: nothing left to do
        pass
