"""The one small interface through which the flow engine tells others what it sees.

A listener overrides only the hooks it needs; the engine checks once, at start, which hooks a
listener overrides and never calls the others, so an unused hook costs nothing per packet.
"""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.capture.model import Packet


class FlowListener:
    """Hooks called by the engine, in packet order. None of them returns anything."""

    def on_packet(self, pkt: Packet, conn: Conn) -> None:
        """Every decoded packet with the connection it belongs to (costly: use only if needed)."""

    def on_data(self, conn: Conn, from_orig: bool, data: bytes, ts_ns: int) -> None:
        """In-order payload: reassembled TCP stream chunks (the first 64 KiB or more of each
        direction) and each UDP datagram's payload."""

    def on_event(self, conn: Conn, event: object) -> None:
        """An L7 event (capture.l7.events) parsed from the connection's payload."""

    def on_conn_end(self, conn: Conn) -> None:
        """The connection record is final (closed, timed out, evicted, or end of input)."""

    def on_finish(self) -> None:
        """End of the input: flush anything held back."""


def overridden(listener: FlowListener, hook: str) -> bool:
    """True when the listener's class implements hook itself (so the engine must call it)."""
    return getattr(type(listener), hook) is not getattr(FlowListener, hook)
