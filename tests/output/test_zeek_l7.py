"""http.log, dns.log and ssl.log records from a connection's L7 events, as transactions complete."""

from __future__ import annotations

from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse, TlsClientHello
from kubectl_netmon.output.zeek_l7 import MAX_PENDING, L7Logs
from tests.output.builders import TS_NS, seed_conn

MS = 1_000_000


class Logs(L7Logs):
    """L7Logs writing (path, record) into a list."""

    def __init__(self):
        self.written = []
        super().__init__(lambda path, rec: self.written.append((path, rec)))

    def feed(self, conn, *events):
        for event in events:
            self.on_event(conn, event)
        return self


def records(path, conn, *events):
    """The connection's records of that log: its events fed, then its end."""
    logs = Logs().feed(conn, *events)
    logs.on_conn_end(conn)
    return [rec for p, rec in logs.written if p == path]


def http_conn():
    return seed_conn(service="http", resp_p=8000)


def http_records(*events):
    return records("http", http_conn(), *events)


def dns_records(*events):
    return records("dns", seed_conn(proto="udp", resp_p=53), *events)


def get(uri="/Exploit.class", user_agent="Java/1.8.0_102", **kw):
    return HttpRequest(TS_NS, "GET", uri, "HTTP/1.1", host="203.0.113.217:8000",
                       user_agent=user_agent, **kw)


def ok(status=200):
    return HttpResponse(TS_NS + MS, status, "OK", "HTTP/1.0", content_type="application/java-vm",
                        body_len=1188)


def test_a_request_and_its_response_make_one_http_record():
    assert http_records(get(), ok()) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 8000, "trans_depth": 1, "method": "GET", "host": "203.0.113.217:8000",
        "uri": "/Exploit.class", "version": "1.1", "user_agent": "Java/1.8.0_102",
        "request_body_len": 0, "response_body_len": 1188, "status_code": 200, "status_msg": "OK",
        "resp_mime_types": ["application/java-vm"]}]


def test_an_http_record_is_written_when_its_response_comes_not_at_the_connection_end():
    conn = http_conn()
    logs = Logs().feed(conn, get())
    assert logs.written == []
    logs.feed(conn, ok())
    assert [(path, rec["uri"], rec["status_code"]) for path, rec in logs.written] == [
        ("http", "/Exploit.class", 200)]


def test_pipelined_requests_are_paired_with_responses_in_order():
    recs = http_records(get("/a"), get("/b"), ok(), ok(404))
    assert [(r["uri"], r["status_code"], r["trans_depth"]) for r in recs] == [
        ("/a", 200, 1), ("/b", 404, 2)]


def test_trans_depth_counts_the_transactions_of_a_kept_alive_connection():
    recs = http_records(get("/a"), ok(), get("/b"), ok(), ok(), get("/c"))
    assert [(r.get("uri"), r["trans_depth"]) for r in recs] == [
        ("/a", 1), ("/b", 2), (None, 3), ("/c", 4)]


def test_a_request_without_a_response_has_no_status():
    (rec,) = http_records(get())
    assert "status_code" not in rec and rec["response_body_len"] == 0


def test_a_response_without_a_request_still_gets_a_record():
    (rec,) = http_records(ok())
    assert rec["status_code"] == 200 and "method" not in rec


def test_connections_are_paired_apart():
    a, b = seed_conn(uid="Ca"), seed_conn(uid="Cb")
    logs = Logs().feed(a, get("/a")).feed(b, get("/b")).feed(a, ok(201)).feed(b, ok(202))
    assert [(r["uid"], r["uri"], r["status_code"], r["trans_depth"])
            for _, r in logs.written] == [("Ca", "/a", 201, 1), ("Cb", "/b", 202, 1)]


def test_too_many_unanswered_requests_write_the_oldest_without_its_response():
    conn = http_conn()
    logs = Logs().feed(conn, *(get(f"/{n}") for n in range(MAX_PENDING + 1)))
    assert [(r["uri"], r["trans_depth"], "status_code" in r) for _, r in logs.written] == [
        ("/0", 1, False)]
    logs.feed(conn, ok())
    assert logs.written[-1][1]["uri"] == "/1" and logs.written[-1][1]["status_code"] == 200


