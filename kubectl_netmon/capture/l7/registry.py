"""Pick the L7 parser for a connection from its first in-order payload chunk.

Content decides first (an HTTP request or status line, a TLS handshake record, a datagram that
parses as DNS); DNS ports decide only what content cannot (a length-prefixed TCP stream, an mDNS
datagram without questions). The engine calls parser_for once per connection; None means
"unknown, stop trying".
"""

from __future__ import annotations

import re
from typing import Protocol

from kubectl_netmon.capture.l7.dns import DnsParser, looks_like_dns
from kubectl_netmon.capture.l7.http import HttpParser
from kubectl_netmon.capture.l7.tls import TlsParser

DNS_PORTS = frozenset((53, 5353, 5355))  # DNS, mDNS, LLMNR

# Registered methods (RFC 9110, WebDAV) as a prefix of the first chunk, or any token
# followed by a target and "HTTP/1.x" on the first line (attackers use made-up methods).
_HTTP_METHOD = re.compile(
    rb"(?:GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND|PROPPATCH|MKCOL|COPY"
    rb"|MOVE|LOCK|UNLOCK|SEARCH|REPORT)[ \t]"
)
_HTTP_ANY_REQUEST = re.compile(rb"[\x21-\x7e]+[ \t][^\r\n]*[ \t]HTTP/1\.\d[ \t]*\r?\n")
SNIFF_LINE = 8192  # look no further for a made-up method's request line
_HTTP_RESPONSE = re.compile(rb"HTTP/1\.\d[ \t]")
_TLS_RECORD = re.compile(rb"\x16\x03[\x00-\x04]")  # handshake record, SSL 3.0 to TLS 1.3
_UDP_DNS = DnsParser(tcp=False)  # stateless: shared by every UDP DNS connection


class Parser(Protocol):
    """One connection's L7 parser: fed in-order chunks of both directions, never raises."""

    service: str  # Zeek's service name: "http", "dns", "ssl"

    def feed(self, from_orig: bool, data: bytes, ts_ns: int) -> list:
        """Parse the next in-order chunk of one direction; return the events it completed."""

    def close(self, ts_ns: int) -> list:
        """The connection ended: return the events still held back (e.g. a body cut short)."""


def parser_for(proto: str, resp_p: int, from_orig: bool, data: bytes) -> Parser | None:
    """A fresh parser for this connection, or None when the first chunk is no protocol we know.

    Only sniffs: the caller then feeds the same chunk to the parser's feed().
    """
    if proto == "tcp":
        return _tcp_parser(resp_p, data)
    if proto == "udp" and ((resp_p in DNS_PORTS and len(data) >= 12) or looks_like_dns(data)):
        return _UDP_DNS
    return None


def _tcp_parser(resp_p: int, data: bytes) -> Parser | None:
    if (_HTTP_METHOD.match(data) or _HTTP_RESPONSE.match(data)
            or _HTTP_ANY_REQUEST.match(data[:SNIFF_LINE])):
        return HttpParser()
    if _TLS_RECORD.match(data):
        return TlsParser()
    if resp_p in DNS_PORTS and len(data) >= 2:
        return DnsParser(tcp=True)
    return None
