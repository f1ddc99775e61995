"""The runtime's record of what it created, on disk, so a fresh process can undo it after a crash.

Namespaces are recorded before they are created (write-ahead), so a crash half way through a
setup still leaves a record of everything that may exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

from tests.lab.node import netns, procs

STATE_FILE = "runtime.json"


class StateFile:
    """JSON document {"prefix", "namespaces": [...], "nodes": {...}, "pods": {...}}."""

    def __init__(self, state_dir: Path, prefix: str) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self.data: dict = {"prefix": prefix, "namespaces": [], "nodes": {}, "pods": {}}

    def add_namespace(self, name: str) -> None:
        """Record a namespace that is about to be created."""
        self.data["namespaces"].append(name)
        self.save()

    def drop_namespace(self, name: str) -> None:
        """Forget a namespace that has been deleted."""
        if name in self.data["namespaces"]:
            self.data["namespaces"].remove(name)
        self.save()

    def save(self) -> None:
        """Write atomically: a reader never sees half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


def read(state_dir: Path) -> dict | None:
    """The recorded state, or None when there is none."""
    try:
        return json.loads((Path(state_dir) / STATE_FILE).read_text())
    except FileNotFoundError:
        return None


def kill_netns_processes(name: str, grace_s: float = 2.0) -> None:
    """SIGTERM every process in the namespace, SIGKILL what is left after grace_s (and whatever
    was forked meanwhile) until none is left."""
    pids = netns.pids_in(name)
    _signal_all(pids, signal.SIGTERM)
    procs.wait_exit(pids, grace_s)
    while pids := netns.pids_in(name):
        _signal_all(pids, signal.SIGKILL)
        procs.wait_exit(pids, 1.0)


def remove_all(state_dir: Path) -> list[str]:
    """Kill the processes in and delete every recorded namespace; return the names deleted."""
    data = read(state_dir)
    if data is None:
        return []
    removed = []
    for name in reversed(data["namespaces"]):
        if netns.exists(name):
            kill_netns_processes(name, grace_s=0.5)
            netns.delete_netns(name)
            removed.append(name)
    (Path(state_dir) / STATE_FILE).unlink(missing_ok=True)
    return removed


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
