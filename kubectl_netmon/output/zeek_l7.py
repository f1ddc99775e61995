"""Zeek http.log, dns.log and ssl.log records from the L7 events a connection collected (conn.l7).

One record per HTTP request (paired with its response in order, as HTTP/1.1 pipelining keeps
them), per DNS query (paired with the response of the same transaction id) and per TLS
ClientHello (its server name). Field names and order follow Zeek's HTTP::Info, DNS::Info and
SSL::Info; unset fields are left out (ssl.log's version and cipher are the server's choice,
which a ClientHello does not tell).
"""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse, TlsClientHello
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.zeek import id_fields, iso_ts

QTYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
               28: "AAAA", 33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY",
               64: "SVCB", 65: "HTTPS", 99: "SPF", 255: "*", 257: "CAA"}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
               10: "NOTZONE"}


def http_records(conn: Conn) -> list[dict]:
    """http.log records for the connection's requests (a response without one gets its own)."""
    pairs: list[list] = []
    waiting: list[list] = []
    for ev in conn.l7:
        if isinstance(ev, HttpRequest):
            pair = [ev, None]
            pairs.append(pair)
            waiting.append(pair)
        elif isinstance(ev, HttpResponse):
            if waiting:
                waiting.pop(0)[1] = ev
            else:
                pairs.append([None, ev])
    return [_http_record(conn, depth, req, resp)
            for depth, (req, resp) in enumerate(pairs, start=1)]


def dns_records(conn: Conn) -> list[dict]:
    """dns.log records: each query with its response; an unanswered or unasked one alone."""
    records: list[list] = []
    waiting: dict[int, list] = {}
    for ev in conn.l7:
        if not isinstance(ev, DnsMessage):
            continue
        if not ev.is_response:
            waiting[ev.trans_id] = pair = [ev, None]
            records.append(pair)
        elif ev.trans_id in waiting:
            waiting.pop(ev.trans_id)[1] = ev
        else:
            records.append([None, ev])
    return [_dns_record(conn, query, resp) for query, resp in records]


def ssl_records(conn: Conn) -> list[dict]:
    """ssl.log records: one per ClientHello, with its server name (SNI) when it has one."""
    records = []
    for ev in conn.l7:
        if isinstance(ev, TlsClientHello):
            rec = {"ts": iso_ts(ev.ts_ns), "uid": conn.uid, **_conn_id(conn)}
            _put(rec, "server_name", ev.server_name)
            records.append(rec)
    return records


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
