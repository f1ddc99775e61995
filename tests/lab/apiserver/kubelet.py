"""The lab's scheduler and kubelet: a controller that watches pods and drives them like a node.

Scheduling binds a pod to the node with the fewest pods. The kubelet part creates the sandbox,
"pulls" images, starts containers and ephemeral containers as real processes (through the lab
runtime), restarts them per restartPolicy with CrashLoopBackOff, enforces activeDeadlineSeconds,
terminates pods being deleted within their grace period, and writes status as a kubelet does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import images
from .store import Store

BACKOFF_START, BACKOFF_MAX = 10.0, 300.0
PULL_BACKOFF = 1.0  # ErrImagePull turns into ImagePullBackOff after this many seconds


def now() -> str:
    """An RFC 3339 timestamp with second precision, as metav1.Time serialises."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Pod:
    """What the kubelet remembers about one pod it runs."""

    def __init__(self, uid: str, ns: str, name: str) -> None:
        self.uid, self.ns, self.name = uid, ns, name
        self.lock = threading.Lock()
        self.pids: dict[str, int] = {}  # container name -> pid (process group)
        self.started: set[str] = set()  # ephemeral containers handled
        self.sandbox = False
        self.terminating = False
        self.done = False  # terminal phase reached, no more restarts
        self.deadline: threading.Timer | None = None
        self.deadline_seconds: int | None = None
        self.exited = threading.Condition(self.lock)


