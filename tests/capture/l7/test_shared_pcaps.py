"""The parsers over the shared Log4Shell captures agree with tshark's HTTP and DNS dissectors."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from kubectl_netmon.capture.l7.events import DnsMessage, HttpRequest, HttpResponse
from kubectl_netmon.capture.l7.http import RESPONSE_BODY_LIMIT
from tests.capture.l7.streams import parse_stream, read_streams

PCAPS = ["log4j-attack.pcap", "log4j-dns_exfil.pcap", "log4j-user_agent.pcap",
         "log4j-webapp.pcap", "spcap-CEXKLs3NQWdEM2CoMj-1639421287179170294-1.pcap"]


def tshark_rows(tshark: str, path: str, display_filter: str, fields: list[str]) -> list[list]:
    cmd = [tshark, "-r", path, "-Y", display_filter, "-T", "fields", "-E", "separator=/t"]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def events_of(path: str, kind: type) -> list:
    return [e for stream in read_streams(path) for e in parse_stream(stream)[1]
            if isinstance(e, kind)]


@pytest.mark.parametrize("name", PCAPS)
def test_http_requests_match_tshark(shared_pcaps, tshark, name):
    path = str(shared_pcaps / name)
    fields = ["http.request.method", "http.request.uri", "http.user_agent", "http.host",
              "http.content_type", "http.content_length"]
    expected = Counter((m, u, ua, h, ct, int(cl or 0)) for m, u, ua, h, ct, cl
                       in tshark_rows(tshark, path, "http.request", fields))
    parsed = Counter((e.method, e.uri, e.user_agent, e.host, e.content_type, e.body_len)
                     for e in events_of(path, HttpRequest))
    assert expected and parsed == expected


@pytest.mark.parametrize("name", PCAPS)
def test_http_responses_match_tshark(shared_pcaps, tshark, name):
    path = str(shared_pcaps / name)
    fields = ["http.response.code", "http.content_type", "http.content_length"]
    expected = Counter((int(code), ct, int(cl)) for code, ct, cl
                       in tshark_rows(tshark, path, "http.response", fields))
    parsed = Counter((e.status, e.content_type, e.body_len)
                     for e in events_of(path, HttpResponse))
    assert expected and parsed == expected


def test_java_class_download_body_prefix_is_kept(shared_pcaps):
    responses = events_of(str(shared_pcaps / "log4j-attack.pcap"), HttpResponse)
    [download] = [e for e in responses if e.content_type == "application/java-vm"]
    assert download.body.startswith(b"\xca\xfe\xba\xbe")
    assert len(download.body) == min(download.body_len, RESPONSE_BODY_LIMIT)


def test_dns_exfiltration_queries_match_tshark(shared_pcaps, tshark):
    path = str(shared_pcaps / "log4j-dns_exfil.pcap")
    fields = ["dns.id", "dns.flags.response", "dns.qry.name", "dns.qry.type"]
    expected = [(int(i, 16), r == "1", q, int(t))
                for i, r, q, t in tshark_rows(tshark, path, "dns && !icmp", fields)]
    parsed = [(e.trans_id, e.is_response, e.query, e.qtype)
              for e in events_of(path, DnsMessage)]
    assert expected and parsed == expected
