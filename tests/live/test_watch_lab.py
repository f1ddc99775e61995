"""`kubectl netmon watch` against the lab's log4shell scenario (namespace demo: web on node-1,
ldap on node-2, attacker and client on node-3): the chain reported live with pod names, JSON
lines off a terminal, the live table on one, kubectl's flags, and a clean stop on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

ATTEMPTS = ("ATTEMPT_URI", "ATTEMPT_HEADER", "ATTEMPT_BODY")


def records(run: subprocess.CompletedProcess, path: str) -> list[dict]:
    return [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == path]


def pods_of(rec: dict) -> tuple[str, str]:
    return rec.get("orig_pod.name", ""), rec.get("resp_pod.name", "")


@pytest.fixture(scope="module")
def web_watch(log4shell_lab: RunningLab) -> subprocess.CompletedProcess:  # noqa: F811
    """The issue's example: `watch pod web -n demo --duration 30s -o json`."""
    run = log4shell_lab.netmon("watch", "pod", "web", "-n", "demo", "--duration", "30s",
                               "-o", "json")
    assert run.returncode == 0, run.stderr.decode()
    return run


def test_the_attempt_names_the_attacker_and_the_victim(web_watch):
    attempts = [n for n in records(web_watch, "notice") if n["note"].endswith(ATTEMPTS)]

    assert attempts and {pods_of(n) for n in attempts} == {("attacker", "web")}


def test_the_ldap_callback_names_the_victim_and_the_ldap_pod(web_watch):
    callbacks = [n for n in records(web_watch, "notice") if n["note"].endswith("LDAP_JAVA")]

    assert callbacks and {pods_of(n) for n in callbacks} == {("web", "ldap")}


def test_the_class_download_names_the_victim_and_the_ldap_pod(web_watch):
    downloads = [n for n in records(web_watch, "notice")
                 if n["note"].endswith("JAVA_CLASS_DOWNLOAD")]

    assert downloads and {pods_of(n) for n in downloads} == {("web", "ldap")}


def test_flows_carry_pod_and_node_names_on_both_ends(web_watch):
    conns = [c for c in records(web_watch, "conn") if c["id.resp_p"] == 8080]

    assert {pods_of(c) for c in conns} >= {("client", "web"), ("attacker", "web")}
    assert {c["resp_pod.node"] for c in conns} == {"node-1"}


def test_off_a_terminal_the_default_output_is_json_lines(log4shell_lab):  # noqa: F811
    run = log4shell_lab.netmon("watch", "pod", "web", "-n", "demo", "--duration", "5s")

    lines = run.stdout.splitlines()
    assert run.returncode == 0 and lines
    assert {json.loads(line)["_path"] for line in lines} >= {"conn"}


def test_kubectl_flags_after_the_plugin_name_choose_the_cluster(log4shell_lab):  # noqa: F811
    """--kubeconfig and --context as kubectl passes them; KUBECONFIG points nowhere."""
    run = log4shell_lab.netmon("watch", "--kubeconfig", str(log4shell_lab.kubeconfig),
                               "--context", "lab", "--namespace", "demo",
                               "--request-timeout", "20s", "pod", "ldap", "--duration", "5s",
                               "-o", "json", KUBECONFIG="/nonexistent")

    assert run.returncode == 0, run.stderr.decode()
    assert "ldap" in {pods_of(c)[1] for c in records(run, "conn")}


def test_kubectl_flags_before_the_command_are_honoured(log4shell_lab):  # noqa: F811
    """`kubectl netmon -n demo watch pod ldap` reaches the plugin as `-n demo watch pod ldap`."""
    run = log4shell_lab.netmon("--kubeconfig", str(log4shell_lab.kubeconfig), "-n", "demo",
                               "watch", "pod", "ldap", "--duration", "5s", "-o", "json",
                               KUBECONFIG="/nonexistent")

    assert run.returncode == 0, run.stderr.decode()
    assert "ldap" in {pods_of(c)[1] for c in records(run, "conn")}


def test_a_label_selector_watches_the_matching_pods(log4shell_lab):  # noqa: F811
    run = log4shell_lab.netmon("watch", "-l", "app=ldap", "-n", "demo", "--duration", "6s",
                               "-o", "json")

    assert run.returncode == 0, run.stderr.decode()
    assert "ldap" in {pods_of(c)[1] for c in records(run, "conn")}


def test_a_node_watch_sees_the_pods_on_that_node(log4shell_lab):  # noqa: F811
    run = log4shell_lab.netmon("watch", "node", "node-2", "--duration", "6s", "-o", "json")

    assert run.returncode == 0, run.stderr.decode()
    assert ("web", "ldap") in {pods_of(c) for c in records(run, "conn")}


def test_on_a_terminal_the_live_table_shows_alerts_flows_and_status(log4shell_lab):  # noqa: F811
    screen = run_in_terminal(log4shell_lab, "watch", "pod", "web", "-n", "demo",
                             "--duration", "8s", "-q")

    assert "ALERTS (" in screen and "FLOWS (busiest" in screen
    assert "\x1b[1;31m" in screen and "attacker demo/attacker" in screen
    assert "victim demo/web:8080" in screen and " duplicates, " in screen


def test_ctrl_c_ends_the_watch_with_its_flows_and_a_summary(log4shell_lab):  # noqa: F811
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web",
                             "-n", "demo", "-o", "json"], cwd=REPO, env=log4shell_lab.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stderr:
        if b"Capturing on" in line:
            break
    time.sleep(4)  # let some traffic pass; not a timing assertion
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err.decode()
    assert b'"_path":"conn"' in out and b" flows, " in err


def run_in_terminal(lab: RunningLab, *args: str) -> str:
    """Run netmon with a pseudo-terminal as stdout and stderr; everything it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_netmon", *args], cwd=REPO,
                            env=lab.env(COLUMNS="160", LINES="50"), stdout=follower,
                            stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            data = os.read(leader, 65536) if ready else b""
        except OSError:  # the terminal closed: the process has exited
            data = b""
        if not data:
            break
        screen += data
    os.close(leader)
    assert proc.wait(timeout=60) == 0, screen.decode(errors="replace")
    return screen.decode(errors="replace")
