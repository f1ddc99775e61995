"""LOG4J_JAVA_CLASS_DOWNLOAD: Java fetching a class or serialized object over HTTP.

The second stage of the JNDI exploit: the JVM (user agent "Java/...") downloads
<codebase>/<Factory>.class, served as application/java-vm or recognisable by its first bytes
(CA FE BA BE, or AC ED for a serialized object). A response like that to a host already in an
attack chain is raised whatever its user agent. Jars (zip files) are normal Java traffic.
"""

from __future__ import annotations

import re

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.l7.events import HttpRequest, HttpResponse
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell import notes
from kubectl_netmon.detect.log4shell.correlate import Tracker, endpoint

CLASS_MAGIC = b"\xca\xfe\xba\xbe"
SERIALIZED_MAGIC = b"\xac\xed\x00\x05"
_JAVA_TYPE = re.compile(r"java-vm|java-serialized-object|java-applet", re.IGNORECASE)


class ClassDownloadDetector(Detector):
    """Pairs each HTTP response with its connection's latest request (pipelined requests come
    from one client, so one user agent) and raises on a Java class download. Holds that one
    request per open HTTP connection, dropped when the connection ends."""

    name = "log4shell.class_download"

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker
        self._requests: dict[Conn, HttpRequest] = {}  # each open connection's latest request

    def on_event(self, conn: Conn, event: object) -> None:
        if type(event) is HttpRequest:
            self._requests[conn] = event
        elif type(event) is HttpResponse and event.status >= 200:
            request = self._requests.get(conn)
            if self._is_java_payload(conn, request, event):
                self._raise(conn, request, event)

    def on_conn_end(self, conn: Conn) -> None:
        self._requests.pop(conn, None)

    def _is_java_payload(self, conn: Conn, request: HttpRequest | None,
                         response: HttpResponse) -> bool:
        magic = response.body[:4]
        if magic not in (CLASS_MAGIC, SERIALIZED_MAGIC) and not _JAVA_TYPE.search(
                response.content_type):
            return False
        agent = request.user_agent if request is not None else ""
        java = agent.startswith(self._tracker.config.java_user_agent_prefix)
        return java or self._tracker.in_chain(conn.orig_h)

    def _raise(self, conn: Conn, request: HttpRequest | None, response: HttpResponse) -> None:
        agent = request.user_agent if request is not None else ""
        host = request.host if request is not None else ""
        uri = request.uri if request is not None else ""
        kind = {CLASS_MAGIC: "class", SERIALIZED_MAGIC: "serialized"}.get(response.body[:4], "")
        notice = Notice.for_conn(
            conn, response.ts_ns, notes.JAVA_CLASS_DOWNLOAD, notes.MSG[notes.JAVA_CLASS_DOWNLOAD],
            sub=(f"user_agent='{agent}', CONTENT-TYPE='{response.content_type}', "
                 f"host='{host}', uri='{uri}', magic='{kind}'"),
            identifier=f"{conn.orig_h}{conn.orig_p}{conn.resp_h}{conn.resp_p}",
            extra={"http.uri": uri, "http.user_agent": agent, "java.payload": kind})
        self._tracker.report(self, notice, conn.orig_h, attacker=conn.resp_h,
                             callback=endpoint(conn.resp_h, conn.resp_p))
