"""What a detector is and what it raises.

A detector is a capture.listener.FlowListener that may call self.emit(Notice(...)). The pipeline
binds a sink (any callable taking a Notice) before the first packet. That is the whole interface:
see packets (on_packet), in-order payload (on_data), L7 events (on_event) and finished connections
(on_conn_end); raise notices with emit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.listener import FlowListener


@dataclass
class Notice:
    """A Zeek notice.log record. note keeps the Zeek package's names (e.g. CVE_2021_44228::...)."""

    ts_ns: int
    note: str
    msg: str
    sub: str = ""
    uid: str = ""
    orig_h: str = ""
    orig_p: int = 0
    resp_h: str = ""
    resp_p: int = 0
    proto: str = ""
    src: str = ""
    dst: str = ""
    p: int = 0
    suppress_for: float = 3600.0
    identifier: str = ""  # what suppression keys on, with note
    extra: dict = field(default_factory=dict)  # detector-specific fields, Zeek-style names

    @classmethod
    def for_conn(cls, conn: Conn, ts_ns: int, note: str, msg: str, **kw) -> Notice:
        """A notice about a connection, with its id fields filled (src/dst/p as Zeek sets them)."""
        return cls(ts_ns=ts_ns, note=note, msg=msg, uid=conn.uid, orig_h=conn.orig_h,
                   orig_p=conn.orig_p, resp_h=conn.resp_h, resp_p=conn.resp_p, proto=conn.proto,
                   src=conn.orig_h, dst=conn.resp_h, p=conn.resp_p, **kw)


class Detector(FlowListener):
    """Base of every detector: a FlowListener with a notice sink."""

    name = "detector"

    def __init__(self) -> None:
        self._sink: Callable[[Notice], None] | None = None

    def bind(self, sink: Callable[[Notice], None]) -> None:
        self._sink = sink

    def emit(self, notice: Notice) -> None:
        if self._sink is not None:
            self._sink(notice)
