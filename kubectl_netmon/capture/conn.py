"""A bidirectional connection record with Zeek conn.log meaning (see Zeek base/protocols/conn)."""

from __future__ import annotations


class Conn:
    """One connection. The flow table fills it; outputs read it.

    Fields keep Zeek's conn.log names (dots become underscores): ts_ns is the first packet,
    last_ns the latest; orig is the side that started it. service is "" until an L7 parser
    recognises the protocol ("http", "dns", "ssl", ...); its L7 events go to listeners'
    on_event, not onto the record (an open connection holds none of them). ext is free for
    listeners and enrichment (e.g. notices' chain ids); keys there never clash with Zeek's
    field names. It is made on first use: most of the many open connections never need
    one. marks holds bits listeners set for themselves (one int for all of them, e.g. "not this
    detector's protocol"), so the many open connections need no table entry per listener.
    """

    __slots__ = (
        "uid", "ts_ns", "last_ns", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "service",
        "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes",
        "conn_state", "history", "missed_bytes", "iface", "_ext", "marks", "state",
    )

    def __init__(self, uid: str, ts_ns: int, orig_h: str, orig_p: int, resp_h: str, resp_p: int,
                 proto: str, iface: int = 0) -> None:
        self.uid = uid
        self.ts_ns = ts_ns
        self.last_ns = ts_ns
        self.orig_h = orig_h
        self.orig_p = orig_p
        self.resp_h = resp_h
        self.resp_p = resp_p
        self.proto = proto
        self.service = ""
        self.orig_bytes = 0
        self.resp_bytes = 0
        self.orig_pkts = 0
        self.resp_pkts = 0
        self.orig_ip_bytes = 0
        self.resp_ip_bytes = 0
        self.conn_state = "OTH"
        self.history = ""
        self.missed_bytes = 0
        self.iface = iface
        self._ext: dict | None = None
        self.marks = 0
        self.state = None  # the flow table's private per-connection tracking state

    @property
    def ext(self) -> dict:
        ext = self._ext
        if ext is None:
            ext = self._ext = {}
        return ext

    @property
    def duration_ns(self) -> int:
        return self.last_ns - self.ts_ns
