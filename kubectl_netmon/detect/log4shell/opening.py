"""Which connections speak a protocol, decided from the client's first bytes however TCP cut them.

The LDAP and RMI detectors recognise their protocol on any port by the client's opening; until
enough bytes are in they gather them. A connection ruled out (its first byte, most often) is
marked in its Conn.marks, so unrelated traffic costs no table entry and one bit test per chunk.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from kubectl_netmon.capture.conn import Conn

State = TypeVar("State")
_BITS: dict[str, int] = {}  # protocol name -> its Conn.marks bit


def _bit(name: str) -> int:
    """The Conn.marks bit that says "not this protocol" (one per protocol name)."""
    return _BITS.setdefault(name, 1 << len(_BITS))


class Openings(Generic[State]):
    """Per-connection detector state: made by start(opening) when the client's opening is this
    protocol's, None when it is not; could_be(opening) says whether a short opening may still be.
    Only connections that speak the protocol, or may still, have an entry (by uid)."""

    def __init__(self, name: str, first: bytes, needed: int, could_be: Callable[[bytes], bool],
                 start: Callable[[bytes], State | None]) -> None:
        self._bit = _bit(name)
        self._first, self._needed, self._could_be, self._start = first, needed, could_be, start
        self._state: dict[str, State] = {}
        self._opening: dict[str, bytes] = {}  # client bytes while too few to decide

    def state(self, conn: Conn, from_orig: bool, data: bytes) -> State | None:
        """The connection's state once it is known to speak the protocol, else None (not it, or
        not decided yet: this chunk went into deciding)."""
        if conn.marks & self._bit:
            return None
        uid = conn.uid
        state = self._state.get(uid)
        if state is not None:
            return state
        if from_orig and data:
            if data[:1] != self._first and uid not in self._opening:
                conn.marks |= self._bit
            else:
                self._decide(conn, data)
        return None

    def set(self, conn: Conn, state: State | None) -> None:
        """Replace the connection's state (None: stop looking at it)."""
        if state is None:
            self._state.pop(conn.uid, None)
            conn.marks |= self._bit
        else:
            self._state[conn.uid] = state

    def end(self, conn: Conn) -> None:
        """Forget the connection."""
        self._state.pop(conn.uid, None)
        self._opening.pop(conn.uid, None)

    def _decide(self, conn: Conn, data: bytes) -> None:
        uid = conn.uid
        opening = self._opening.pop(uid, b"") + data
        if len(opening) < self._needed and self._could_be(opening):
            self._opening[uid] = opening
        else:
            self.set(conn, self._start(opening))
