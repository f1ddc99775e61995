"""Notices name the pods at both ends (issue 2: "every flow and notice carries orig_pod.ns,
orig_pod.name, orig_pod.node, orig_pod.node_ip and the same for resp_pod.*"), in `-o json` and
in the notice.log of `--zeek-dir`, on the shared Log4Shell capture with an LDAP callback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_analyze import analyze, records

CAPTURE = "log4j-user_agent.pcap"  # attempt from 10.10.10.31, victim .10, LDAP server .11
ATTACKER, VICTIM, LDAP = "10.10.10.31", "172.16.238.10", "172.16.238.11"
PODS = {  # the attacker is outside the cluster
    VICTIM: {"ns": "shop", "name": "web-7d4b9c-x2x9z", "node": "node1", "node_ip": "172.31.0.5"},
    LDAP: {"ns": "tools", "name": "ldap-5f8d7-q7w2e", "node": "node2", "node_ip": "172.31.0.6"},
}


@pytest.fixture
def pods_json(tmp_path) -> Path:
    """`kubectl get pods -A -o json` with the victim's and the LDAP server's pods."""
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"namespace": pod["ns"], "name": pod["name"]},
         "spec": {"nodeName": pod["node"]},
         "status": {"phase": "Running", "podIP": ip, "hostIP": pod["node_ip"]}}
        for ip, pod in PODS.items()]}))
    return path


def json_notices(capture: Path, pods_json: Path, tmp_path: Path) -> list[dict]:
    proc = analyze(capture, "-o", "json", "--pods-json", pods_json)
    assert proc.returncode == 0
    return [r for r in records(proc.stdout) if r["_path"] == "notice"]


def zeek_dir_notices(capture: Path, pods_json: Path, tmp_path: Path) -> list[dict]:
    assert analyze(capture, "--zeek-dir", tmp_path / "logs", "--pods-json", pods_json
                   ).returncode == 0
    return records((tmp_path / "logs" / "notice.log").read_bytes())


def pod_fields(notice: dict, end: str) -> dict:
    return {k.split(".", 1)[1]: v for k, v in notice.items() if k.startswith(f"{end}_pod.")}


@pytest.mark.parametrize("notices", [json_notices, zeek_dir_notices])
def test_each_notice_names_the_pods_at_both_ends_and_nothing_for_an_outside_host(
        shared_pcaps, pods_json, tmp_path, notices):
    found = notices(shared_pcaps / CAPTURE, pods_json, tmp_path)
    assert {n["note"].split("::")[1] for n in found} >= {
        "LOG4J_ATTEMPT_HEADER", "LOG4J_LDAP_JAVA", "LOG4J_JAVA_CLASS_DOWNLOAD", "LOG4J_CALLBACK"}
    for n in found:
        assert pod_fields(n, "orig") == PODS.get(n["id.orig_h"], {}), n
        assert pod_fields(n, "resp") == PODS.get(n["id.resp_h"], {}), n
    attempt = next(n for n in found if n["note"].endswith("LOG4J_ATTEMPT_HEADER"))
    assert (attempt["id.orig_h"], attempt["resp_pod.name"]) == (ATTACKER, "web-7d4b9c-x2x9z")
