"""LOG4J_ATTEMPT_*: a JNDI lookup string sent to a host, in HTTP or in any other payload.

HTTP requests are checked field by field (header, request line, body) from the L7 events; every
TCP stream and UDP datagram is also scanned, and what was found there but not already reported
from an HTTP event is raised as LOG4J_ATTEMPT_OTHER when the connection ends. On DNS the names
from the DNS events replace the raw scan, whose label length bytes would garble the host.
"""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell import notes
from kubectl_netmon.detect.log4shell.correlate import Tracker
from kubectl_netmon.detect.log4shell.normalise import (
    TRIGGER,
    Lookup,
    basic_credentials,
    find_lookups,
)
from kubectl_netmon.detect.log4shell.scan import StreamScanner, may_trigger


class AttemptDetector(Detector):
    """Raises LOG4J_ATTEMPT_HEADER/URI/BODY/OTHER and tells the tracker what each victim got."""

    name = "log4shell.attempt"

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker
        self._scanner = StreamScanner(tracker.config.tail_bytes)
        self._in_payload: dict[str, dict[str, tuple[Lookup, int, bool]]] = {}
        self._in_dns: dict[str, dict[str, tuple[Lookup, int, bool]]] = {}
        self._in_http: dict[str, set[str]] = {}

    def on_data(self, conn: Conn, from_orig: bool, data: bytes, ts_ns: int) -> None:
        if conn.proto == "tcp":
            lookups = self._scanner.feed(conn.uid, from_orig, data)
        elif may_trigger(data):
            lookups = find_lookups(data)
        else:
            return
        self._found(self._in_payload, conn, lookups, ts_ns, from_orig)

    def on_event(self, conn: Conn, event: object) -> None:
        if isinstance(event, HttpRequest):
            self._request(conn, event)
        elif isinstance(event, HttpResponse) and _may_hold_lookup(
                "\n".join(v for _, v in event.headers)):
            for name, value in event.headers:
                self._header(conn, event.ts_ns, False, "", name, value)
        elif isinstance(event, DnsMessage):
            names = "\n".join((event.query, *event.answers))
            if _may_hold_lookup(names):
                lookups = find_lookups(names.encode("latin-1", "replace"))
                self._found(self._in_dns, conn, lookups, event.ts_ns, not event.is_response)

    def on_conn_end(self, conn: Conn) -> None:
        uid = conn.uid
        self._scanner.drop(uid)
        reported = self._in_http.pop(uid, set())
        in_payload = self._in_payload.pop(uid, {})
        in_dns = self._in_dns.pop(uid, None)
        for lookup, ts_ns, from_orig in (in_dns or in_payload).values():
            if lookup.name not in reported:
                where = f"direction='{'orig' if from_orig else 'resp'}', "
                self._raise(conn, ts_ns, from_orig, notes.ATTEMPT_OTHER, lookup, where)

    def _found(self, found_in: dict, conn: Conn, lookups: list[Lookup], ts_ns: int,
               from_orig: bool) -> None:
        """Keep lookups for the end of the connection; the tracker learns of them now."""
        for lookup in lookups:
            found = found_in.setdefault(conn.uid, {})
            if lookup.name not in found:
                found[lookup.name] = (lookup, ts_ns, from_orig)
                self._tracker.add_target(_victim(conn, from_orig), lookup, ts_ns, conn.uid)

    def _request(self, conn: Conn, req: HttpRequest) -> None:
        uri = req.uri
        line = f"{req.method} {req.uri}"
        if _may_hold_lookup(line):
            for lookup in find_lookups(line.encode("latin-1", "replace"), allow_bare=True):
                self._raise(conn, req.ts_ns, True, notes.ATTEMPT_URI, lookup,
                            f"uri='{uri}', method={req.method}, ")
        headers = req.headers
        if headers and (_may_hold_lookup("\n".join(map("".join, headers)))
                        or any(n == "authorization" for n, _ in headers)):
            for name, value in headers:
                self._header(conn, req.ts_ns, True, uri, name, value)
        if req.body and TRIGGER.search(req.body):
            for lookup in find_lookups(req.body, allow_bare=True):
                self._raise(conn, req.ts_ns, True, notes.ATTEMPT_BODY, lookup,
                            f"uri='{uri}', content_type='{req.content_type}', ")

    def _header(self, conn: Conn, ts_ns: int, is_orig: bool, uri: str, name: str,
                value: str) -> None:
        field = f"{name}: {value}"
        lookups = []
        if _may_hold_lookup(field):
            lookups = find_lookups(field.encode("latin-1", "replace"), allow_bare=True)
        if name == "authorization":
            credentials = basic_credentials(value)
            if TRIGGER.search(credentials):
                lookups += find_lookups(credentials, allow_bare=True)
        for lookup in lookups:
            where = (f"uri='{uri}', is_orig={'T' if is_orig else 'F'}, "
                     f"header name='{name.upper()}', header value='{value}', ")
            self._raise(conn, ts_ns, is_orig, notes.ATTEMPT_HEADER, lookup, where)

    def _raise(self, conn: Conn, ts_ns: int, from_orig: bool, note: str, lookup: Lookup,
               where: str) -> None:
        if note != notes.ATTEMPT_OTHER:
            self._in_http.setdefault(conn.uid, set()).add(lookup.name)
        victim = _victim(conn, from_orig)
        attacker = conn.orig_h if victim == conn.resp_h else conn.resp_h
        self._tracker.add_target(victim, lookup, ts_ns, conn.uid)
        notice = Notice.for_conn(
            conn, ts_ns, note, notes.MSG[note],
            sub=(f"{where}raw='{lookup.raw}', normalised='{lookup.normalised}', "
                 f"target={lookup.target}"),
            identifier=f"{conn.orig_h}{conn.resp_h}{conn.resp_p}{lookup.normalised}",
            extra={"lookup.scheme": lookup.scheme, "lookup.host": lookup.host,
                   "lookup.port": lookup.port, "lookup.path": lookup.path})
        self._tracker.report(self, notice, victim,
                             victim_port=conn.resp_p if victim == conn.resp_h else 0,
                             attacker=attacker, callback=lookup.target, sender=True)


def _may_hold_lookup(text: str) -> bool:
    """Cheap gate for decoded HTTP text: a "$", "%" or "\\" (may start `${`), or "jndi"."""
    return "$" in text or "%" in text or "\\" in text or "jndi" in text.lower()


def _victim(conn: Conn, from_orig: bool) -> str:
    """Who received the payload: the responder for what the originator sent, and vice versa."""
    return conn.resp_h if from_orig else conn.orig_h
