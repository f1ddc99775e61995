"""http.log, dns.log and ssl.log records from a connection's L7 events."""

from __future__ import annotations

from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse, TlsClientHello
from kubectl_netmon.output.zeek_l7 import dns_records, http_records, ssl_records
from tests.output.builders import TS_NS, seed_conn

MS = 1_000_000


def http_conn(*events):
    return seed_conn(l7=list(events), service="http", resp_p=8000)


def get(uri="/Exploit.class", user_agent="Java/1.8.0_102", **kw):
    return HttpRequest(TS_NS, "GET", uri, "HTTP/1.1", host="203.0.113.217:8000",
                       user_agent=user_agent, **kw)


def ok(status=200):
    return HttpResponse(TS_NS + MS, status, "OK", "HTTP/1.0", content_type="application/java-vm",
                        body_len=1188)


def test_a_request_and_its_response_make_one_http_record():
    assert http_records(http_conn(get(), ok())) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 8000, "trans_depth": 1, "method": "GET", "host": "203.0.113.217:8000",
        "uri": "/Exploit.class", "version": "1.1", "user_agent": "Java/1.8.0_102",
        "request_body_len": 0, "response_body_len": 1188, "status_code": 200, "status_msg": "OK",
        "resp_mime_types": ["application/java-vm"]}]


def test_pipelined_requests_are_paired_with_responses_in_order():
    recs = http_records(http_conn(get("/a"), get("/b"), ok(), ok(404)))
    assert [(r["uri"], r["status_code"], r["trans_depth"]) for r in recs] == [
        ("/a", 200, 1), ("/b", 404, 2)]


def test_a_request_without_a_response_has_no_status():
    (rec,) = http_records(http_conn(get()))
    assert "status_code" not in rec and rec["response_body_len"] == 0


def test_a_response_without_a_request_still_gets_a_record():
    (rec,) = http_records(http_conn(ok()))
    assert rec["status_code"] == 200 and "method" not in rec


def test_referrer_comes_from_the_referer_header_and_mime_types_drop_parameters():
    (rec,) = http_records(http_conn(
        get(headers=[("referer", "http://x/")], content_type="Text/Plain; charset=utf-8")))
    assert rec["referrer"] == "http://x/" and rec["orig_mime_types"] == ["text/plain"]


def test_http_text_from_packets_is_escaped():
    (rec,) = http_records(http_conn(get(uri="/\x1b[31m\x00", user_agent="${jndi:\x1b]0;x\x07}")))
    assert rec["uri"] == "/\\x1b[31m\\x00"
    assert rec["user_agent"] == "${jndi:\\x1b]0;x\\x07}"


def test_a_connection_without_http_events_has_no_http_records():
    assert http_records(seed_conn()) == []


def dns(ts, response, answers=(), ttls=(), rcode=0, trans_id=7):
    return DnsMessage(ts, trans_id, response, "secret.10.10.10.31", 1, rcode, list(answers),
                      list(ttls))


def test_a_query_and_its_answer_make_one_dns_record():
    conn = seed_conn(proto="udp", resp_p=53, l7=[dns(TS_NS, False),
                                                dns(TS_NS + 2 * MS, True, ["1.2.3.4"], [60])])
    assert dns_records(conn) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 53, "proto": "udp", "trans_id": 7, "rtt": 0.002,
        "query": "secret.10.10.10.31", "qtype": 1, "qtype_name": "A", "rcode": 0,
        "rcode_name": "NOERROR", "answers": ["1.2.3.4"], "TTLs": [60.0]}]


def test_an_unanswered_query_has_no_rtt_or_rcode():
    (rec,) = dns_records(seed_conn(proto="udp", l7=[dns(TS_NS, False)]))
    assert not {"rtt", "rcode", "rcode_name", "answers"} & set(rec)


def test_responses_pair_with_queries_by_transaction_id():
    conn = seed_conn(proto="udp", l7=[dns(TS_NS, False, trans_id=1), dns(TS_NS, False, trans_id=2),
                                     dns(TS_NS + MS, True, rcode=3, trans_id=2)])
    assert [(r["trans_id"], r.get("rcode_name")) for r in dns_records(conn)] == [
        (1, None), (2, "NXDOMAIN")]


def test_a_client_hello_makes_an_ssl_record_with_its_server_name():
    conn = seed_conn(resp_p=443, l7=[TlsClientHello(TS_NS, "api.example\x1b[2J", 0x0304)])
    assert ssl_records(conn) == [{
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 443, "server_name": "api.example\\x1b[2J"}]


def test_a_client_hello_without_sni_has_no_server_name():
    (rec,) = ssl_records(seed_conn(resp_p=443, l7=[TlsClientHello(TS_NS, "")]))
    assert "server_name" not in rec


def test_dns_names_and_answers_from_packets_are_escaped():
    query = DnsMessage(TS_NS, 7, False, "a\x1b[2J.example", 16)
    answer = DnsMessage(TS_NS + MS, 7, True, "a\x1b[2J.example", 16, 0, ["txt\x07\x00"], [60])
    (rec,) = dns_records(seed_conn(proto="udp", l7=[query, answer]))
    assert rec["query"] == "a\\x1b[2J.example" and rec["answers"] == ["txt\\x07\\x00"]
