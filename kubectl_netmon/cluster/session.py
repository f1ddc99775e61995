"""Live acquisition: capture next to the target pods and stream pcapng back over exec.

    with CaptureSession(api_client, targets, AcquireOptions(...), on_status) as points:
        for point in points:          # one per pod (ephemeral) or per node (node mode)
            for chunk in point.output:   # pcapng bytes, in order
                ...
        # point.stream.exit: the remote exit status (channel 3); point.ended() says it in words

`session.stop()` (any thread) asks every capture to finish gracefully: dumpcap flushes its last
packets, the output ends and the exit status arrives.

Entering checks admission first (nothing is created when the cluster would refuse), then adds
or reuses the capture containers, waits for the new ones (progress through on_status) and
connects one exec stream per capture point, reading until its capture has started (its first
output, within the request timeout: a capture that never starts fails with what to check). A
reused container may exit before the exec reaches it (it lingers only so long): a new one
replaces it.
Leaving (normally, on an exception, SIGINT or SIGTERM) closes the streams, which stops the
remote dumpcap, and deletes the node pods. A SIGKILLed client is covered remotely: the capture
stops when its stdin reaches EOF or at its hard limit, the containers exit when no capture
beats, and node pods die at activeDeadlineSeconds.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

import websocket
from kubernetes import client

from kubectl_netmon.cluster import admission, launch, podwait, specs
from kubectl_netmon.cluster.exec_stream import ExecStream
from kubectl_netmon.cluster.targets import PodRef, Targets
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

NOT_FOUND = 127  # the shell's exit status for a command it cannot find


@dataclass
class AcquireOptions:
    """How to capture. Durations in seconds; None means until stopped (bounded remotely by
    max_duration_s)."""

    mode: str = "auto"  # "ephemeral" | "node" | "auto"
    image: str = specs.DEFAULT_IMAGE
    image_pull_secret: str = ""  # node pods only (ephemeral containers use the pod's)
    bpf_filter: str = ""
    snaplen: int = 262144
    duration_s: int | None = None
    count: int | None = None
    node_namespace: str = "default"
    timeout_s: float = 120.0  # waiting for image pull and scheduling
    # connecting an exec stream, and then its capture's start (its first output); None: no limit
    request_timeout: float | None = 60.0
    max_duration_s: int = 4 * 3600  # hard bound of a remote capture without a duration
    linger_s: int = 60  # an idle netmon container exits after this; reused until then
    deadline_slack_s: int = 60  # node pod deadline beyond start-up and the capture limit

    def limit_s(self) -> int:
        """How long a remote capture may run at most: the duration asked for, else the hard
        bound (a capture nobody stops, should its client vanish unnoticed)."""
        return self.max_duration_s if self.duration_s is None else self.duration_s

    def node_deadline_s(self) -> int:
        """activeDeadlineSeconds of node pods: start-up, the capture, then some slack."""
        return int(self.timeout_s) + self.limit_s() + self.deadline_slack_s


@dataclass
class CapturePoint:
    """One remote capture: `name` is "ns/pod" (ephemeral) or "node/NAME" (node mode); `pods`
    are the target pods whose traffic it holds (for names in pcapng and tables); namespace, pod
    and container say where the capture runs."""

    name: str
    node: str
    description: str
    stream: ExecStream
    output: Iterator[bytes]  # the capture's pcapng bytes in order, from the first (read at start)
    pods: list[PodRef] = field(default_factory=list)
    interface: str = "eth0"
    namespace: str = ""
    pod: str = ""
    container: str = ""
    stderr: StderrLines | None = None

    @property
    def failed(self) -> bool:
        """The remote capture exited with an error (its exit status came)."""
        status = self.stream.exit
        return status is not None and status.code != 0

    def ended(self) -> str:
        """How the capture ended, in one line (call after the output is exhausted)."""
        got = f"{self.stream.bytes_received} bytes received"
        status = self.stream.exit
        if status is None:
            return f"{self.name}: stream ended without an exit status ({got})"
        if status.code == 0:
            return f"{self.name}: capture finished ({got})"
        if status.code == NOT_FOUND:
            return (f"{self.name}: capture failed: the image has no dumpcap; use an --image "
                    f"that has dumpcap/tshark ({got})")
        if status.code is not None:  # dumpcap's own words came as status lines on stderr
            if self.stderr is not None and self.stderr.error:
                return f"{self.name}: capture failed: {self.stderr.error} (exit code " \
                    f"{status.code}{_killed(status.code)}, {got})"
            return f"{self.name}: capture failed, exit code {status.code}{_killed(status.code)} " \
                f"({got})"
        return f"{self.name}: capture failed: {escape(status.message)} ({got})"


def _killed(code: int) -> str:
    """What an exit code above 128 says as the shell reports it: killed by signal code-128."""
    try:
        return f" (dumpcap killed by {signal.Signals(code - 128).name})" if code > 128 else ""
    except ValueError:  # not a signal's number
        return ""


_OUTPUT_FILE_LINE = b"File: -"
_COMPLAINT = b"dumpcap: "  # how dumpcap starts an error message
_SEE_GUIDE = b"See the User's Guide"


class StderrLines:
    """Remote stderr, which arrives in arbitrary chunks, as whole escaped status lines (but
    dumpcap's "File: -", which names the output we are reading). `error`: dumpcap's last
    complaint ("dumpcap: Invalid capture filter ..." and the line explaining it), for the
    message of a capture that failed."""

    def __init__(self, prefix: str, on_status: Callable[[str], None]) -> None:
        self.prefix, self.on_status, self.buf = prefix, on_status, b""
        self._error: list[str] = []

    @property
    def error(self) -> str:
        return " ".join(self._error)

    def __call__(self, data: bytes) -> None:
        *lines, self.buf = (self.buf + data).replace(b"\r", b"\n").split(b"\n")
        for line in map(bytes.strip, lines):
            if line and line != _OUTPUT_FILE_LINE:
                text = escape(line)
                if line.startswith(_COMPLAINT):
                    self._error = [text]
                elif len(self._error) == 1 and not line.startswith(_SEE_GUIDE):
                    self._error.append(text)
                self.on_status(f"{self.prefix}: {text}")


@dataclass
class _Plan:
    """A capture point before it is connected: where to exec and what to run."""

    name: str
    node: str
    description: str
    namespace: str
    pod: str
    container: str  # also keys the heartbeat file shared with the container's loop
    interface: str
    bpf_filter: str
    pods: list[PodRef]
    ephemeral: bool
    reused: bool = False  # a netmon container that was already running


class CaptureSession:
    """Context manager: __enter__ -> connected CapturePoints; __exit__ cleans up."""

    def __init__(self, api_client: client.ApiClient, targets: Targets, options: AcquireOptions,
                 on_status: Callable[[str], None]) -> None:
        self.api_client, self.targets, self.options = api_client, targets, options
        self.on_status = on_status
        self.mode = ""
        self.points: list[CapturePoint] = []
        self._node_pods: list[tuple[str, str]] = []  # (namespace, name) created by us
        self._old_handlers: dict[int, object] = {}
        self._lock = threading.Lock()  # points and node pods that add_pods adds
        self._closed = False  # stop() or cleanup ran: no capture joins any more
        self._node_joins: dict[str, threading.Lock] = {}  # node -> held while a pod joins there

    def __enter__(self) -> list[CapturePoint]:
        self._install_signals()
        try:
            return self._start()
        except BaseException:
            self._cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self._cleanup()

    # start ---------------------------------------------------------------------------------------

    def _start(self) -> list[CapturePoint]:
        opts = self.options
        self.mode = admission.choose_mode(self.api_client, opts.mode, self.targets,
                                          opts.node_namespace)
        self.on_status(f"capture mode: {self.mode}")
        plans = self._ephemeral_plans() if self.mode == "ephemeral" else self._node_plans()
        for plan in plans:
            if not plan.reused:  # a reused one ran a moment ago: _begin finds out if it still does
                self._wait(plan)
        for plan in plans:
            self.points.append(self._begin(plan))
        return list(self.points)

    def _ephemeral_plans(self) -> list[_Plan]:
        return [self._ephemeral_plan(pod) for pod in self.targets.pods]

    def _ephemeral_plan(self, pod: PodRef, reuse: bool = True) -> _Plan:
        name, new = launch.add_ephemeral(self.api_client, pod, self.options.image,
                                         self.options.linger_s, reuse)
        self.on_status(f"{pod.key}: {'added' if new else 'reusing'} ephemeral container {name}")
        return _Plan(pod.key, pod.node, f"ephemeral container {name} in pod {pod.key}",
                     pod.namespace, pod.name, name, "eth0", self.options.bpf_filter, [pod], True,
                     reused=not new)

    def _node_plans(self) -> list[_Plan]:
        groups, whole = self.targets.by_node(), set(self.targets.nodes)
        return [self._node_plan(node, groups.get(node, []), node in whole)
                for node in [*groups, *sorted(whole - set(groups))]]

    def _node_plan(self, node: str, pods: list[PodRef], whole: bool) -> _Plan:
        """A new capture pod on the node, filtered to the pods (a whole node: unfiltered)."""
        opts = self.options
        name = launch.create_node_pod(self.api_client, node, opts.node_namespace, opts.image,
                                      opts.linger_s, opts.node_deadline_s(),
                                      opts.image_pull_secret)
        self._own(opts.node_namespace, name)
        self.on_status(f"node/{node}: created capture pod {opts.node_namespace}/{name}")
        ips = [] if whole else [p.ip for p in pods]  # a whole node: no host filter
        covered = f" for {len(pods)} pod(s)" if ips else ""
        return _Plan(f"node/{node}", node,
                     f"capture pod {opts.node_namespace}/{name} on node {node}{covered}",
                     opts.node_namespace, name, name, "any",
                     specs.hosts_filter(ips, opts.bpf_filter), pods, False)

    def _own(self, namespace: str, name: str) -> None:
        """A node pod we created is deleted on cleanup; after it (a late add_pods), now."""
        with self._lock:
            if not self._closed:
                self._node_pods.append((namespace, name))
                return
        launch.delete_pod(self.api_client, namespace, name)
        raise _Closed()

    def add_pods(self, pods: list[PodRef]) -> list[CapturePoint]:
        """Captures of pods that joined the targets while the session runs (any thread), in its
        mode: an ephemeral container each; in node mode one more capture in the node's capture
        pod filtered to the pod's address, or a new capture pod on a node without one (pods
        that join there at once wait for it: one capture pod per node). Once the session
        stops, nothing joins (a capture that connected meanwhile is closed)."""
        points = []
        try:
            for pod in pods:
                if self._closed:
                    break
                with self._joining(pod.node):
                    point = self._join(pod)
                if point is None:
                    break
                points.append(point)
        except _Closed:
            pass
        return points

    def _joining(self, node: str) -> contextlib.AbstractContextManager:
        """Held while a pod joins on the node in node mode (the first there creates the capture
        pod the others then share); nothing to hold for ephemeral containers."""
        if self.mode == "ephemeral":
            return contextlib.nullcontext()
        with self._lock:
            return self._node_joins.setdefault(node, threading.Lock())

    def _join(self, pod: PodRef) -> CapturePoint | None:
        """The joining pod's capture, started; None when the session stopped meanwhile."""
        plan = self._joining_plan(pod)
        if not plan.reused:
            self._wait(plan)
        point = self._begin(plan)
        with self._lock:
            if not self._closed:
                self.points.append(point)
                return point
        point.stream.close()
        return None

    def _joining_plan(self, pod: PodRef) -> _Plan:
        if self.mode == "ephemeral":
            return self._ephemeral_plan(pod)
        with self._lock:
            home = next((p for p in self.points if p.name == f"node/{pod.node}"), None)
        if home is None:
            return self._node_plan(pod.node, [pod], False)
        return _Plan(pod.key, pod.node, f"capture pod {home.namespace}/{home.pod} on node "
                     f"{pod.node} for pod {pod.key}", home.namespace, home.pod, home.container,
                     "any", specs.hosts_filter([pod.ip], self.options.bpf_filter), [pod], False)

    def _wait(self, plan: _Plan) -> None:
        podwait.wait_running(self.api_client, plan.namespace, plan.pod, plan.container,
                             plan.ephemeral, self.options.timeout_s, self.on_status)

    def _begin(self, plan: _Plan) -> CapturePoint:
        """The plan's capture, started. When a reused container turns out to have exited, a new
        container takes its place. Servers say so two ways: before 1.30 (v4) the kubelet
        refuses the upgrade; from 1.30 (v5) the API server upgrades first and the kubelet's
        refusal ends the stream with a Status but no exit code and no output."""
        try:
            point = self._connect(plan)
        except ClusterError:
            if not plan.reused or launch.still_running(self.api_client, plan.pods[0],
                                                       plan.container):
                raise
        else:
            ended = point.stream.exit
            if not plan.reused or point.stream.bytes_received or ended and ended.code is not None:
                return point
            point.stream.close()
        self.on_status(f"{plan.name}: ephemeral container {plan.container} exited before the "
                       "capture started; adding a new one")
        fresh = self._ephemeral_plan(plan.pods[0], reuse=False)
        self._wait(fresh)
        return self._connect(fresh)

    def _connect(self, plan: _Plan) -> CapturePoint:
        """Exec the capture and read until it has started: its first output (the pcapng header)
        or, when it could not run, the end of the stream. A capture silent for longer than the
        request timeout is closed (which stops it remotely) and fails."""
        opts = self.options
        dumpcap = specs.dumpcap_argv(plan.interface, plan.bpf_filter, opts.snaplen,
                                     opts.limit_s(), opts.count)
        stderr = StderrLines(plan.name, self.on_status)
        stream = ExecStream(self.api_client.configuration, plan.namespace, plan.pod,
                            specs.capture_command(plan.container, dumpcap), plan.container,
                            stdin=True, on_stderr=stderr, timeout=opts.request_timeout)
        stream.connect()
        chunks = stream.chunks()
        silent = _Deadline(opts.request_timeout, stream.close)
        try:
            first = next(chunks, b"")
        except BaseException:  # a dropped stream or Ctrl-C: no point will own it to close it
            stream.close()
            raise
        finally:
            silent.cancel()
        if silent.passed:
            raise ClusterError(_never_started(plan, opts.request_timeout))
        return CapturePoint(plan.name, plan.node, plan.description, stream,
                            itertools.chain((first,), chunks) if first else chunks, plan.pods,
                            plan.interface, plan.namespace, plan.pod, plan.container, stderr)

    def stop(self) -> None:
        """Ask every capture to finish: stdin is half-closed (v5), the remote watchdog stops
        dumpcap, which flushes, and the output ends after the last packets with the exit status.
        Over v4 (no half-close) the stream is closed instead. Callable from any thread."""
        with self._lock:
            self._closed = True
            points = list(self.points)
        for point in points:
            _finish(point)

    def pod_ended(self, pod: PodRef) -> None:
        """A captured pod was deleted or finished: a capture made for it alone in a node's
        capture pod is finished too (its filter holds the pod's address, which another pod may
        get next); a container of its own ends with the pod anyway. Any thread."""
        with self._lock:
            points = [p for p in self.points if p.pods == [pod] and p.pod != pod.name]
        for point in points:
            _finish(point)

    # cleanup -------------------------------------------------------------------------------------

    def _cleanup(self) -> None:
        """Close every stream (the remote capture sees EOF), delete our node pods; signals are
        held off meanwhile so a second Ctrl-C cannot leave a pod behind."""
        self._hold_signals()
        try:
            self.stop()
            for point in self.points:
                point.stream.close()
            for namespace, name in self._node_pods:
                try:
                    launch.delete_pod(self.api_client, namespace, name)
                except ClusterError as e:
                    self.on_status(f"{e}; run `kubectl netmon cleanup` to remove it")
            self._node_pods.clear()
        finally:
            self._restore_signals()

    # signals -------------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        """SIGTERM ends the session like Ctrl-C does (SystemExit 143 runs __exit__)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._old_handlers[signal.SIGTERM] = signal.signal(signal.SIGTERM, _terminate)

    def _hold_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, signal.SIG_IGN)

    def _restore_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
        self._old_handlers.clear()