def test_referrer_comes_from_the_referer_header_and_mime_types_drop_parameters():
    (rec,) = http_records(
        get(headers=[("referer", "http://x/")], content_type="Text/Plain; charset=utf-8"))
    assert rec["referrer"] == "http://x/" and rec["orig_mime_types"] == ["text/plain"]


def test_http_text_from_packets_is_escaped():
    (rec,) = http_records(get(uri="/\x1b[31m\x00", user_agent="${jndi:\x1b]0;x\x07}"))
    assert rec["uri"] == "/\\x1b[31m\\x00"
    assert rec["user_agent"] == "${jndi:\\x1b]0;x\\x07}"


def test_a_connection_without_l7_events_has_no_records():
    logs = Logs()
    logs.on_conn_end(seed_conn())
    assert logs.written == []


def dns(ts, response, answers=(), ttls=(), rcode=0, trans_id=7):
    return DnsMessage(ts, trans_id, response, "secret.10.10.10.31", 1, rcode, list(answers),
                      list(ttls))


def test_a_query_and_its_answer_make_one_dns_record():
    assert dns_records(dns(TS_NS, False), dns(TS_NS + 2 * MS, True, ["1.2.3.4"], [60])) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 53, "proto": "udp", "trans_id": 7, "rtt": 0.002,
        "query": "secret.10.10.10.31", "qtype": 1, "qtype_name": "A", "rcode": 0,
        "rcode_name": "NOERROR", "answers": ["1.2.3.4"], "TTLs": [60.0]}]


def test_a_dns_record_is_written_when_its_answer_comes():
    conn = seed_conn(proto="udp", resp_p=53)
    logs = Logs().feed(conn, dns(TS_NS, False))
    assert logs.written == []
    logs.feed(conn, dns(TS_NS + MS, True))
    assert [(path, rec["rcode_name"]) for path, rec in logs.written] == [("dns", "NOERROR")]


def test_an_unanswered_query_has_no_rtt_or_rcode():
    (rec,) = dns_records(dns(TS_NS, False))
    assert not {"rtt", "rcode", "rcode_name", "answers"} & set(rec)


def test_responses_pair_with_queries_by_transaction_id():
    recs = dns_records(dns(TS_NS, False, trans_id=1), dns(TS_NS, False, trans_id=2),
                       dns(TS_NS + MS, True, rcode=3, trans_id=2))
    assert [(r["trans_id"], r.get("rcode_name")) for r in recs] == [(2, "NXDOMAIN"), (1, None)]


def test_a_query_asked_again_with_its_id_leaves_the_first_one_unanswered():
    recs = dns_records(dns(TS_NS, False), dns(TS_NS + MS, False), dns(TS_NS + 2 * MS, True))
    assert [r.get("rtt") for r in recs] == [None, 0.001]


def test_too_many_unanswered_queries_write_the_oldest_alone():
    conn = seed_conn(proto="udp", resp_p=53)
    logs = Logs().feed(conn, *(dns(TS_NS, False, trans_id=n) for n in range(MAX_PENDING + 1)))
    assert [(r["trans_id"], "rcode" in r) for _, r in logs.written] == [(0, False)]


def test_a_client_hello_makes_an_ssl_record_with_its_server_name():
    hello = TlsClientHello(TS_NS, "api.example\x1b[2J", 0x0304)
    assert records("ssl", seed_conn(resp_p=443), hello) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 443, "server_name": "api.example\\x1b[2J"}]


def test_a_client_hello_without_sni_has_no_server_name():
    (rec,) = records("ssl", seed_conn(resp_p=443), TlsClientHello(TS_NS, ""))
    assert "server_name" not in rec


def test_dns_names_and_answers_from_packets_are_escaped():
    query = DnsMessage(TS_NS, 7, False, "a\x1b[2J.example", 16)
    answer = DnsMessage(TS_NS + MS, 7, True, "a\x1b[2J.example", 16, 0, ["txt\x07\x00"], [60])
    (rec,) = dns_records(query, answer)
    assert rec["query"] == "a\\x1b[2J.example" and rec["answers"] == ["txt\\x07\\x00"]
