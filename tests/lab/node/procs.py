"""Container and exec processes: real processes inside a pod's network namespace.

Missing executables are refused before anything starts, with the words containerd and runc use
(containerd 1.6+/runc 1.1+), so a client sees what a real cluster would show.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab.node import netns

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecNotFound(Exception):
    """argv[0] cannot be executed; str() is the runtime's message.

    For a container start it is containerd's "failed to create containerd task ... runc create
    failed ..." text (the kubelet reports reason StartError, exit code 128). For an exec it is the
    CRI's "failed to exec in container ..." text: the kubelet prefixes "error executing command in
    container: ", the API server sends it as a Status Failure with reason InternalError and no
    exit code, and kubectl prints "error: Internal error occurred: ..." and exits 1.
    """


def container_env(env: dict[str, str]) -> dict[str, str]:
    """The environment a container process gets: env as given, with a sane PATH and HOME."""
    return {"PATH": DEFAULT_PATH, "HOME": "/root", **env}


def start_container(
    ns: str,
    argv: list[str],
    env: dict[str, str],
    workdir: str | None,
    log: Path,
    on_exit: Callable[[int], None],
) -> subprocess.Popen:
    """Start argv in ns, in its own session, output to log; a reaper thread calls on_exit(code)."""
    problem = _not_runnable(argv[0], env["PATH"])
    if problem:
        raise ExecNotFound(
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            f"failed: runc create failed: unable to start container process: {problem}: unknown"
        )
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            netns.in_netns(ns, argv),
            env=env,
            cwd=workdir or "/",
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=_reap, args=(proc, on_exit), daemon=True).start()
    return proc


def start_exec(ns: str, argv: list[str], env: dict[str, str], stdin: bool) -> subprocess.Popen:
    """Start argv in ns with binary pipes (stdin only when asked), like a CRI exec without TTY."""
    problem = _not_runnable(argv[0] if argv else "", env["PATH"])
    if problem:
        raise ExecNotFound(
            f'failed to exec in container: failed to start exec "{secrets.token_hex(32)}": '
            f"OCI runtime exec failed: exec failed: unable to start container process: "
            f"{problem}: unknown"
        )
    return subprocess.Popen(
        netns.in_netns(ns, argv),
        env=env,
        cwd="/",
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        start_new_session=True,
    )


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def wait_exit(pids: list[int], timeout_s: float) -> None:
    """Wait until every pid has exited or timeout_s passed, watching pidfds (no polling)."""
    poller, fds = select.poll(), []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            fds.append(os.pidfd_open(pid))
            poller.register(fds[-1], select.POLLIN)
    deadline = time.monotonic() + timeout_s
    try:
        pending = len(fds)
        while pending and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                pending -= 1
    finally:
        for fd in fds:
            os.close(fd)


def _not_runnable(argv0: str, path: str) -> str | None:
    """runc's reason why argv0 cannot be executed, or None when it can."""
    if "/" not in argv0:
        if shutil.which(argv0, path=path) is None:
            return f'exec: "{argv0}": executable file not found in $PATH'
        return None
    if not os.path.exists(argv0):
        return f'exec: "{argv0}": stat {argv0}: no such file or directory'
    if os.path.isdir(argv0) or not os.access(argv0, os.X_OK):
        return f'exec: "{argv0}": permission denied'
    return None


def _reap(proc: subprocess.Popen, on_exit: Callable[[int], None]) -> None:
    rc = proc.wait()
    on_exit(rc if rc >= 0 else 128 - rc)
