"""LOG4J_RMI_JAVA: a Java RMI (JRMP) handshake answered with a serialized Java object.

The client opens with "JRMI", version and protocol; a ReturnData message (0x51) followed by a
Java serialization stream (AC ED) or a class file (CA FE BA BE) from the server is the payload a
JNDI rmi:// lookup loads.
"""

from __future__ import annotations

import re

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Detector, Notice
from kubectl_netmon.detect.log4shell import notes
from kubectl_netmon.detect.log4shell.correlate import Tracker, endpoint
from kubectl_netmon.detect.log4shell.opening import Openings

JRMI_MAGIC = b"JRMI"
_RETURN_DATA = re.compile(rb"\x51(?:\xac\xed\x00\x05|\xca\xfe\xba\xbe)")
_REFERENCE = re.compile(rb"javax\.naming\.Reference|ReferenceWrapper")
SAMPLE_BYTES = 256


class RmiJavaDetector(Detector):
    """Raises LOG4J_RMI_JAVA when a JRMP server returns a Java object (once per victim and server
    per suppression window, repeats counted)."""

    name = "log4shell.rmi_java"

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker
        # uid -> the server's last bytes (a ReturnData may straddle two chunks)
        self._conns: Openings[bytes] = Openings("rmi", b"J", len(JRMI_MAGIC), JRMI_MAGIC.startswith,
                                                _start)

    def on_data(self, conn: Conn, from_orig: bool, data: bytes, ts_ns: int) -> None:
        if conn.service:  # an L7 parser recognised another protocol
            return
        tail = self._conns.state(conn, from_orig, data)
        if tail is None or from_orig:
            return
        buf = tail + data if tail else data
        m = _RETURN_DATA.search(buf)
        if m is None:
            self._conns.set(conn, buf[-4:])
            return
        self._conns.set(conn, None)
        reply = buf[m.start():]
        notice = Notice.for_conn(
            conn, ts_ns, notes.RMI_JAVA, notes.MSG[notes.RMI_JAVA],
            sub=reply[:SAMPLE_BYTES].decode("latin-1"), identifier=f"{conn.orig_h}->{conn.resp_h}",
            extra={"java.serialized": reply[1:3] == b"\xac\xed",
                   "java.reference": _REFERENCE.search(reply) is not None})
        self._tracker.report(self, notice, conn.orig_h, attacker=conn.resp_h,
                             callback=endpoint(conn.resp_h, conn.resp_p), delivered=True)

    def on_conn_end(self, conn: Conn) -> None:
        self._conns.end(conn)


def _start(opening: bytes) -> bytes | None:
    """An RMI connection starts with no server bytes seen."""
    return b"" if opening.startswith(JRMI_MAGIC) else None
