"""L7 events the parsers emit and detectors and outputs consume.

Text fields are decoded latin-1 (lossless: every byte maps to one character) and are untrusted:
outputs pass them through output.escape before showing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class HttpRequest:
    ts_ns: int
    method: str
    uri: str
    version: str
    host: str = ""
    user_agent: str = ""
    # (lower-case name, value) in order; the parser gives a tuple shared by messages with the
    # same header block: never change it in place
    headers: Sequence[tuple[str, str]] = ()
    # the first bytes of the body (up to the parser's limit), for listeners' on_event: the
    # engine empties it afterwards (listeners may keep an event, e.g. a request until its
    # response)
    body: bytes = b""
    body_len: int = 0  # the body's full length as seen (or announced)
    content_type: str = ""


@dataclass(slots=True)
class HttpResponse:
    ts_ns: int
    status: int
    reason: str
    version: str
    headers: Sequence[tuple[str, str]] = ()
    content_type: str = ""
    body: bytes = b""  # the first bytes, for listeners' on_event only (as HttpRequest.body)
    body_len: int = 0


@dataclass(slots=True)
class DnsMessage:
    ts_ns: int
    trans_id: int
    is_response: bool
    query: str  # first question name, "" if none
    qtype: int = 0
    rcode: int = 0
    # rdata as text (addresses, names) and TTLs; tuples, shared empty by the many queries
    answers: Sequence[str] = ()
    ttls: Sequence[int] = ()


@dataclass(slots=True)
class TlsClientHello:
    ts_ns: int
    server_name: str  # SNI, "" if absent
    version: int = 0
