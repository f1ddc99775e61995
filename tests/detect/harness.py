"""Drive the Log4Shell detectors through their hooks, as the engine does, and keep the notices."""

from __future__ import annotations

import itertools

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.listener import overridden
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.detect.registry import default_detectors

SECOND = 1_000_000_000


class Hooks:
    """The default detectors with a notice list; conns get uids C1, C2, ... and times in order."""

    def __init__(self) -> None:
        self.detectors = default_detectors()
        self.notices: list[Notice] = []
        for detector in self.detectors:
            detector.bind(self.notices.append)
        self._uids = itertools.count(1)
        self.now = 1_639_350_000 * SECOND

    def tick(self) -> int:
        self.now += SECOND
        return self.now

    def conn(self, orig: str, orig_p: int, resp: str, resp_p: int, proto: str = "tcp") -> Conn:
        """A new connection; orig_p 0 picks a fresh ephemeral port."""
        n = next(self._uids)
        return Conn(f"C{n}", self.tick(), orig, orig_p or 40000 + n, resp, resp_p, proto)

    def data(self, conn: Conn, from_orig: bool, data: bytes) -> None:
        self._call("on_data", conn, from_orig, data, self.tick())

    def event(self, conn: Conn, event: object) -> None:
        self._call("on_event", conn, event)

    def end(self, conn: Conn) -> None:
        self._call("on_conn_end", conn)

    def talk(self, conn: Conn, *chunks: tuple[bool, bytes]) -> Conn:
        """Feed (from_orig, bytes) chunks in order, then end the connection."""
        for from_orig, data in chunks:
            self.data(conn, from_orig, data)
        self.end(conn)
        return conn

    def notes(self) -> list[str]:
        return [n.note.split("::")[1] for n in self.notices]

    def _call(self, hook: str, *args: object) -> None:
        for detector in self.detectors:
            if overridden(detector, hook):
                getattr(detector, hook)(*args)
