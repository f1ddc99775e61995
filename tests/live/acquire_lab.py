"""Helpers of the acquisition tests: API clients on the lab, traffic pods, capture processes.

Import the fixtures into a test module as `lab, lab_ns, api = ...` (see test_acquire.py).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from kubectl_netmon.cluster import specs
from kubectl_netmon.cluster.session import CapturePoint
from tests.lab.fixtures import Lab, pod

# A pod that sends one small UDP datagram to DST:9 (discard) every 0.1 s, forever.
_TALK = ("import socket, sys, time\n"
         "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
         "while True:\n"
         "    s.sendto(b'netmon', (sys.argv[1], 9))\n"
         "    time.sleep(0.1)\n")


def api_client(lab: Lab, context: str = "lab") -> client.ApiClient:
    """An ApiClient for a kubeconfig context of the lab (`lab` admin, `lab-restricted`)."""
    return config.new_client_from_config(config_file=str(lab.kubeconfig), context=context)


@pytest.fixture
def api(lab: Lab) -> Iterator[client.ApiClient]:
    """The admin's ApiClient."""
    c = api_client(lab)
    yield c
    c.close()


@pytest.fixture
def restricted_api(lab: Lab) -> Iterator[client.ApiClient]:
    """The restricted user's ApiClient (its rules are set per test with lab.rules)."""
    c = api_client(lab, "lab-restricted")
    yield c
    c.close()


def talker(name: str, dst: str = "10.244.0.1", **spec: object) -> dict:
    """A pod manifest whose only process sends a datagram to dst every 0.1 s."""
    return pod(name, ["python3", "-c", _TALK, dst], **spec)


def read_all(point: CapturePoint) -> bytes:
    """Every stdout byte of a capture point until its stream ends."""
    return b"".join(point.output)


def tshark_fields(tshark: str, data: bytes, tmp: Path, *fields: str) -> list[str]:
    """One line per packet of a pcapng held in memory, with the given tshark fields."""
    path = tmp / "capture.pcapng"
    path.write_bytes(data)
    args = [tshark, "-r", str(path), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def _stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def capture_sessions(marker: str) -> set[int]:
    """Session ids of the lab's exec'd capture wrappers whose command line holds `marker` (a
    heartbeat key); dumpcap runs in the same session."""
    sids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if marker.encode() in _cmdline(pid) and b"netmon-capture" in _cmdline(pid):
            st = _stat(pid)
            if st:
                sids.add(int(st[3]))
    return sids


def pids_in(sids: set[int]) -> list[int]:
    """Live (not zombie) processes in these sessions."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        st = _stat(pid)
        if st and st[0] != "Z" and int(st[3]) in sids:
            found.append(int(pid))
    return found


def processes_in(sids: set[int]) -> list[bytes]:
    """Command lines of live processes in these sessions."""
    return [_cmdline(str(pid)) for pid in pids_in(sids)]


def container_pids(container: str) -> list[int]:
    """The processes running a netmon container's own command (its heartbeat loop)."""
    marker = specs.heartbeat_path(container).encode()
    return [int(pid) for pid in filter(str.isdigit, os.listdir("/proc"))
            if b"netmon-linger" in (cmd := _cmdline(pid)) and marker in cmd]


def ephemeral_state(pod_obj: dict, name: str) -> dict:
    """The state of one ephemeral container in a pod object ({} while unknown)."""
    for cs in pod_obj["status"].get("ephemeralContainerStatuses", []):
        if cs["name"] == name:
            return cs["state"]
    return {}


def netmon_left(lab: Lab, ns: str) -> list[str]:
    """netmon's pods and every ephemeral container in the namespace (as the admin reads them)."""
    _, pods = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
    found = []
    for p in pods["items"]:
        labels = p["metadata"].get("labels") or {}
        if labels.get(specs.MANAGED_BY) == specs.MANAGER:
            found.append(p["metadata"]["name"])
        found += [c["name"] for c in p["spec"].get("ephemeralContainers", [])]
    return found
