"""`watch` and `capture` share this: resolve the targets, keep the pod map current from a watch,
open the capture session, merge its streams and run them through the same pipeline `analyze`
uses, into the outputs the command chose; stop on duration, count, the streams' end or SIGINT.

A workload, -l or --ns is followed (cluster.follow): a pod of it that starts during the capture
is captured too, by a thread that connects it and adds its stream to the merge; a capture whose
pod was deleted ends as the pod did, not as a dropped stream.

Threads: one reader per capture point (capture.merge), one pod watch, one per joining pod while
it connects, the pcapng's file writer (output.filethread); everything else (merge, dedupe,
pcapng, engine, outputs, redraws) runs in the main thread.
"""

from __future__ import annotations

import contextlib
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kubectl_netmon.capture.decode import DecodeStats, count, packets
from kubectl_netmon.capture.merge import TICK_S, MergedStreams, Source
from kubectl_netmon.cli.kubeflags import KubeFlags
from kubectl_netmon.cli.liveflags import LiveOptions
from kubectl_netmon.enrich.podmap import PodMap
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.heap import keep_freed_memory
from kubectl_netmon.output.live import Status
from kubectl_netmon.pipeline import Pipeline, RunResult, few_collections

# How long a reader thread whose socket read returned may wait for the GIL (Python's default,
# 5 ms, lets a fast stream's socket buffer fill meanwhile and the sender stall).
SWITCH_INTERVAL_S = 0.0005
# dumpcap's last words: "Packets received/dropped on interface 'eth0': 118/0 (pcap:0/...)"
_DROPPED = re.compile(r"received/dropped on interface '.*': \d+/(\d+)")


@dataclass
class LiveResult:
    """What the run saw, for the summary: merge counters, pipeline result, how streams ended
    (`dropped`: the streams that broke off, each in one line; their packets were kept)."""

    status: Status
    run: RunResult
    decode: DecodeStats
    streams: list[str]
    dropped: list[str] = field(default_factory=list)


