"""The README's first command, `scripts/demo`, run as a user would but bounded (its extra
arguments go to watch): it sets up, starts the lab with the log4shell scenario and shows the
attack chain with the pods named. JSON lines, as off a terminal, so the test can read them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_TIMEOUT_S = 1200  # setup (pip, maybe apt), the lab with its JVMs, the 30 s watch


def test_the_demo_shows_the_log4shell_chain_with_the_pods_named(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the demo's lab needs root (network namespaces); CI runs as root")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    run = subprocess.run([str(REPO / "scripts" / "demo"), "--duration", "30s", "-o", "json"],
                         env={**env, "NETMON_LAB_DIR": str(tmp_path / "lab")},
                         capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)
    assert run.returncode == 0, run.stderr

    notices = [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == "notice"]
    attempts = pods_of(notices, "ATTEMPT_URI", "ATTEMPT_HEADER", "ATTEMPT_BODY")
    assert attempts == {("attacker", "web")}
    assert pods_of(notices, "LDAP_JAVA") == {("web", "ldap")}
    assert pods_of(notices, "JAVA_CLASS_DOWNLOAD") == {("web", "ldap")}


def pods_of(notices: list[dict], *notes: str) -> set[tuple[str, str]]:
    """(orig pod, resp pod) of the notices whose note ends with one of `notes`."""
    return {(n.get("orig_pod.name", ""), n.get("resp_pod.name", "")) for n in notices
            if n["note"].endswith(notes)}