def _finish(point: CapturePoint) -> None:
    """Ask a capture to finish: stdin half-closed (v5: the remote watchdog stops dumpcap, which
    flushes) or, over v4, the stream closed."""
    try:
        if point.stream.protocol.startswith("v5"):
            point.stream.close_stdin()
        else:
            point.stream.close()
    except (OSError, websocket.WebSocketException):
        pass  # already gone: its reader sees the end


class _Closed(ClusterError):
    """The session stopped while a pod was joining it."""


class _Deadline:
    """Calls `expire` (from a timer thread) unless cancelled within `seconds` (None: never)."""

    def __init__(self, seconds: float | None, expire: Callable[[], None]) -> None:
        self.passed = False
        self._expire = expire
        self._timer = threading.Timer(seconds, self._fire) if seconds else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        self.passed = True
        self._expire()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _never_started(plan: _Plan, seconds: float | None) -> str:
    """Why a capture failed that wrote nothing in time, where it ran, and what to check."""
    where = plan.description + (f" on node {plan.node}" if plan.ephemeral else "")
    check = f"kubectl exec -n {plan.namespace} {plan.pod} -c {plan.container} -- dumpcap -D"
    return (f"{plan.name}: the capture did not start within {seconds:g}s: no output from "
            f"dumpcap in {where}; check the node's load and that dumpcap runs in the image "
            f"({check}); --request-timeout allows longer")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
