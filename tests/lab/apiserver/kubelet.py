"""The lab's kubelet: a controller that watches pods and runs the ones bound to the lab's nodes.

It creates the sandbox, "pulls" images (see images.py), runs init containers in order, then the
containers and any ephemeral containers as real processes (through the lab runtime); restarts
containers per restartPolicy with CrashLoopBackOff; enforces activeDeadlineSeconds; stops pods
being deleted within their grace period; and writes status as a kubelet does. Unbound pods go to
the scheduler.
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

from . import events, images, podstatus
from .podaccess import PodAccess
from .podstatus import now
from .scheduler import schedule
from .store import Store
from .taints import NO_EXECUTE, untolerated

BACKOFF_START, BACKOFF_MAX = 10.0, 300.0
PULL_BACKOFF = 1.0  # seconds from ErrImagePull to ImagePullBackOff
INIT, MAIN, EPHEMERAL = "initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"


class _Pod:
    """What the kubelet remembers about one pod it runs."""

    def __init__(self, uid: str, ns: str, name: str, node: str) -> None:
        self.uid, self.ns, self.name, self.node = uid, ns, name, node
        self.lock = threading.Lock()
        self.exited = threading.Condition(self.lock)
        self.pids: dict[str, int] = {}  # container name -> pid (its own process group)
        self.ephemeral: set[str] = set()  # ephemeral containers already handled
        self.sandbox = False
        self.terminating = False
        self.done = False  # terminal: nothing restarts any more
        self.deadline: threading.Timer | None = None
        self.deadline_seconds: int | None = None
        self.api_volumes: set[str] = set()  # the service account token's volumes

    @property
    def stopped(self) -> bool:
        return self.terminating or self.done


class Kubelet:
    """Watches the store's pods and runs them on the runtime's nodes."""

    def __init__(self, store: Store, runtime: Any, nodes: dict[str, Any],
                 access: PodAccess) -> None:
        self.store, self.runtime, self.nodes, self.access = store, runtime, nodes, access
        self._pods: dict[str, _Pod] = {}
        self._log_starts: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._pulled: set[tuple[str, str]] = set()  # (node, image) pulled since the lab started
        self._lock = threading.Lock()
        self._stopping = False
        self._since = 0
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
            self._forget(pod)

    # the watch loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        for event in self.store.watch("pods", self._since, lambda: not self._stopping):
            if event is None:
                continue
            try:
                self._handle(event.type, event.obj)
            except Exception as e:  # a controller logs and keeps going, as a real one does
                print(f"kubelet: {event.type} {event.obj['metadata']['name']}: {e!r}", flush=True)

    def _handle(self, kind: str, obj: dict) -> None:
        meta, spec = obj["metadata"], obj["spec"]
        if kind == "DELETED":
            with self._lock:
                pod = self._pods.pop(meta["uid"], None)
            if pod:
                self._spawn(self._forget, pod)
        elif not spec.get("nodeName"):
            schedule(self.store, self.nodes, obj)
        # a pod new to a lab node is admitted first; on no lab node it stays Pending, as
        # with no kubelet
        elif spec["nodeName"] in self.nodes and (meta["uid"] in self._pods or self._admit(obj)):
            self._sync(self._pod_for(obj), obj)

    def _admit(self, obj: dict) -> bool:
        """A pod new to its node: rejected (Failed) if it does not tolerate one of the node's
        NoExecute taints, as the kubelet's admission does (NoSchedule is the scheduler's)."""
        if obj["status"].get("phase") in ("Failed", "Succeeded"):
            return False  # rejected already, or ended before this kubelet knew it
        if untolerated(self.store, obj["spec"]["nodeName"], obj, NO_EXECUTE) is None:
            return True
        reason, message = "TaintToleration", (
            "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate")
        uid, meta = obj["metadata"]["uid"], obj["metadata"]

        def rejected(p: dict) -> bool:
            if p["metadata"]["uid"] != uid or p["status"].get("phase") == "Failed":
                return False
            podstatus.fail(p, reason, "Pod was rejected: " + message)
            return True

        if self.store.mutate("pods", meta["namespace"], meta["name"], rejected):
            events.record(self.store, obj, reason, message, warning=True)
        return False

    def _pod_for(self, obj: dict) -> _Pod:
        meta = obj["metadata"]
        with self._lock:
            pod = self._pods.get(meta["uid"])
            if pod is None:
                pod = self._pods[meta["uid"]] = _Pod(
                    meta["uid"], meta["namespace"], meta["name"], obj["spec"]["nodeName"]
                )
                self._spawn(self._start_pod, pod, obj)
            return pod

    def _sync(self, pod: _Pod, obj: dict) -> None:
        """React to the pod's latest spec: deletion, deadline, new ephemeral containers."""
        if obj["metadata"].get("deletionTimestamp") and not pod.terminating:
            pod.terminating = True
            grace = obj["metadata"].get("deletionGracePeriodSeconds", 30)
            self._spawn(self._terminate, pod, grace)
        self._arm_deadline(pod, obj)
        with pod.lock:
            new = [
                c
                for c in obj["spec"].get("ephemeralContainers", [])
                if pod.sandbox and c["name"] not in pod.ephemeral
            ]
            pod.ephemeral.update(c["name"] for c in new)
        for c in new:
            self._spawn(self._run_ephemeral, pod, obj, c)

    @staticmethod
    def _spawn(fn: Callable, *args: Any) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    # status writes -------------------------------------------------------------------------------

    def _update(self, pod: _Pod, change: Callable[[dict], Any]) -> None:
        """Change the stored pod atomically, if it is still the pod we run (same uid)."""

        def guarded(p: dict) -> Any:
            return False if p["metadata"]["uid"] != pod.uid else change(p)

        self.store.mutate("pods", pod.ns, pod.name, guarded)

    def _set_state(self, pod: _Pod, key: str, name: str, state: dict, **extra: Any) -> None:
        def change(p: dict) -> None:
            for cs in p["status"].get(key, []):
                if cs["name"] == name:
                    cs.update(state=state, started="running" in state, **extra)
                    if key != EPHEMERAL:
                        cs["ready"] = "running" in state
            podstatus.refresh_phase(p)

        self._update(pod, change)

    # pod start -----------------------------------------------------------------------------------

    def _start_pod(self, pod: _Pod, obj: dict) -> None:
        node = self.nodes[obj["spec"]["nodeName"]]
        spec = obj["spec"]

        def init(p: dict) -> None:
            p["status"].update(
                hostIP=node.internal_ip, hostIPs=[{"ip": node.internal_ip}], startTime=now()
            )
            podstatus.condition(p, "PodReadyToStartContainers", "False")
            podstatus.condition(p, "Initialized", "False" if spec.get("initContainers") else "True")
            podstatus.condition(p, "Ready", "False")
            podstatus.condition(p, "ContainersReady", "False")
            if spec.get("initContainers"):
                p["status"][INIT] = [
                    podstatus.waiting(c, "PodInitializing") for c in spec["initContainers"]
                ]
            p["status"][MAIN] = [
                podstatus.waiting(
                    c, "PodInitializing" if spec.get("initContainers") else "ContainerCreating"
                )
                for c in spec["containers"]
            ]

        self._update(pod, init)
        ip = self.runtime.start_pod(pod.uid, node.name, bool(spec.get("hostNetwork")))
        with pod.lock:
            pod.sandbox = True
        pod.api_volumes = self.access.volumes(pod.uid, spec, pod.ns, pod.name)
        if pod.stopped:
            return

        def sandbox(p: dict) -> None:
            p["status"].update(podIP=ip, podIPs=[{"ip": ip}])
            podstatus.condition(p, "PodReadyToStartContainers", "True")

        self._update(pod, sandbox)
        obj = self.store.find("pods", pod.ns, pod.name) or obj
        self._sync(pod, obj)
        if not all(self._run_init(pod, obj, c) for c in spec.get("initContainers", [])):
            return
        self._update(pod, lambda p: podstatus.condition(p, "Initialized", "True"))
        for c in spec["containers"]:
            self._spawn(self._run_container, pod, obj, c, 0)

    def _pull(self, pod: _Pod, key: str, c: dict) -> bool:
        """Make sure the node holds the image (imagePullPolicy); False (after ErrImagePull, then
        ImagePullBackOff) when it cannot be pulled. The container waits meanwhile."""
        image = c["image"]
        if images.unreachable(image):
            self._pull_failed(pod, key, c)
            return False
        held = images.preloaded(image) or (pod.node, images.normalise(image)) in self._pulled
        if held and c.get("imagePullPolicy") != "Always":
            message = f'Container image "{image}" already present on machine'
            self._event(pod, "Pulled", message, key=key, c=c)
            return True
        self._event(pod, "Pulling", f'Pulling image "{image}"', key=key, c=c)
        began = time.monotonic()
        time.sleep(images.pull_seconds(image))
        took = images.go_duration(time.monotonic() - began)
        with self._lock:
            self._pulled.add((pod.node, images.normalise(image)))
        message = (
            f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            "Image size: 0 bytes."
        )
        self._event(pod, "Pulled", message, key=key, c=c)
        return True

    def _pull_failed(self, pod: _Pod, key: str, c: dict) -> None:
        image = c["image"]
        self._event(pod, "Pulling", f'Pulling image "{image}"', key=key, c=c)
        self._event(
            pod,
            "Failed",
            f'Failed to pull image "{image}": {images.pull_error(image)}',
            warning=True,
            key=key,
            c=c,
        )
        self._event(pod, "Failed", "Error: ErrImagePull", warning=True, key=key, c=c)
        self._set_state(
            pod,
            key,
            c["name"],
            {"waiting": {"reason": "ErrImagePull", "message": images.pull_error(image)}},
        )
        time.sleep(PULL_BACKOFF)
        self._event(pod, "BackOff", f'Back-off pulling image "{image}"', key=key, c=c)
        self._event(pod, "Failed", "Error: ImagePullBackOff", warning=True, key=key, c=c)
        self._set_state(
            pod,
            key,
            c["name"],
            {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{image}"',
                }
            },
        )

    def _env(self, pod: _Pod, obj: dict, c: dict) -> dict[str, str]:
        """The container's env: literal values and the downward API fieldRefs a pod may use."""
        fields = {
            "metadata.name": pod.name,
            "metadata.namespace": pod.ns,
            "metadata.uid": pod.uid,
            "spec.nodeName": obj["spec"]["nodeName"],
            "status.podIP": obj["status"].get("podIP", ""),
            "status.hostIP": obj["status"].get("hostIP", ""),
        }
        env = {"HOSTNAME": pod.name, **self.access.env}
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
            env[e["name"]] = fields.get(ref, "") if ref else e.get("value", "")
        return env

    def _launch(
        self, pod: _Pod, key: str, obj: dict, c: dict, on_exit: Callable[[int, str, str, str], None]
    ) -> bool:
        """Start one container process; on_exit(code, startedAt, containerID, message) follows.

        False when the pod is stopping (nothing started, on_exit never comes).
        """
        started, cid = now(), "containerd://" + secrets.token_hex(32)
        with pod.lock:
            if pod.stopped:
                return False
            self._mark_log(pod.uid, c["name"], cid)
            try:
                pod.pids[c["name"]] = self.runtime.start_container(
                    pod.uid,
                    c["name"],
                    images.argv(c),
                    self._env(pod, obj, c),
                    c.get("workingDir"),
                    lambda code: self._reaped(pod, c["name"], on_exit, code, started, cid),
                    _mounts(obj, c, pod.api_volumes),
                )
            except Exception as e:  # ExecNotFound: containerd's StartError, exit code 128
                self._spawn(on_exit, 128, started, cid, str(e))
                self._event(pod, "Created", f"Created container {c['name']}", key=key, c=c)
                self._event(pod, "Failed", f"Error: {e}", warning=True, key=key, c=c)
                return True
            # Still under the lock: the reaper takes it first, so a container that ends at once
            # is reported running before it is reported terminated.
            self._event(pod, "Created", f"Created container {c['name']}", key=key, c=c)
            self._event(pod, "Started", f"Started container {c['name']}", key=key, c=c)
            self._set_state(
                pod,
                key,
                c["name"],
                {"running": {"startedAt": started}},
                containerID=cid,
                imageID=images.image_id(c["image"]),
            )
        return True

    def _event(
        self,
        pod: _Pod,
        reason: str,
        message: str,
        *,
        warning: bool = False,
        key: str = "",
        c: dict | None = None,
    ) -> None:
        """Record an Event about the pod (and one of its containers) from this node."""
        about = {
            "metadata": {"namespace": pod.ns, "name": pod.name, "uid": pod.uid},
            "spec": {"nodeName": pod.node},
        }
        events.record(
            self.store,
            about,
            reason,
            message,
            warning=warning,
            container=(key, c["name"]) if c else None,
        )

    def _mark_log(self, uid: str, name: str, cid: str) -> None:
        """Remember where this container instance's output starts in the container's log."""
        log = self.runtime.container_log(uid, name)
        start = log.stat().st_size if log.exists() else 0
        with self._lock:
            self._log_starts.setdefault((uid, name), []).append((cid, start))

    def log_span(self, uid: str, name: str, cid: str) -> tuple[int, int | None] | None:
        """Byte range (end None: still growing) of one container instance in its log file."""
        with self._lock:
            starts = self._log_starts.get((uid, name), [])
        for i, (instance, start) in enumerate(starts):
            if instance == cid:
                return start, starts[i + 1][1] if i + 1 < len(starts) else None
        return None

    def _reaped(
        self, pod: _Pod, name: str, on_exit: Callable, code: int, started: str, cid: str
    ) -> None:
        with pod.lock:
            pod.pids.pop(name, None)
            pod.exited.notify_all()
        on_exit(code, started, cid, "")

    def _backoff(self, pod: _Pod, key: str, c: dict, restarts: int, last: dict) -> None:
        """Before a restart: none the first time, then CrashLoopBackOff of 10s, 20s, ... 5m."""
        if restarts == 0:
            self._set_state(
                pod,
                key,
                c["name"],
                {"terminated": last},
                lastState={"terminated": last},
                restartCount=1,
            )
            return
        self._event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {c['name']} in pod "
            f"{pod.name}_{pod.ns}({pod.uid})",
            warning=True,
            key=key,
            c=c,
        )
        delay = min(BACKOFF_MAX, BACKOFF_START * 2 ** (restarts - 1))
        message = (
            f"back-off {int(delay)}s restarting failed container={c['name']} "
            f"pod={pod.name}_{pod.ns}({pod.uid})"
        )
        self._set_state(
            pod,
            key,
            c["name"],
            {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
            lastState={"terminated": last},
            restartCount=restarts + 1,
        )
        time.sleep(delay)

    # init containers, containers, ephemeral containers -------------------------------------------

    def _run_init(self, pod: _Pod, obj: dict, c: dict) -> bool:
        """Run one init container to completion, retrying per restartPolicy; True on success."""
        restarts = 0
        while not pod.stopped and self._pull(pod, INIT, c):
            result = self._run_to_end(pod, obj, c)
            if result is None:
                return False
            term = podstatus.terminated(*result)
            self._set_state(pod, INIT, c["name"], {"terminated": term})
            if result[0] == 0:
                return True
            if obj["spec"].get("restartPolicy") == "Never":
                self._update(pod, lambda p: podstatus.fail(p, "", ""))
                self._finished(pod)
                return False
            self._backoff(pod, INIT, c, restarts, term)
            restarts += 1
        return False

    def _run_to_end(self, pod: _Pod, obj: dict, c: dict) -> tuple | None:
        """Start an init container and wait for it: (code, startedAt, containerID, message)."""
        result: list[tuple] = []
        done = threading.Event()

        def exited(*r: Any) -> None:
            result.append(r)
            done.set()

        if not self._launch(pod, INIT, obj, c, exited):
            return None
        done.wait()
        return result[0]

    def _run_container(self, pod: _Pod, obj: dict, c: dict, restarts: int) -> None:
        if self._pull(pod, MAIN, c):
            self._launch(
                pod, MAIN, obj, c, lambda *r: self._container_exited(pod, obj, c, restarts, *r)
            )

    def _container_exited(
        self,
        pod: _Pod,
        obj: dict,
        c: dict,
        restarts: int,
        code: int,
        started: str,
        cid: str,
        message: str,
    ) -> None:
        policy = obj["spec"].get("restartPolicy", "Always")
        again = not pod.stopped and (policy == "Always" or (policy == "OnFailure" and code != 0))
        term = podstatus.terminated(code, started, cid, message)
        self._set_state(pod, MAIN, c["name"], {"terminated": term})
        if not again:
            self._update(pod, podstatus.finish_if_done)
            self._finished(pod)
            return
        self._backoff(pod, MAIN, c, restarts, term)
        self._run_container(pod, obj, c, restarts + 1)

    def _run_ephemeral(self, pod: _Pod, obj: dict, c: dict) -> None:
        """Ephemeral containers run once: waiting, running, terminated; never restarted."""

        def waiting(p: dict) -> None:
            statuses = p["status"].setdefault(EPHEMERAL, [])
            if not any(cs["name"] == c["name"] for cs in statuses):
                statuses.append(podstatus.waiting(c, "ContainerCreating"))

        def exited(code: int, started: str, cid: str, message: str) -> None:
            self._set_state(
                pod,
                EPHEMERAL,
                c["name"],
                {"terminated": podstatus.terminated(code, started, cid, message)},
            )

        self._update(pod, waiting)
        if self._pull(pod, EPHEMERAL, c):
            self._launch(pod, EPHEMERAL, obj, c, exited)

    def _finished(self, pod: _Pod) -> None:
        """Once the pod is terminal, nothing restarts and its sandbox goes."""
        current = self.store.find("pods", pod.ns, pod.name)
        if current and current["status"].get("phase") in ("Succeeded", "Failed"):
            with pod.lock:
                pod.done = True
            if not pod.terminating:
                self._stop_sandbox(pod)

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
            if pod.stopped:
                return
            pod.done = True
        self._event(
            pod, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
        )
        self._kill(pod, signal.SIGKILL, 0)

        def failed(p: dict) -> None:
            podstatus.kill_all(p, 137)
            podstatus.fail(
                p,
                "DeadlineExceeded",
                "Pod was active on the node longer than the specified deadline",
            )

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
        """SIGTERM, wait up to the grace period, then stop the sandbox and remove the pod."""
        if not pod.done:
            for name in list(pod.pids):
                self._event(pod, "Killing", f"Stopping container {name}")
            self._kill(pod, signal.SIGTERM, float(grace))
        self._stop_sandbox(pod)
        current = self.store.find("pods", pod.ns, pod.name)
        if current and current["metadata"]["uid"] == pod.uid:
            with contextlib.suppress(Exception):  # deleted meanwhile (grace 0 from a client)
                self.store.delete("pods", pod.ns, pod.name)

    def _forget(self, pod: _Pod) -> None:
        """The pod is gone (or the server stops): no more restarts, no sandbox, no log marks."""
        with pod.lock:
            pod.terminating = pod.done = True
            if pod.deadline:
                pod.deadline.cancel()
        self._stop_sandbox(pod)
        with self._lock:
            for key in [k for k in self._log_starts if k[0] == pod.uid]:
                del self._log_starts[key]

    def _stop_sandbox(self, pod: _Pod) -> None:
        with pod.lock:
            if not pod.sandbox:
                return
            pod.sandbox = False
        self.access.revoke(pod.uid)
        self.runtime.stop_pod(pod.uid)


def _mounts(obj: dict, c: dict, token_volumes: set[str]) -> list[tuple[str, str]]:
    """The container's mounts as (volume name, mount path): emptyDirs and the service account
    token volumes; the lab has no other kind."""
    have = token_volumes | {v["name"] for v in obj["spec"].get("volumes", []) if "emptyDir" in v}
    return [(m["name"], m["mountPath"]) for m in c.get("volumeMounts", []) if m["name"] in have]
