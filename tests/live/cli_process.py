"""kubectl-netmon as a running process, for tests that act while it captures: wait for a line
of its progress on stderr, signal it, collect what it printed; and what it left in the lab.

    with NetmonProcess(lab.env(), "watch", "pod", "web", "-n", "demo") as run:
        run.wait_for("Capturing on")
        run.send_signal(signal.SIGINT)
        done = run.finish()            # exit code, stdout, stderr

Capture processes are found by the heartbeat file of their container in their command line
(tests/live/acquire_lab.py), so only this run's containers are looked at.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass

from kubernetes import client, config

from kubectl_netmon.cluster import specs
from tests.lab.node.procs import wait_exit
from tests.live.acquire_lab import capture_sessions, pids_in, processes_in
from tests.live.fixtures import REPO

WAIT_S = 90.0  # for a progress line (the node may pull the image first)
EXIT_S = 60.0  # for the process to exit once stopped
GONE_S = 30.0  # for a remote capture to go away once its client stopped or died

_SUMMARY = re.compile(r"^(\d+) packets \(", re.M)
_NODE_POD = re.compile(r"created capture pod (\S+)/(\S+)$")
_CONTAINER = re.compile(r"(?:added|reusing) ephemeral container (\S+)$")


@dataclass
class Finished:
    """How the run ended."""

    code: int
    stdout: bytes
    stderr: str


class NetmonProcess:
    """`python -m kubectl_netmon ARGS` with the given environment; stderr is read by a thread
    so the test can wait for a line with a time limit."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", *args], cwd=REPO,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._stdout = b""
        self._readers = [threading.Thread(target=self._read_stderr, daemon=True),
                         threading.Thread(target=self._read_stdout, daemon=True)]
        for t in self._readers:
            t.start()

    def __enter__(self) -> NetmonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(EXIT_S)

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    def _read_stdout(self) -> None:
        self._stdout = self.proc.stdout.read()

    def wait_for(self, text: str, times: int = 1) -> str:
        """The `times`-th stderr line holding text, once printed (fails after WAIT_S or when
        the process ended first)."""
        seen = 0
        while True:
            try:
                line = self._new.get(timeout=WAIT_S)
            except queue.Empty:
                raise AssertionError(f"no {text!r} on stderr within {WAIT_S}s:\n"
                                     + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"exited before printing {text!r}:\n" + "\n".join(self.lines))
            if text in line:
                seen += 1
                if seen == times:
                    return line

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> Finished:
        """Wait for the exit (at most EXIT_S); its code and everything it printed."""
        code = self.proc.wait(EXIT_S)
        for t in self._readers:
            t.join(EXIT_S)
        return Finished(code, self._stdout, "\n".join(self.lines))

    def node_pods(self) -> list[tuple[str, str]]:
        """(namespace, name) of the capture pods this run said it created."""
        return [m.groups() for m in map(_NODE_POD.search, self.lines) if m]

    def capture_sessions(self) -> set[int]:
        """Session ids of the remote captures running for this run's containers now."""
        containers = [name for _, name in self.node_pods()]
        containers += [m.group(1) for m in map(_CONTAINER.search, self.lines) if m]
        assert containers, "the run named no capture container:\n" + "\n".join(self.lines)
        sids: set[int] = set()
        for name in containers:
            sids |= capture_sessions(specs.heartbeat_path(name))
        assert sids, f"no capture process found for {containers}"
        return sids


def still_running(sids: set[int]) -> list[bytes]:
    """Command lines of the captures in these sessions that are still alive after GONE_S."""
    wait_exit(pids_in(sids), GONE_S)
    return processes_in(sids)


def pod_exists(kubeconfig: str, namespace: str, name: str) -> bool:
    """Whether the lab still has this pod (read as the admin)."""
    api = config.new_client_from_config(config_file=kubeconfig, context="lab")
    try:
        client.CoreV1Api(api).read_namespaced_pod(name, namespace)
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    finally:
        api.close()
    return True


def kept(stderr: str) -> int:
    """The packets the summary says were kept (after duplicates were dropped)."""
    return int(_SUMMARY.search(stderr).group(1))


def conns(stdout: bytes) -> list[dict]:
    """The conn records of a run's JSON lines."""
    return [r for r in map(json.loads, stdout.splitlines()) if r["_path"] == "conn"]
