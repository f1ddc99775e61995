"""The log4shell scenario's programs, run through the Runtime (no API server) and captured for
~15 s on the web pod's eth0 with dumpcap; tshark is the oracle (needs root, java, tshark)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.runtime import Runtime
from tests.lab.scenarios import load, log4shell, nodes_needed

CAPTURE_SECONDS = 15
READY = {"web": b"victim listening", "ldap": b"ldap on"}
LDAP_AND_CLASSES = ["-d", "tcp.port==1389,ldap", "-d", "tcp.port==8000,http"]


def start_pods(rt: Runtime, manifests: list[dict]) -> dict[str, str]:
    """What a kubelet does with the scenario's Pods, in order; returns pod name -> IP."""
    ips = {}
    for pod in (m for m in manifests if m["kind"] == "Pod"):
        name = pod["metadata"]["name"]
        ips[name] = rt.start_pod(name, pod["spec"]["nodeName"])
        for c in pod["spec"]["containers"]:
            env = {e["name"]: e["value"] for e in c.get("env", [])}
            argv = c["command"] + c.get("args", [])
            rt.start_container(name, c["name"], argv, env, c.get("workingDir"), lambda code: None)
    return ips


def wait_until_ready(rt: Runtime, bound_s: float = 300) -> None:
    """Until the victim and the LDAP server say they listen (javac and the JVM take a while)."""
    deadline = time.monotonic() + bound_s
    while not all(line in rt.container_log(pod, pod).read_bytes() for pod, line in READY.items()):
        assert time.monotonic() < deadline, "scenario servers did not start"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scenario(root, tmp_path_factory):
    if not (shutil.which("java") and shutil.which("javac") and shutil.which("dumpcap")):
        pytest.skip("needs java, javac (openjdk-17-jdk-headless) and dumpcap (scripts/setup)")
    rt = Runtime(tmp_path_factory.mktemp("state"), prefix=f"nmsc-{secrets.token_hex(3)}")
    try:
        rt.create_nodes(log4shell.NODES)
        ips = start_pods(rt, load("log4shell"))
        wait_until_ready(rt)
        dumpcap = rt.exec(
            "web",
            "web",
            ["dumpcap", "-q", "-i", "eth0", "-a", f"duration:{CAPTURE_SECONDS}", "-w", "-"],
            stdin=False,
        )
        pcap, _ = dumpcap.communicate(timeout=CAPTURE_SECONDS + 120)
        path = tmp_path_factory.mktemp("capture") / "web.pcapng"
        path.write_bytes(pcap)
        yield rt, ips, path
    finally:
        rt.teardown()


def fields(tshark: str, path: Path, display_filter: str, *names: str) -> list[str]:
    cmd = [tshark, "-r", str(path), *LDAP_AND_CLASSES, "-Y", display_filter, "-T", "fields"]
    for name in names:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_web_and_ldap_get_the_ips_the_scenario_names(scenario):
    _, ips, _ = scenario
    assert (ips["web"], ips["ldap"]) == (log4shell.WEB_IP, log4shell.LDAP_IP)


def test_capture_holds_an_exploit_request_to_web(scenario, tshark):
    _, _, path = scenario
    ldap = f"ldap://{log4shell.LDAP_IP}:{log4shell.LDAP_PORT}/"
    assert fields(tshark, path, f'http.request && frame contains "{ldap}"', "ip.src")


def test_capture_holds_the_ldap_reply_with_a_java_codebase_on_the_ldap_pod(scenario, tshark):
    _, _, path = scenario
    entries = fields(tshark, path, "ldap.protocolOp == 4", "ldap.type", "ldap.AttributeValue")
    codebase = f"http://{log4shell.LDAP_IP}:8000/".encode().hex()
    attributes = [dict(zip(*(col.split(",") for col in e.split("\t")))) for e in entries]
    assert any(a.get("javaCodeBase") == codebase for a in attributes)


def test_capture_holds_the_class_download_by_a_java_user_agent(scenario, tshark):
    _, _, path = scenario
    agents = fields(tshark, path, 'http.request.uri == "/Exploit.class"', "http.user_agent")
    assert agents and all(agent.startswith("Java/") for agent in agents)


def test_the_class_is_served_as_java_bytecode(scenario, tshark):
    _, _, path = scenario
    types = fields(tshark, path, "http.response && tcp.srcport == 8000", "http.content_type")
    assert "application/java-vm" in types


def test_benign_client_traffic_flows_alongside(scenario, tshark):
    _, ips, path = scenario
    assert fields(tshark, path, f"http.request && ip.src == {ips['client']}", "http.request.uri")


def test_the_victim_ran_the_served_class(scenario):
    rt, _, _ = scenario
    assert (
        b"Exploit loaded: harmless lab payload ran" in rt.container_log("web", "web").read_bytes()
    )


def test_the_scenario_asks_for_a_node_each_for_web_ldap_and_the_rest():
    assert nodes_needed("log4shell") == 3
