"""`kubectl-netmon enrich` with pods from the live cluster (the lab) instead of a snapshot."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures
REPO = Path(__file__).resolve().parents[2]


def record(orig: str, ts: float) -> str:
    return json.dumps({"ts": ts, "uid": "C1", "id.orig_h": orig, "id.orig_p": 1,
                       "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp"}) + "\n"


def test_records_name_the_pod_the_cluster_says_holds_the_address(lab, lab_ns, tmp_path):
    web = lab.create_pod(lab_ns, pod("web"))
    started = calendar.timegm(time.strptime(web["status"]["startTime"], "%Y-%m-%dT%H:%M:%SZ"))
    ip = web["status"]["podIP"]
    (tmp_path / "dns.log").write_text(record(ip, started - 3600) + record(ip, time.time()))
    proc = subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", "enrich", "--kubeconfig", str(lab.kubeconfig),
         str(tmp_path / "dns.log")],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    before, now = (json.loads(line) for line in proc.stdout.splitlines())
    assert (now["orig_pod.ns"], now["orig_pod.name"], now["orig_pod.node"]) == (
        lab_ns, "web", web["spec"]["nodeName"])
    assert "orig_pod.name" not in before  # an hour before the pod started: not guessed
    assert "1 records left without pod context" in proc.stderr.decode()
