"""Which connections speak a protocol, decided from the client's first bytes however TCP cut them.

The LDAP and RMI detectors recognise their protocol on any port by the client's opening; until
enough bytes are in they gather them, and a connection whose first byte rules it out is dropped
at once, so unrelated traffic costs one dict lookup per chunk.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

State = TypeVar("State")
_UNDECIDED = object()


class Openings(Generic[State]):
    """Per-connection detector state: made by start(opening) when the client's opening is this
    protocol's, None when it is not; could_be(opening) says whether a short opening may still be."""

    def __init__(self, first: bytes, needed: int, could_be: Callable[[bytes], bool],
                 start: Callable[[bytes], State | None]) -> None:
        self._first, self._needed, self._could_be, self._start = first, needed, could_be, start
        self._state: dict[str, State | None] = {}
        self._opening: dict[str, bytes] = {}  # client bytes while too few to decide

    def state(self, uid: str, from_orig: bool, data: bytes) -> State | None:
        """The connection's state once it is known to speak the protocol, else None (not it, or
        not decided yet: this chunk went into deciding)."""
        state = self._state.get(uid, _UNDECIDED)
        if state is not _UNDECIDED:
            return state
        if from_orig and data:
            if data[:1] != self._first and uid not in self._opening:
                self._state[uid] = None
            else:
                self._decide(uid, data)
        return None

    def set(self, uid: str, state: State | None) -> None:
        """Replace the connection's state (None: stop looking at it)."""
        self._state[uid] = state

    def end(self, uid: str) -> None:
        """Forget the connection."""
        self._state.pop(uid, None)
        self._opening.pop(uid, None)

    def _decide(self, uid: str, data: bytes) -> None:
        opening = self._opening.pop(uid, b"") + data
        if len(opening) < self._needed and self._could_be(opening):
            self._opening[uid] = opening
        else:
            self._state[uid] = self._start(opening)
