"""Network namespace plumbing through iproute2: namespaces, links, addresses, routes, membership.

Every call names its namespace (`ip -n NS`), so nothing is ever created in the host's own netns.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class PlumbingError(RuntimeError):
    """An iproute2 command failed; the message carries the command and its stderr."""


def ip(ns: str | None, *args: str) -> None:
    """Run one `ip` command (in namespace ns when given); raise PlumbingError on failure."""
    cmd = [IP, *(("-n", ns) if ns else ()), *args]
    _run(cmd)


def ip_batch(ns: str, lines: list[str]) -> None:
    """Run several `ip` commands in one namespace with one process (`ip -batch`)."""
    _run([IP, "-n", ns, "-batch", "-"], "\n".join(lines) + "\n")


def in_netns(ns: str, argv: list[str]) -> list[str]:
    """argv prefixed so that it runs inside namespace ns."""
    return [IP, "netns", "exec", ns, *argv]


def sysctl(ns: str, *settings: str) -> None:
    """Set sysctls (`key=value`) inside namespace ns; the net.* ones are per namespace."""
    _run(in_netns(ns, ["sysctl", "-q", "-w", *settings]))


def add_netns(name: str) -> None:
    """Create a named network namespace with loopback up."""
    ip(None, "netns", "add", name)
    ip(name, "link", "set", "lo", "up")


def exists(name: str) -> bool:
    """Whether the named namespace is mounted."""
    return (NETNS_DIR / name).exists()


def delete_netns(name: str) -> None:
    """Remove a named namespace; its links (veth ends, bridges) go with it."""
    if exists(name):
        ip(None, "netns", "delete", name)


def listen_in(name: str, addr: tuple[str, int]) -> socket.socket:
    """A TCP socket listening on addr inside the named namespace, for a server of this process:
    a short-lived thread enters the namespace (setns is per thread) and makes it there; the
    socket stays in that namespace after the thread ends."""
    made: list = []

    def make() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name}")
            finally:
                os.close(fd)
            made.append(socket.create_server(addr))
        except OSError as e:
            made.append(e)

    thread = threading.Thread(target=make, name=f"listen-in-{name}")
    thread.start()
    thread.join()
    if isinstance(made[0], OSError):
        raise PlumbingError(f"listening on {addr[0]}:{addr[1]} in {name}: {made[0]}")
    return made[0]


def pids_in(name: str) -> list[int]:
    """Pids of live processes whose network namespace is the named one (like `ip netns pids`)."""
    try:
        target = os.stat(NETNS_DIR / name)
    except FileNotFoundError:
        return []
    key = (target.st_dev, target.st_ino)
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == key:
            pids.append(int(entry.name))
    return pids


def _run(cmd: list[str], stdin: str | None = None) -> None:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlumbingError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
