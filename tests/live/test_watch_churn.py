"""Pods churn during a watch: an address given up by one pod and taken by the next is named
after the pod that held it when each flow passed (the pod watch feeds the lookup with times)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch

from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

# Sends a datagram to the given address every 0.2 s, from a new socket each time.
TALK = ("import socket, sys, time\n"
        "while True:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hi', (sys.argv[1], 9))\n"
        "    time.sleep(0.2)\n")
LDAP_IP = "10.244.2.2"  # the log4shell scenario's ldap pod, the talkers' destination


@pytest.fixture
def core(log4shell_lab: RunningLab) -> Iterator[client.CoreV1Api]:  # noqa: F811
    api = config.new_client_from_config(config_file=str(log4shell_lab.kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def talker(core: client.CoreV1Api, ns: str, name: str) -> str:
    """Start a talker pod on node-3 and return its IP once it runs."""
    core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": {
        "nodeName": "node-3", "containers": [{"name": "talk", "image": "python:3.11-slim",
                                              "command": ["python3", "-c", TALK, LDAP_IP]}]}})
    for event in watch.Watch().stream(core.list_namespaced_pod, ns, timeout_seconds=60,
                                      field_selector=f"metadata.name={name}"):
        pod = event["object"]
        if pod.status.phase == "Running" and pod.status.pod_ip:
            return pod.status.pod_ip
    raise AssertionError(f"{name} did not start")


def delete(core: client.CoreV1Api, ns: str, name: str) -> None:
    core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
    selector = f"metadata.name={name}"
    listed = core.list_namespaced_pod(ns, field_selector=selector)
    if not listed.items:
        return
    for event in watch.Watch().stream(core.list_namespaced_pod, ns, timeout_seconds=60,
                                      field_selector=selector,
                                      resource_version=listed.metadata.resource_version):
        if event["type"] == "DELETED":
            return
    raise AssertionError(f"{name} was not deleted")


def test_an_address_reused_by_a_new_pod_names_each_flow_after_its_holder_then(
        log4shell_lab, core, namespace):  # noqa: F811
    first_ip = talker(core, namespace, "first")
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", "watch", "pod", "ldap",
                             "-n", "demo", "--duration", "25s", "-o", "json"], cwd=REPO,
                            env=log4shell_lab.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    started = threading.Event()
    stderr: list[bytes] = []
    stdout: list[bytes] = []  # read all along: a full pipe would stall the watch

    def read_stderr() -> None:
        for line in proc.stderr:
            stderr.append(line)
            if b"Capturing on" in line:
                started.set()

    readers = [threading.Thread(target=read_stderr, daemon=True),
               threading.Thread(target=lambda: stdout.extend(proc.stdout), daemon=True)]
    for reader in readers:
        reader.start()
    assert started.wait(120), b"".join(stderr).decode()
    time.sleep(3)  # flows of the first pod pass; not a timing assertion
    delete(core, namespace, "first")
    second_ip = talker(core, namespace, "second")
    proc.wait(timeout=120)
    readers[1].join(timeout=30)
    out = b"".join(stdout)

    assert second_ip == first_ip  # the lab hands the freed address out again
    holders = {r.get("orig_pod.name") for r in map(json.loads, out.splitlines())
               if r["_path"] == "conn" and r["id.orig_h"] == first_ip}
    assert holders == {"first", "second"}
