"""Packets -> flow engine (with detectors listening) -> outputs, streaming.

The source is any iterable of capture.model.Packet: a file reader today, a live exec stream
later; nothing here knows which. Each connection reaches the outputs when the engine finishes
it and each notice when a detector raises it, so memory does not grow with the capture.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.engine import Engine
from kubectl_netmon.capture.flows import FlowConfig
from kubectl_netmon.capture.model import Packet
from kubectl_netmon.detect.base import Detector, Notice


class Output(Protocol):
    """Where finished connections and notices go (table collector, JSON lines, Zeek logs)."""

    def conn(self, conn: Conn) -> None: ...

    def notice(self, notice: Notice) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunResult:
    """What a run saw, for the summary line: counts and the engine's warnings."""

    flows: int = 0
    notices: int = 0
    warnings: list[str] = field(default_factory=list)


def run(packets: Iterable[Packet], outputs: Sequence[Output], detectors: Sequence[Detector] = (),
        config: FlowConfig | None = None) -> RunResult:
    """Run the packets through the engine and detectors into the outputs, then close them."""
    result = RunResult()

    def to_outputs(notice: Notice) -> None:
        result.notices += 1
        for out in outputs:
            out.notice(notice)

    for detector in detectors:
        detector.bind(to_outputs)
    engine = Engine(list(detectors), config or FlowConfig())
    try:
        for conn in engine.run(packets):
            result.flows += 1
            for out in outputs:
                out.conn(conn)
    finally:
        for out in outputs:
            out.close()
    result.warnings = engine.stats.warnings()
    return result


def find_conn(packets: Iterable[Packet], uid: str, config: FlowConfig | None = None,
              ) -> Conn | None:
    """The connection with this uid (uids are the same on every run over the same input)."""
    for conn in Engine([], config or FlowConfig()).run(packets):
        if conn.uid == uid:
            return conn
    return None
