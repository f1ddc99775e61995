"""Packets -> flow engine (with detectors listening) -> outputs, streaming.

The source is any iterable of capture.model.Packet: a file reader or the merged live streams;
nothing here knows which. Each connection reaches the outputs when the engine finishes
it, each http/dns/ssl record when its transaction completes and each notice when a detector
raises it, so memory does not grow with the capture.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.flows import FlowConfig
from kubectl_netmon.capture.model import Packet
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.output.zeek_l7 import L7Logs

# The cyclic GC's first-generation threshold during a run. Per-packet and per-flow objects have
# no reference cycles (the engine breaks Conn <-> Flow when a record is final), so the default
# (700) only makes the collector rescan the live flow table over and over.
GC_THRESHOLD = (100_000, 50, 100)


@contextmanager
def few_collections() -> Iterator[None]:
    """Collect cycles rarely during a run: what exists so far is frozen (never scanned again)
    and the thresholds raised; both undone afterwards (tests run in-process)."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


class Output(Protocol):
    """Where finished connections and notices go (table collector, JSON lines, Zeek logs)."""

    def conn(self, conn: Conn) -> None: ...

    def notice(self, notice: Notice) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class L7Output(Protocol):
    """An output that also writes http, dns and ssl records (Zeek's logs besides conn.log)."""

    def l7_log(self, path: str, rec: dict) -> None: ...


@dataclass
class RunResult:
    """What a run saw, for the summary line: counts and the engine's warnings."""

    flows: int = 0
    notices: int = 0
    warnings: list[str] = field(default_factory=list)


class Pipeline:
    """The engine, detectors and outputs of one run. A live source also calls expire() while it
    is quiet (flows time out without packets) and active() to show the open connections."""

    def __init__(self, outputs: Sequence[Output], detectors: Sequence[Detector] = (),
                 config: FlowConfig | None = None) -> None:
        self.result = RunResult()
        self._outputs = outputs
        for detector in detectors:
            detector.bind(self._notice)
        listeners: list = list(detectors)
        self._l7_outputs = l7 = [out for out in outputs if isinstance(out, L7Output)]
        if l7:  # one output (the usual case) gets the records first-hand
            listeners.append(L7Logs(l7[0].l7_log if len(l7) == 1 else self._l7_log))
        self.engine = Engine(listeners, config or FlowConfig())

    def run(self, packets: Iterable[Packet]) -> RunResult:
        """Run the packets through the engine and detectors into the outputs, then close them."""
        try:
            for conn in self.engine.run(packets):
                self._conn(conn)
        finally:
            for out in self._outputs:
                out.close()
        self.result.warnings = self.engine.stats.warnings()
        return self.result

    def expire(self, now_ns: int) -> None:
        """Hand the outputs the connections that timed out by now_ns (packet time)."""
        for conn in self.engine.expire(now_ns):
            self._conn(conn)

    def active(self) -> Iterator[Conn]:
        """The open connections as of now."""
        return self.engine.active()

    def _conn(self, conn: Conn) -> None:
        self.result.flows += 1
        for out in self._outputs:
            out.conn(conn)

    def _l7_log(self, path: str, rec: dict) -> None:
        for out in self._l7_outputs:
            out.l7_log(path, rec)

    def _notice(self, notice: Notice) -> None:
        self.result.notices += 1
        for out in self._outputs:
            out.notice(notice)


def run(packets: Iterable[Packet], outputs: Sequence[Output], detectors: Sequence[Detector] = (),
        config: FlowConfig | None = None) -> RunResult:
    """Run the packets through the engine and detectors into the outputs, then close them."""
    return Pipeline(outputs, detectors, config).run(packets)


def find_conn(packets: Iterable[Packet], uid: str, config: FlowConfig | None = None,
              ) -> Conn | None:
    """The connection with this uid (uids are the same on every run over the same input)."""
    for conn in Engine([], config or FlowConfig()).run(packets):
        if conn.uid == uid:
            return conn
    return None
