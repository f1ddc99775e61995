"""Container and exec processes: real processes inside a pod's network namespace.

Each container also gets its own mount namespace: the node's filesystem (the lab has no images) with
a fresh tmpfs on /tmp and on /run, as each container has its own root fs, so what it writes there is
seen neither by the host nor by the pod's other containers and goes away with it. The namespace is a
slave of the host's, so a netns deleted on the host is not pinned by a container's copy of its
mount. An exec joins the container's network and mount namespaces and working directory.

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
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.lab.node import netns

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
SH = shutil.which("sh") or "/bin/sh"

MOUNT = shutil.which("mount") or "/usr/bin/mount"
MKDIR = shutil.which("mkdir") or "/usr/bin/mkdir"

# Inside the container's new mount namespace, before its command: a fresh tmpfs on /run (an image's
# /run is its own, empty; the service account token goes under /var/run, a link to it); a fresh
# tmpfs, first at the stage directory so the volumes (which may live under the node's /tmp) can
# still be bound into it, then moved onto /tmp; mount points under /tmp and /run are created, as
# runc creates them in the rootfs (elsewhere they must exist on the node: the lab has no image to
# create them in); then the working directory. $1 stage, $2 working directory, SOURCE TARGET pairs,
# `--`, the command.
# Its stdin is the write end of a pipe whose closing (stdin becomes /dev/null) tells the runtime
# that the namespace is ready. Tools by absolute path: the container's PATH is the pod's.
SETUP_SCRIPT = f"""stage="$1"; wd="$2"; shift 2
{MOUNT} -t tmpfs -o mode=755,nosuid,nodev lab-run /run || exit 127
{MOUNT} -t tmpfs -o mode=1777,nosuid,nodev lab-tmp "$stage" || exit 127
while [ "$1" != -- ]; do
  case "$2" in
    /tmp|/tmp/*) target="$stage${{2#/tmp}}"; {MKDIR} -p "$target" || exit 127 ;;
    /run/*|/var/run/*) target="$2"; {MKDIR} -p "$target" || exit 127 ;;
    *) target="$2" ;;
  esac
  {MOUNT} --bind "$1" "$target" || exit 127
  shift 2
done
shift
{MOUNT} --move "$stage" /tmp || exit 127
case "$wd" in /tmp/*) {MKDIR} -p "$wd" || exit 127 ;; esac
cd "$wd" || exit 127
exec "$@" </dev/null
"""
SETUP_TIMEOUT_S = 30.0


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
    stage: Path,
    mounts: Sequence[tuple[str, str]] = (),
) -> subprocess.Popen:
    """Start argv in ns and a mount namespace of its own with (source, target) bind mounts, in
    its own session, output to log; a reaper thread calls on_exit(code). stage: an empty
    directory on the node (only mounted on inside the container's namespace). Returns once the
    namespace is set up, so an exec never joins a half-made container."""
    problem = _not_runnable(argv[0], env["PATH"])
    if problem:
        raise ExecNotFound(
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            f"failed: runc create failed: unable to start container process: {problem}: unknown"
        )
    binds = [path for mount in mounts for path in mount]
    setup = [UNSHARE, "--mount", "--propagation", "slave", SH, "-c", SETUP_SCRIPT, "lab-setup"]
    ready, setting_up = os.pipe()
    with os.fdopen(ready, "rb", buffering=0) as wait_end:
        try:
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    netns.in_netns(ns, [*setup, str(stage), workdir or "/", *binds, "--", *argv]),
                    env=env,
                    cwd="/",
                    stdin=setting_up,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            os.close(setting_up)
        select.select([wait_end], [], [], SETUP_TIMEOUT_S)  # EOF: set up, or the setup failed
    threading.Thread(target=_reap, args=(proc, on_exit), daemon=True).start()
    return proc


def start_exec(pid: int, argv: list[str], env: dict[str, str], stdin: bool) -> subprocess.Popen:
    """Start argv in the namespaces and working directory of container process pid, with binary
    pipes (stdin only when asked), like a CRI exec without TTY."""
    problem = _not_runnable(argv[0] if argv else "", env["PATH"])
    if problem:
        raise ExecNotFound(
            f'failed to exec in container: failed to start exec "{secrets.token_hex(32)}": '
            f"OCI runtime exec failed: exec failed: unable to start container process: "
            f"{problem}: unknown"
        )
    return subprocess.Popen(
        [NSENTER, "--target", str(pid), "--net", "--mount", "--wd", "--", *argv],
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