class LiveRun:
    """One live capture. run(make_outputs) builds the outputs once the pod map exists; they may
    use active() (open connections) and status(); `tap` may wrap the record source (a pcapng
    Recording) and `on_tick` runs a few times a second (redraws, flushes)."""

    def __init__(self, kube: KubeFlags, opts: LiveOptions, on_status: Callable[[str], None],
                 echo_while_running: bool = True) -> None:
        """on_status gets the session's progress lines; once packets flow only if
        echo_while_running (a view drawn on the same terminal shows the latest one instead)."""
        self.kube, self.opts, self.on_status = kube, opts, on_status
        self._echo_running = echo_while_running
        self.pipeline: Pipeline | None = None
        self.merged: MergedStreams | None = None
        self._started = time.monotonic()
        self._note = ""
        self._waiting = False  # following, with no capture running (said once)
        self._drops = 0
        self.tap: Callable | None = None
        self.podsource = None  # cluster.podsource.PodSource, once connected
        self.on_tick: Callable[[], None] | None = None
        self._flushes: list[Callable[[], None]] = []  # the outputs', run every tick
        self._follow = None  # cluster.follow.Follow of the targets
        self._session = None  # cluster.session.CaptureSession, once entered
        self._points: list = []  # every capture point, in the order of merged.streams
        self._points_lock = threading.Lock()

    def status(self) -> Status:
        m, elapsed = self.merged, time.monotonic() - self._started
        if m is None:
            return Status(drops=self._drops, elapsed_s=elapsed, note=self._note)
        return Status(m.stats.packets, m.stats.duplicates, self._drops, m.open_streams,
                      len(m.streams), elapsed, self._note)

    def active(self) -> Iterator:
        return self.pipeline.active() if self.pipeline is not None else iter(())

    def run(self, make_outputs: Callable[[PodMap], list]) -> LiveResult:
        """Resolve, follow the pods, capture until the end; what happened, for the summary."""
        from kubectl_netmon.cluster.follow import Follow
        from kubectl_netmon.cluster.podsource import PodSource
        from kubectl_netmon.cluster.session import CaptureSession

        self._check_targets("")  # grammar first: a usage error needs no cluster
        keep_freed_memory()
        cluster = self.kube.connect()
        targets = self._check_targets(cluster.namespace, cluster.client)
        self.podsource = source = PodSource(
            cluster.client, namespaces=[*targets.namespaces(), targets.namespace or
                                        cluster.namespace])
        self._follow = follow = Follow(targets, self.opts.container)
        if follow.following:
            source.on_pod = follow.seen
        pods = source.sync()
        for limit in source.limits:
            self.on_status(limit)
        stop_watch = threading.Event()
        threading.Thread(target=self._watch_pods, args=(source, stop_watch), daemon=True,
                         name="netmon-pods").start()
        try:
            self._session = session = CaptureSession(cluster.client, targets,
                                                     self._acquire_options(), self._status)
            with session as points:
                result, decode = self._capture(points, session.stop, make_outputs(pods))
                status = self.status()
        finally:
            stop_watch.set()
        self.merged.join()
        with self._points_lock:
            pairs = list(zip(self._points, self.merged.streams))
        gone = [self._pod_ended(p) for p, _ in pairs]
        # a capture that failed (dumpcap's exit status came) says why, not how its output ended
        broke = [bool(s.error) and not g and not p.failed for (p, s), g in zip(pairs, gone)]
        dropped = [f"the stream from {s.name} dropped after {s.packets} packets ({s.error})"
                   for (_, s), b in zip(pairs, broke) if b]
        ended = [f"{p.name}: pod ended ({p.stream.bytes_received} bytes received)" if g
                 else p.ended() for (p, _), g, b in zip(pairs, gone, broke) if not b]
        return LiveResult(status, result, decode, ended, dropped)

    def _pod_ended(self, point) -> bool:
        """An ephemeral capture whose pod the watch saw deleted or finished: it ended with it."""
        pods = point.pods
        return len(pods) == 1 and point.pod == pods[0].name and self._follow.ended(pods[0])

    def _check_targets(self, namespace: str, api_client=None):
        """The TargetSpec (grammar only without a client), or the resolved Targets."""
        from kubectl_netmon.cluster.targets import parse_targets, resolve

        opts = self.opts
        spec = parse_targets(opts.words, opts.whole_namespace or namespace, opts.selector,
                             opts.whole_namespace is not None, opts.container)
        return resolve(api_client, spec) if api_client is not None else spec

    def _acquire_options(self):
        from kubectl_netmon.cluster.session import AcquireOptions

        opts = self.opts
        acquire = AcquireOptions(mode=opts.mode, bpf_filter=opts.bpf_filter, snaplen=opts.snaplen,
                                 duration_s=math.ceil(opts.duration_s) if opts.duration_s
                                 else None, count=opts.count,
                                 image_pull_secret=opts.image_pull_secret)
        if opts.image:
            acquire.image = opts.image
        if opts.node_namespace:
            acquire.node_namespace = opts.node_namespace
        if self.kube.request_timeout_s is not None:
            acquire.request_timeout = self.kube.request_timeout_s or None  # 0: no limit
        return acquire

    def _capture(self, points: list, ask_finish: Callable[[], None], outputs: list
                 ) -> tuple[RunResult, DecodeStats]:
        """Merge the points' streams through the tap and the pipeline until the end."""
        self._started = time.monotonic()
        for point in points:  # a quiet stream still lets the clocks run (capture.merge)
            point.stream.idle_every(TICK_S)
        following = self._follow is not None and self._follow.following
        self._points = list(points)
        self.merged = merged = MergedStreams(
            [Source(p.name, p.output, p.description) for p in points],
            self.opts.duration_s, self.opts.count, ask_finish=ask_finish, growing=following)
        merged.on_tick = self._tick
        if following:
            # a followed workload can gain pods at any moment, also once every captured pod
            # ended (a Recreate rollout, deleted pods): the merge waits for them until the end
            merged.expect()
            self._follow.start(self._join, self._session.pod_ended)
        records = self.tap(merged) if self.tap is not None else merged
        decode = DecodeStats()
        with _sigint_stops(merged), few_collections(), _prompt_handover():
            return self._analyse(records, decode, outputs), decode

    def _analyse(self, records, decode: DecodeStats, outputs: list) -> RunResult:
        """The pipeline over the packets, or (nothing to show) only decoding them."""
        if not self.opts.analyse:
            count(records, decode)
            return RunResult()
        self.pipeline = Pipeline(outputs, _detectors(self.opts.detect))
        self._flushes = [out.flush for out in outputs if hasattr(out, "flush")]
        return self.pipeline.run(packets(records, decode))

    def _tick(self) -> None:
        """Flows idle past their timeouts end; what the outputs hold goes out (an http record
        of a connection still open); then the command's own tick (redraws)."""
        if self.pipeline is not None:
            self.pipeline.expire(time.time_ns() - 2 * 1_000_000_000)
        for flush in self._flushes:
            flush()
        self._say_when_none_runs()
        if self.on_tick is not None:
            self.on_tick()

    def _say_when_none_runs(self) -> None:
        """Following, with no capture running: say that it waits for pods (once each time)."""
        idle = bool(self._follow is not None and self._follow.following
                    and not self.merged.open_streams)
        if idle and not self._waiting:
            self._status("no captured pod runs now; waiting for pods of the targets to start")
        self._waiting = idle

    def _status(self, line: str) -> None:
        """A progress line of the session (escaped by it); counts what the captures lost."""
        self._note = line
        dropped = _DROPPED.search(line)
        if dropped:
            self._drops += int(dropped.group(1))
        if self.merged is None or self._echo_running:
            self.on_status(line)

    def _join(self, pods: list) -> None:
        """Pods that joined the targets (from the pod watch): connect them in a thread of their
        own; the merge waits for them meanwhile."""
        self.merged.expect()
        threading.Thread(target=self._connect_joining, args=(pods,), daemon=True,
                         name="netmon-join").start()

    def _connect_joining(self, pods: list) -> None:
        try:
            for point in self._session.add_pods(pods):
                with self._points_lock:
                    self.merged.add_source(Source(point.name, point.output, point.description))
                    self._points.append(point)
        except ClusterError as e:
            self._status(f"{', '.join(p.key for p in pods)}: not captured ({e})")
        finally:
            self.merged.expect(-1)

    def _watch_pods(self, source, stop: threading.Event) -> None:
        """Follow pod and node changes so flows name the pod that held an address then."""
        try:
            source.run(lambda: None, stop)
        except ClusterError as e:
            self._note = f"pod watch stopped ({e}); names may be stale"


@contextlib.contextmanager
def _sigint_stops(merged: MergedStreams) -> Iterator[None]:
    """Ctrl-C (or SIGTERM, as tcpdump takes it) ends the capture cleanly instead of unwinding:
    the remote captures are asked to finish (their last packets kept, flows flushed, summary
    printed); a second Ctrl-C ends it at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    presses = []

    def on_sigint(*_: object) -> None:
        presses.append(1)
        if len(presses) == 1:
            merged.finish()
        else:
            merged.stop()

    old = {sig: signal.signal(sig, on_sigint) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _prompt_handover() -> Iterator[None]:
    """The reader threads get the GIL soon after their reads return (see SWITCH_INTERVAL_S);
    undone afterwards."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _detectors(detect: bool) -> list:
    if not detect:
        return []
    from kubectl_netmon.detect.registry import default_detectors
    return default_detectors()


def stderr_status(quiet: bool) -> Callable[[str], None]:
    """Session progress lines on stderr (escaped by the session), unless -q; each in one
    write, so the lines of several reader threads do not interleave."""
    if quiet:
        return lambda line: None
    return lambda line: print(f"{line}\n", end="", file=sys.stderr, flush=True)
