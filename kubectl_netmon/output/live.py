"""The live terminal view: alerts highlighted on top (with victim and attacker pods), the busiest
flows (open and recently finished) in a tabulate table, and a status line; redrawn in place at
most a few times per second. Also the one-line status a capture shows on stderr.

Every name or text that came from a packet or a pod goes through escape (detector-made text
included), and lines are cut to the terminal width so redrawing stays in place.
"""

from __future__ import annotations

import heapq
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TextIO

from tabulate import tabulate

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.table import FLOW_HEADERS, endpoint, shorten
from kubectl_netmon.output.zeek import iso_ts

REDRAW_S = 0.25  # at most four frames a second
ALERTS_SHOWN = 6
FINISHED_KEPT = 200  # finished flows kept for the table (the busiest are shown)
BOLD_RED, RESET = "\x1b[1;31m", "\x1b[0m"
CLEAR_BELOW = "\x1b[J"


@dataclass
class Status:
    """What the status line says: counts from the merge and the streams, and how long."""

    packets: int = 0
    duplicates: int = 0
    drops: int = 0  # packets the remote captures lost (they say so when they end)
    streams_open: int = 0
    streams: int = 0
    elapsed_s: float = 0.0
    note: str = ""  # the latest status message of the session (escaped by its producer)

    def line(self) -> str:
        mins, secs = divmod(int(self.elapsed_s), 60)
        text = (f"{self.packets} packets, {self.duplicates} duplicates, {self.drops} lost, "
                f"{self.streams_open}/{self.streams} streams, {mins:02d}:{secs:02d} elapsed")
        return f"{text} | {self.note}" if self.note else text


def pod_label(pods: PodMap | None, ip: str, ts_ns: int) -> str:
    """"ns/name" of the pod that held ip (an "ip" or "ip:port" text) then, else the address."""
    host, _, port = ip.rpartition(":") if ip.count(":") == 1 else (ip, "", "")
    info = pods.lookup(host, ts_ns) if pods is not None and host else None
    if info is None:
        return escape(ip)
    return escape(info.label) + (f":{port}" if port else "")


def flow_row(conn: Conn, pods: PodMap | None) -> tuple:
    """A FLOW_HEADERS row: pod names where known, live counters as of now."""
    orig, resp = _lookup(pods, conn.orig_h, conn.ts_ns), _lookup(pods, conn.resp_h, conn.ts_ns)
    ports = conn.proto != "icmp"
    return (conn.uid, endpoint(conn.orig_h, conn.orig_p, orig, ports and orig is None),
            endpoint(conn.resp_h, conn.resp_p, resp, ports), conn.proto,
            escape(conn.service) or "-", conn.conn_state or "-",
            str(conn.orig_pkts + conn.resp_pkts), str(conn.orig_ip_bytes + conn.resp_ip_bytes),
            f"{conn.duration_ns / 1e9:.1f}s")


def alert_line(n: Notice, pods: PodMap | None) -> str:
    """One alert: time, note, who attacked whom (pod names), and the detail."""
    victim = n.extra.get("victim") or (f"{n.resp_h}:{n.resp_p}" if n.resp_h else "")
    attacker = n.extra.get("attacker") or n.orig_h
    who = []
    if victim:
        who.append(f"victim {pod_label(pods, str(victim), n.ts_ns)}")
    if attacker:
        who.append(f"attacker {pod_label(pods, str(attacker), n.ts_ns)}")
    if n.extra.get("callback"):
        who.append(f"callback {pod_label(pods, str(n.extra['callback']), n.ts_ns)}")
    detail = shorten(escape(n.sub or n.msg), 100)
    return f"{iso_ts(n.ts_ns)[11:19]} {escape(n.note)}: {', '.join(who)}: {detail}"


def _lookup(pods: PodMap | None, ip: str, ts_ns: int) -> PodInfo | None:
    return pods.lookup(ip, ts_ns) if pods is not None and ip else None


class LiveView:
    """An Output (conn, notice, close) that also draws: call refresh() whenever convenient; it
    redraws at most every REDRAW_S seconds (always on an alert and at close)."""

    def __init__(self, stream: TextIO, pods: PodMap | None, active: Callable[[], Iterable[Conn]],
                 status: Callable[[], Status], top: int = 20) -> None:
        self._stream = stream
        self._pods = pods
        self._active = active
        self._status = status
        self._top = top
        self._finished: deque[Conn] = deque(maxlen=FINISHED_KEPT)
        self._alerts: deque[str] = deque(maxlen=ALERTS_SHOWN)
        self.alerts = 0
        self._lines_drawn = 0
        self._last = 0.0

    def conn(self, conn: Conn) -> None:
        self._finished.append(conn)

    def notice(self, notice: Notice) -> None:
        self.alerts += 1
        self._alerts.append(alert_line(notice, self._pods))
        self.refresh(force=True)

    def close(self) -> None:
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < REDRAW_S:
            return
        self._last = now
        width, height = shutil.get_terminal_size()
        lines = self.frame(width, height)
        up = f"\x1b[{self._lines_drawn}F" if self._lines_drawn else "\r"
        self._stream.write(up + CLEAR_BELOW + "\n".join(lines) + "\n")
        self._stream.flush()
        self._lines_drawn = len(lines)

    def frame(self, width: int, height: int) -> list[str]:
        """The lines of one frame, each cut to the terminal width."""
        lines = [f"ALERTS ({self.alerts})"]
        lines += [BOLD_RED + a[:width] + RESET for a in self._alerts] or ["(none yet)"]
        room = max(3, height - len(lines) - 5)
        busiest = heapq.nlargest(min(self._top, room), chain(self._active(), self._finished),
                                 key=lambda c: c.orig_ip_bytes + c.resp_ip_bytes)
        rows = [flow_row(c, self._pods) for c in busiest]
        lines.append(f"FLOWS (busiest {len(rows)}, open and recently finished)")
        table = tabulate(rows, headers=FLOW_HEADERS, disable_numparse=True) if rows \
            else "(no flows yet)"
        lines += [row[:width] for row in table.splitlines()]
        lines.append(self._status().line()[:width])
        return lines


class StatusLine:
    """The capture's status on stderr: one line redrawn in place (terminals only), at most every
    REDRAW_S seconds; alerts as lines above it."""

    def __init__(self, stream: TextIO, status: Callable[[], Status],
                 pods: PodMap | None = None) -> None:
        self._stream = stream
        self._status = status
        self._pods = pods
        self._last = 0.0

    def conn(self, conn: Conn) -> None:
        """Flows are not shown while recording."""

    def notice(self, notice: Notice) -> None:
        self._stream.write("\r" + CLEAR_BELOW + "ALERT " + alert_line(notice, self._pods) + "\n")
        self.refresh(force=True)

    def close(self) -> None:
        self.refresh(force=True)
        self._stream.write("\n")
        self._stream.flush()

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < REDRAW_S:
            return
        self._last = now
        width = shutil.get_terminal_size().columns
        self._stream.write("\r" + CLEAR_BELOW + self._status().line()[:width - 1])
        self._stream.flush()
