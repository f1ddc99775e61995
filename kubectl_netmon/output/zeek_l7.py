"""Zeek http.log, dns.log and ssl.log records, written as their transactions complete.

One record per HTTP request (paired with its response in order, as HTTP/1.1 pipelining keeps
them), per DNS query (paired with the response of the same transaction id) and per TLS
ClientHello (its server name). As in Zeek, a record goes out when its transaction completes,
before its connection's conn record; a connection's unanswered requests and queries go out when
it ends. Only pending requests and queries are held, at most MAX_PENDING per connection.
Field names and order follow Zeek's HTTP::Info, DNS::Info and SSL::Info; unset fields are left
out (ssl.log's version and cipher are the server's choice, which a ClientHello does not tell).
"""

from __future__ import annotations

from collections.abc import Callable

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse, TlsClientHello
from kubectl_netmon.capture.listener import FlowListener
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.zeek import id_fields, iso_ts

QTYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
               28: "AAAA", 33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY",
               64: "SVCB", 65: "HTTPS", 99: "SPF", 255: "*", 257: "CAA"}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
               10: "NOTZONE"}
# Unanswered requests (or queries) a connection may hold; beyond it the oldest is written
# without its response. Zeek's DNS::max_pending_query_ids (50) bounds its DNS state alike.
MAX_PENDING = 50

Sink = Callable[[str, dict], None]  # (log path: "http", "dns" or "ssl", record)


class L7Logs(FlowListener):
    """Turns each connection's L7 events into http, dns and ssl records for sink, as they
    complete; holds only the pending requests and queries of open connections.

    A connection's state: for HTTP a list [records so far, waiting requests oldest first...]
    (the waiting ones have the last trans_depths, in order); for DNS its waiting queries by
    transaction id, oldest first, dropped when none waits.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._open: dict[Conn, list | dict[int, DnsMessage]] = {}

    def on_event(self, conn: Conn, event: object) -> None:
        kind = type(event)
        if kind is HttpRequest:
            self._http_request(conn, event)
        elif kind is HttpResponse:
            self._http_response(conn, event)
        elif kind is DnsMessage:
            self._dns_message(conn, event)
        elif kind is TlsClientHello:
            self._sink("ssl", _ssl_record(conn, event))

    def on_conn_end(self, conn: Conn) -> None:
        """The connection's unanswered requests and queries, oldest first."""
        state = self._open.pop(conn, None)
        if not state:
            return
        if type(state) is list:
            oldest = state[0] - len(state) + 2
            for depth, request in enumerate(state[1:], start=oldest):
                self._sink("http", _http_record(conn, depth, request, None))
        else:
            for query in state.values():
                self._sink("dns", _dns_record(conn, query, None))

    def _http_request(self, conn: Conn, request: HttpRequest) -> None:
        """A request waits for its response; beyond MAX_PENDING the oldest goes out alone."""
        state = self._open.get(conn)
        if state is None:
            state = self._open[conn] = [0]
        if len(state) > MAX_PENDING:
            self._sink("http", _http_record(conn, state[0] - MAX_PENDING + 1, state.pop(1), None))
        state[0] += 1
        state.append(request)

    def _http_response(self, conn: Conn, response: HttpResponse) -> None:
        """A response goes out with the oldest waiting request, or alone."""
        state = self._open.get(conn)
        if state is None:
            state = self._open[conn] = [0]
        if len(state) > 1:
            depth = state[0] - len(state) + 2
            self._sink("http", _http_record(conn, depth, state.pop(1), response))
        else:
            state[0] += 1
            self._sink("http", _http_record(conn, state[0], None, response))

    def _dns_message(self, conn: Conn, msg: DnsMessage) -> None:
        """A query waits for its response (a newer query with its id ends its wait); a response
        goes out with its query, or alone."""
        queries = self._open.get(conn)
        if msg.is_response:
            query = queries.pop(msg.trans_id, None) if queries else None
            if queries is not None and not queries:
                del self._open[conn]
            self._sink("dns", _dns_record(conn, query, msg))
            return
        if queries is None:
            queries = self._open[conn] = {}
        older = queries.pop(msg.trans_id, None)
        if older is not None:
            self._sink("dns", _dns_record(conn, older, None))
        elif len(queries) == MAX_PENDING:
            self._sink("dns", _dns_record(conn, queries.pop(next(iter(queries))), None))
        queries[msg.trans_id] = msg


def _http_record(conn: Conn, depth: int, req: HttpRequest | None,
                 resp: HttpResponse | None) -> dict:
    first = req or resp
    rec = {"ts": iso_ts(first.ts_ns), "uid": conn.uid, **_conn_id(conn), "trans_depth": depth}
    if req is not None:
        headers = dict(req.headers)
        _put(rec, "method", req.method)
        _put(rec, "host", req.host)
        _put(rec, "uri", req.uri)
        _put(rec, "referrer", headers.get("referer", ""))
    _put(rec, "version", _version(req.version if req is not None and req.version
                                  else resp.version if resp is not None else ""))
    if req is not None:
        _put(rec, "user_agent", req.user_agent)
        _put(rec, "origin", headers.get("origin", ""))
    rec["request_body_len"] = req.body_len if req is not None else 0
    rec["response_body_len"] = resp.body_len if resp is not None else 0
    if resp is not None:
        rec["status_code"] = resp.status
        _put(rec, "status_msg", resp.reason)
    if req is not None and req.content_type:
        rec["orig_mime_types"] = [_mime(req.content_type)]
    if resp is not None and resp.content_type:
        rec["resp_mime_types"] = [_mime(resp.content_type)]
    return rec


def _ssl_record(conn: Conn, hello: TlsClientHello) -> dict:
    rec = {"ts": iso_ts(hello.ts_ns), "uid": conn.uid, **_conn_id(conn)}
    _put(rec, "server_name", hello.server_name)
    return rec


def _dns_record(conn: Conn, query: DnsMessage | None, resp: DnsMessage | None) -> dict:
    first = query or resp
    rec = {"ts": iso_ts(first.ts_ns), "uid": conn.uid, **_conn_id(conn), "proto": conn.proto,
           "trans_id": first.trans_id}
    if query is not None and resp is not None:
        rec["rtt"] = (resp.ts_ns - query.ts_ns) / 1e9
    _put(rec, "query", first.query)
    if first.qtype:
        rec["qtype"] = first.qtype
        rec["qtype_name"] = QTYPE_NAMES.get(first.qtype, str(first.qtype))
    if resp is not None:
        rec["rcode"] = resp.rcode
        rec["rcode_name"] = RCODE_NAMES.get(resp.rcode, str(resp.rcode))
        if resp.answers:
            rec["answers"] = [escape(a) for a in resp.answers]
            rec["TTLs"] = [float(t) for t in resp.ttls]
    return rec


def _conn_id(conn: Conn) -> dict:
    return id_fields(conn.orig_h, conn.orig_p, conn.resp_h, conn.resp_p)


def _put(rec: dict, key: str, text: str) -> None:
    """Set an untrusted text field, escaped, unless it is empty (Zeek leaves unset fields out)."""
    if text:
        rec[key] = escape(text)


def _version(text: str) -> str:
    """"HTTP/1.1" -> "1.1", as Zeek logs it."""
    return text[5:] if text.startswith("HTTP/") else text


def _mime(content_type: str) -> str:
    """"text/html; charset=utf-8" -> "text/html", escaped."""
    return escape(content_type.split(";", 1)[0].strip().lower())