class Kubelet:
    """Watches the store's pods and runs them on the runtime's nodes."""

    def __init__(self, store: Store, runtime: Any, nodes: dict[str, Any]) -> None:
        self.store, self.runtime, self.nodes = store, runtime, nodes
        self._pods: dict[str, _Pod] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="kubelet", daemon=True)

    def start(self) -> None:
        """Begin watching from the store's current resourceVersion."""
        self._since = int(self.store.resource_version)
        self._thread.start()

    def stop(self) -> None:
        """Stop every pod's processes and sandbox (server shutdown)."""
        self._stopping = True
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            with pod.lock:
                pod.terminating = pod.done = True
                if pod.deadline:
                    pod.deadline.cancel()
            self._stop_sandbox(pod)

    # the watch loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        for event in self.store.watch("pods", self._since, lambda: not self._stopping):
            if event is None:
                continue
            try:
                self._handle(event.type, event.obj)
            except Exception as e:  # a controller keeps going, as a real one would
                print(f"kubelet: {event.type} {event.obj['metadata']['name']}: {e!r}", flush=True)

    def _handle(self, kind: str, obj: dict) -> None:
        meta, spec = obj["metadata"], obj["spec"]
        if kind == "DELETED":
            pod = self._pods.pop(meta["uid"], None)
            if pod:
                self._spawn(self._finish_delete, pod)
            return
        if not spec.get("nodeName"):
            self._schedule(obj)
            return
        if spec["nodeName"] not in self.nodes:
            return  # no such node: stays Pending, as with no kubelet
        with self._lock:
            pod = self._pods.get(meta["uid"])
            if pod is None:
                pod = self._pods[meta["uid"]] = _Pod(meta["uid"], meta["namespace"], meta["name"])
                self._spawn(self._start_pod, pod, obj)
        if meta.get("deletionTimestamp") and not pod.terminating:
            pod.terminating = True
            self._spawn(self._terminate, pod, meta.get("deletionGracePeriodSeconds", 30))
        self._arm_deadline(pod, obj)
        with pod.lock:
            new = [
                c
                for c in spec.get("ephemeralContainers", [])
                if pod.sandbox and c["name"] not in pod.started
            ]
            pod.started.update(c["name"] for c in new)
        for c in new:
            self._spawn(self._start_ephemeral, pod, obj, c)

    def _spawn(self, fn: Callable, *args: Any) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    # scheduling ----------------------------------------------------------------------------------

    def _schedule(self, obj: dict) -> None:
        items, _ = self.store.list("pods")
        load = {n: 0 for n in self.nodes}
        for p in items:
            if p["spec"].get("nodeName") in load:
                load[p["spec"]["nodeName"]] += 1
        node = min(sorted(load), key=load.__getitem__)

        def bind(p: dict) -> bool:
            if p["metadata"]["uid"] != obj["metadata"]["uid"] or p["spec"].get("nodeName"):
                return False
            p["spec"]["nodeName"] = node
            _condition(p, "PodScheduled", "True")
            return True

        self.store.mutate("pods", obj["metadata"]["namespace"], obj["metadata"]["name"], bind)

    # status helpers ------------------------------------------------------------------------------

    def _update(self, pod: _Pod, change: Callable[[dict], Any]) -> None:
        def guarded(p: dict) -> Any:
            if p["metadata"]["uid"] != pod.uid:
                return False
            return change(p)

        self.store.mutate("pods", pod.ns, pod.name, guarded)

    def _set_state(
        self, pod: _Pod, name: str, state: dict, ephemeral: bool = False, **extra: Any
    ) -> None:
        key = "ephemeralContainerStatuses" if ephemeral else "containerStatuses"

        def change(p: dict) -> None:
            for cs in p["status"].get(key, []):
                if cs["name"] == name:
                    cs["state"] = state
                    cs.update(extra)
                    cs["started"] = "running" in state
                    if not ephemeral:
                        cs["ready"] = "running" in state
            _refresh_phase(p)

        self._update(pod, change)

    # pod start -----------------------------------------------------------------------------------

    def _start_pod(self, pod: _Pod, obj: dict) -> None:
        node = self.nodes[obj["spec"]["nodeName"]]
        host_network = bool(obj["spec"].get("hostNetwork"))

        def init(p: dict) -> None:
            st = p["status"]
            st.update(hostIP=node.internal_ip, hostIPs=[{"ip": node.internal_ip}], startTime=now())
            for cond, value in (
                ("PodReadyToStartContainers", "False"),
                ("Initialized", "True"),
                ("Ready", "False"),
                ("ContainersReady", "False"),
            ):
                _condition(p, cond, value)
            st["containerStatuses"] = [
                _waiting_status(c, "ContainerCreating") for c in p["spec"]["containers"]
            ]

        self._update(pod, init)
        ip = self.runtime.start_pod(pod.uid, node.name, host_network)
        with pod.lock:
            pod.sandbox = True
            if pod.terminating:
                return

        def sandbox(p: dict) -> None:
            p["status"].update(podIP=ip, podIPs=[{"ip": ip}])
            _condition(p, "PodReadyToStartContainers", "True")

        self._update(pod, sandbox)
        self._handle("MODIFIED", self.store.get("pods", pod.ns, pod.name))
        for c in obj["spec"]["containers"]:
            self._spawn(self._run_container, pod, obj, c, 0)

    def _pull(self, pod: _Pod, c: dict, ephemeral: bool) -> bool:
        """False (with ErrImagePull, then ImagePullBackOff) when the image cannot be pulled."""
        if not images.unreachable(c["image"]):
            return True
        self._set_state(
            pod,
            c["name"],
            {"waiting": {"reason": "ErrImagePull", "message": images.pull_error(c["image"])}},
            ephemeral,
        )
        time.sleep(PULL_BACKOFF)
        self._set_state(
            pod,
            c["name"],
            {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{c["image"]}"',
                }
            },
            ephemeral,
        )
        return False

    def _argv(self, c: dict) -> list[str]:
        return (c.get("command") or images.DEFAULT_ENTRYPOINT) + c.get("args", [])

    def _env(self, pod: _Pod, obj: dict, c: dict) -> dict[str, str]:
        fields = {
            "metadata.name": pod.name,
            "metadata.namespace": pod.ns,
            "metadata.uid": pod.uid,
            "spec.nodeName": obj["spec"]["nodeName"],
            "status.podIP": obj["status"].get("podIP", ""),
            "status.hostIP": obj["status"].get("hostIP", ""),
        }
        env = {"HOSTNAME": pod.name}
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
            env[e["name"]] = fields.get(ref, "") if ref else e.get("value", "")
        return env

    def _run_container(self, pod: _Pod, obj: dict, c: dict, restarts: int) -> None:
        name = c["name"]
        if not self._pull(pod, c, False):
            return
        obj = self.store.find("pods", pod.ns, pod.name) or obj
        started = now()
        cid = "containerd://" + secrets.token_hex(32)
        with pod.lock:
            if pod.terminating or pod.done:
                return
            try:
                pid = self.runtime.start_container(
                    pod.uid,
                    name,
                    self._argv(c),
                    self._env(pod, obj, c),
                    c.get("workingDir"),
                    lambda code: self._exited(pod, obj, c, restarts, started, cid, code),
                )
            except Exception as e:  # ExecNotFound: containerd's StartError
                self._spawn(self._exited, pod, obj, c, restarts, started, cid, 128, str(e))
                return
            pod.pids[name] = pid
        self._set_state(
            pod,
            name,
            {"running": {"startedAt": started}},
            containerID=cid,
            imageID=images.image_id(c["image"]),
        )

    def _exited(
        self,
        pod: _Pod,
        obj: dict,
        c: dict,
        restarts: int,
        started: str,
        cid: str,
        code: int,
        message: str = "",
    ) -> None:
        name = c["name"]
        with pod.lock:
            pod.pids.pop(name, None)
            pod.exited.notify_all()
            policy = obj["spec"].get("restartPolicy", "Always")
            again = not (pod.terminating or pod.done) and (
                policy == "Always" or (policy == "OnFailure" and code != 0)
            )
        term = {
            "exitCode": code,
            "reason": "StartError" if message else ("Completed" if code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": now(),
            "containerID": cid,
        }
        if message:
            term["message"] = message
        self._set_state(pod, name, {"terminated": term})
        if not again:
            self._maybe_finished(pod)
            return
        delay = min(BACKOFF_MAX, BACKOFF_START * 2**restarts)
        self._set_state(
            pod,
            name,
            {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {int(delay)}s restarting failed container={name} "
                    f"pod={pod.name}_{pod.ns}({pod.uid})",
                }
            },
            lastState={"terminated": term},
            restartCount=restarts + 1,
        )
        time.sleep(delay)
        self._run_container(pod, obj, c, restarts + 1)

    def _maybe_finished(self, pod: _Pod) -> None:
        """Once every container has terminated for good, the pod is Succeeded or Failed."""

        def change(p: dict) -> None:
            statuses = p["status"].get("containerStatuses", [])
            if statuses and all("terminated" in cs["state"] for cs in statuses):
                ok = all(cs["state"]["terminated"]["exitCode"] == 0 for cs in statuses)
                p["status"]["phase"] = "Succeeded" if ok else "Failed"
                _condition(p, "Ready", "False", "PodCompleted")
                _condition(p, "ContainersReady", "False", "PodCompleted")

        self._update(pod, change)
        current = self.store.find("pods", pod.ns, pod.name)
        if current and current["status"]["phase"] in ("Succeeded", "Failed"):
            with pod.lock:
                pod.done = True
            if not pod.terminating:
                self._stop_sandbox(pod)

    # ephemeral containers ------------------------------------------------------------------------

    def _start_ephemeral(self, pod: _Pod, obj: dict, c: dict) -> None:
        name = c["name"]

        def waiting(p: dict) -> None:
            statuses = p["status"].setdefault("ephemeralContainerStatuses", [])
            if not any(cs["name"] == name for cs in statuses):
                statuses.append(_waiting_status(c, "ContainerCreating"))

        self._update(pod, waiting)
        if not self._pull(pod, c, True):
            return
        started, cid = now(), "containerd://" + secrets.token_hex(32)

        def exited(code: int, message: str = "") -> None:
            with pod.lock:
                pod.pids.pop(name, None)
                pod.exited.notify_all()
            term = {
                "exitCode": code,
                "reason": "StartError" if message else ("Completed" if code == 0 else "Error"),
                "startedAt": started,
                "finishedAt": now(),
                "containerID": cid,
            }
            if message:
                term["message"] = message
            self._set_state(pod, name, {"terminated": term}, True)

        with pod.lock:
            if pod.terminating or pod.done:
                return
            try:
                pod.pids[name] = self.runtime.start_container(
                    pod.uid,
                    name,
                    self._argv(c),
                    self._env(pod, obj, c),
                    c.get("workingDir"),
                    exited,
                )
            except Exception as e:
                self._spawn(exited, 128, str(e))
                return
        self._set_state(
            pod,
            name,
            {"running": {"startedAt": started}},
            True,
            containerID=cid,
            imageID=images.image_id(c["image"]),
        )

    # deadline and deletion -----------------------------------------------------------------------

    def _arm_deadline(self, pod: _Pod, obj: dict) -> None:
        seconds = obj["spec"].get("activeDeadlineSeconds")
        start = obj["status"].get("startTime")
        if seconds == pod.deadline_seconds or not start or pod.done:
            return
        if pod.deadline:
            pod.deadline.cancel()
        pod.deadline_seconds = seconds
        if seconds is None:
            return
        began = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        due = began.timestamp() + seconds - time.time()
        pod.deadline = threading.Timer(max(0.0, due), self._deadline_exceeded, (pod,))
        pod.deadline.daemon = True
        pod.deadline.start()

    def _deadline_exceeded(self, pod: _Pod) -> None:
        with pod.lock:
            if pod.done or pod.terminating:
                return
            pod.done = True
        self._kill(pod, signal.SIGKILL, 0)

        def failed(p: dict) -> None:
            st = p["status"]
            st.update(
                phase="Failed",
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline",
            )
            for cs in st.get("containerStatuses", []) + st.get("ephemeralContainerStatuses", []):
                if "terminated" not in cs["state"]:
                    cs["state"] = {
                        "terminated": {"exitCode": 137, "reason": "Error", "finishedAt": now()}
                    }
                cs["ready"] = cs["started"] = False
            _condition(p, "Ready", "False", "PodFailed")
            _condition(p, "ContainersReady", "False", "PodFailed")

        self._update(pod, failed)
        self._stop_sandbox(pod)

    def _kill(self, pod: _Pod, sig: int, grace: float) -> None:
        """Signal every container's process group; wait up to `grace` seconds for them to exit."""
        with pod.lock:
            for pid in pod.pids.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
            pod.exited.wait_for(lambda: not pod.pids, timeout=grace)

    def _terminate(self, pod: _Pod, grace: int) -> None:
        """SIGTERM, wait up to the grace period, then remove the pod for good."""
        if not pod.done:
            self._kill(pod, signal.SIGTERM, float(grace))
        self._stop_sandbox(pod)
        with contextlib.suppress(Exception):
            current = self.store.find("pods", pod.ns, pod.name)
            if current and current["metadata"]["uid"] == pod.uid:
                self.store.delete("pods", pod.ns, pod.name)

    def _finish_delete(self, pod: _Pod) -> None:
        with pod.lock:
            pod.terminating = pod.done = True
            if pod.deadline:
                pod.deadline.cancel()
        self._stop_sandbox(pod)

    def _stop_sandbox(self, pod: _Pod) -> None:
        with pod.lock:
            if not pod.sandbox:
                return
            pod.sandbox = False
        self.runtime.stop_pod(pod.uid)


def _condition(p: dict, kind: str, status: str, reason: str = "") -> None:
    conds = p["status"].setdefault("conditions", [])
    for c in conds:
        if c["type"] == kind:
            if c["status"] != status:
                c.update(status=status, lastTransitionTime=now())
            if reason:
                c["reason"] = reason
            return
    entry = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now()}
    if reason:
        entry["reason"] = reason
    conds.append(entry)


def _waiting_status(c: dict, reason: str) -> dict:
    return {
        "name": c["name"],
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": images.normalise(c["image"]),
        "imageID": "",
        "started": False,
    }


def _refresh_phase(p: dict) -> None:
    """Pending while a container waits to run for the first time, then Running (getPhase)."""
    st = p["status"]
    statuses = st.get("containerStatuses", [])
    if st.get("phase") in ("Succeeded", "Failed") or not statuses:
        return
    first_wait = any("waiting" in cs["state"] and not cs.get("lastState") for cs in statuses)
    st["phase"] = "Pending" if first_wait else "Running"
    all_ready = all(cs.get("ready") for cs in statuses)
    _condition(p, "Ready", "True" if all_ready else "False")
    _condition(p, "ContainersReady", "True" if all_ready else "False")
