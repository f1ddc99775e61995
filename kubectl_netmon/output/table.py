"""The terminal report: the busiest flows (pod names where known) and the alerts, grouped by chain.

It keeps only the top N flows as short rows while the capture streams by, so a long capture costs
no more memory than a short one; alerts are few and are all kept (up to a cap).
"""

from __future__ import annotations

import heapq
from itertools import count

from tabulate import tabulate

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.zeek import iso_ts

FLOW_HEADERS = ("UID", "ORIGIN", "RESPONDER", "PROTO", "SERVICE", "STATE", "PKTS", "BYTES",
                "DURATION")
ALERT_HEADERS = ("TIME", "NOTE", "ORIGIN", "RESPONDER", "DETAIL")
DETAIL_WIDTH = 64  # the notice's sub field wraps inside its column...
DETAIL_MAX = 3 * DETAIL_WIDTH  # ...up to three lines
CHAIN_ROLES = ("attacker", "victim", "callback")  # extra fields that describe a chain
MAX_ALERTS = 1000


class TableCollector:
    """Collects finished connections and notices; render() makes the report once input ends."""

    def __init__(self, pods: PodMap | None = None, top: int = 20) -> None:
        self._pods = pods
        self._top = top
        self._heap: list[tuple] = []  # (bytes, -seq, row): the smallest kept flow first
        self._seq = count()
        self.flows = 0
        self._alerts: list[tuple[str, int, tuple]] = []  # (chain, ts_ns, row)
        self._chains: dict[str, dict] = {}  # chain id -> role -> value, the latest one known
        self.alerts = 0

    def conn(self, conn: Conn) -> None:
        self.flows += 1
        size = conn.orig_ip_bytes + conn.resp_ip_bytes
        key = (size, -next(self._seq))
        if len(self._heap) >= self._top:
            if key <= self._heap[0][:2]:
                return
            heapq.heapreplace(self._heap, (*key, self._flow_row(conn, size)))
        else:
            heapq.heappush(self._heap, (*key, self._flow_row(conn, size)))

    def notice(self, notice: Notice) -> None:
        self.alerts += 1
        if len(self._alerts) < MAX_ALERTS:
            chain = escape(str(notice.extra.get("chain", "")))
            self._alerts.append((chain, notice.ts_ns, self._alert_row(notice)))
            if chain:
                roles = self._chains.setdefault(chain, {})
                roles.update((r, notice.extra[r]) for r in CHAIN_ROLES if notice.extra.get(r))

    def close(self) -> None:
        """Nothing to flush: the report is made by render()."""

    def render(self) -> str:
        """The flows table, busiest first, then the ALERTS section."""
        rows = [entry[2] for entry in sorted(self._heap, reverse=True)]
        shown = f"the busiest {len(rows)} of {self.flows}" if self.flows > len(rows) else "all"
        parts = [f"FLOWS ({shown}, by bytes)",
                 tabulate(rows, headers=FLOW_HEADERS, disable_numparse=True)
                 if rows else "(no flows)"]
        parts += ["", f"ALERTS ({self.alerts})"] + self._render_alerts()
        return "\n".join(parts)

    def _render_alerts(self) -> list[str]:
        """One table per chain, earliest chain first, its alerts in time order; then the rest."""
        if not self._alerts:
            return ["(none)"]
        groups: dict[str, list[tuple]] = {}
        for chain, _, row in sorted(self._alerts, key=lambda a: (a[0] == "", a[1])):
            groups.setdefault(chain, []).append(row)
        out = []
        for chain, rows in groups.items():
            roles = chain_roles(self._chains.get(chain, {}))
            out.append(f"chain {chain}{' (' + roles + ')' if roles else ''}:" if chain
                       else "not in a chain:")
            out.append(tabulate(rows, headers=ALERT_HEADERS, disable_numparse=True,
                                maxcolwidths=[None, None, None, None, DETAIL_WIDTH]))
            out.append("")
        if self.alerts > len(self._alerts):
            out.append(f"... {self.alerts - len(self._alerts)} more alerts (use -o json)")
        return out

    def _flow_row(self, conn: Conn, size: int) -> tuple:
        orig, resp = self._lookup(conn.orig_h, conn.ts_ns), self._lookup(conn.resp_h, conn.ts_ns)
        ports = conn.proto != "icmp"
        return (conn.uid, endpoint(conn.orig_h, conn.orig_p, orig, ports and orig is None),
                endpoint(conn.resp_h, conn.resp_p, resp, ports), conn.proto,
                escape(conn.service) or "-", conn.conn_state, str(conn.orig_pkts + conn.resp_pkts),
                str(size), f"{conn.duration_ns / 1e9:.3f}s")

    def _alert_row(self, n: Notice) -> tuple:
        orig_h, resp_h = n.orig_h or n.src, n.resp_h or n.dst
        orig, resp = self._lookup(orig_h, n.ts_ns), self._lookup(resp_h, n.ts_ns)
        ts = iso_ts(n.ts_ns)
        return (f"{ts[:10]} {ts[11:19]}", escape(n.note),
                endpoint(orig_h, n.orig_p, orig, show_port=False) if orig_h else "-",
                endpoint(resp_h, n.resp_p or n.p, resp, show_port=True) if resp_h else "-",
                shorten(escape(n.sub or n.msg), DETAIL_MAX))

    def _lookup(self, ip: str, ts_ns: int) -> PodInfo | None:
        return self._pods.lookup(ip, ts_ns) if self._pods is not None and ip else None


def endpoint(ip: str, port: int, pod: PodInfo | None, show_port: bool) -> str:
    """"ns/name" for a known pod (":port" for a responder), else "ip:port" ("[v6]:port")."""
    host = escape(pod.label) if pod is not None else f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port}" if show_port else host


def chain_roles(roles: dict) -> str:
    """"attacker 1.2.3.4, victim 5.6.7.8:8080" from the chain's roles that are known."""
    return ", ".join(f"{role} {escape(str(roles[role]))}" for role in CHAIN_ROLES
                     if role in roles)


def shorten(text: str, width: int) -> str:
    """Cut text to width characters, marking the cut with "..."."""
    return text if len(text) <= width else text[:width - 3] + "..."
