"""Subresources: of pods exec (WebSocket), log, ephemeralcontainers, status; of workloads scale."""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING

from . import execstream, logs, objects, pods, podsecurity, scale
from .messages import Request, Response, ok, warning_headers
from .status import bad_request, method_not_allowed
from .websocket import WebSocket, accept_key

if TYPE_CHECKING:
    from .api import Api
    from .routing import RequestInfo


def handle(api: Api, req: Request, info: RequestInfo) -> Response:
    """Dispatch a pods/<subresource> or <workload>/scale request."""
    if info.subresource == "scale":
        return scale.handle(api, req, info)
    if info.resource != "pods":
        raise method_not_allowed(info.verb, f"{info.resource}/{info.subresource}")
    sub = info.subresource
    if sub == "exec" and req.method in ("GET", "POST"):
        return _exec(api, req, info)
    if sub == "log" and info.verb == "get":
        return logs.handle(api, req, info)
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
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = asked.get("spec", {}).get("ephemeralContainers") or []
    if not new["spec"]["ephemeralContainers"]:
        del new["spec"]["ephemeralContainers"]
    for c in new["spec"].get("ephemeralContainers", []):
        pods.default_container(c)
    pods.validate_ephemeral_update(old, new)
    namespace = api.store.get("namespaces", "", info.namespace)
    podsecurity.check(namespace, new)
    warnings += podsecurity.warnings(namespace, new)
    expect = asked.get("metadata", {}).get("resourceVersion")
    if objects.dry_run(req):
        return ok(new)
    return ok(api.store.update("pods", new, expect), **warning_headers(warnings))


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
    status = logs.container_status(pod, req.param("container"))
    not_found = f'container not found ("{status["name"]}")'  # the kubelet's refusal
    running = "running" in status["state"]
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
    # v4 is proxied to the kubelet, whose refusal comes back instead of the upgrade; v5 (1.30+)
    # is upgraded by the API server's stream translator first, and the refusal comes as Status.
    if not running and not proto.startswith("v5."):
        raise bad_request(f"unable to upgrade connection: {not_found}")
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
        refusal = execstream.internal_failure(not_found, "unable to upgrade connection")
        if running:
            try:
                proc = api.runtime.exec(uid, status["name"], argv, stdin)
            except Exception as e:  # ExecNotFound or ContainerNotRunning: the CRI's message
                refusal = execstream.internal_failure(str(e))
            else:
                session.run(proc, argv)
                return
        session.finish(refusal)
        waiter = threading.Thread(target=_drain_close, args=(ws,), daemon=True)
        waiter.start()
        waiter.join(execstream.CLOSE_WAIT)

    return Response(code=101, headers=headers, upgraded=serve)


def _drain_close(ws: WebSocket) -> None:
    try:
        while ws.receive() is not None:
            pass
    except Exception:  # the peer went away or broke the protocol: nothing left to do
        pass
