"""kubectl-netmon run in a pod: no kubeconfig, the service account's token, CA and namespace at
/var/run/secrets/kubernetes.io/serviceaccount and KUBERNETES_SERVICE_HOST/PORT, as the kubelet
gives a container. The real CLI runs in a mount namespace of its own where those files are (a
tmpfs over /run, so nothing is written to the host), against the lab's log4shell scenario."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.live.fixtures import REPO, RunningLab, log4shell_lab  # noqa: F401 - the fixture

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _in_a_pod(lab: RunningLab, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI as a pod runs it: the lab admin's token as the service account's, namespace demo."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    cluster = next(c["cluster"] for c in doc["clusters"])
    user = next(u["user"] for u in doc["users"] if u["user"].get("token"))
    sa = tmp / "sa"
    sa.mkdir()
    (sa / "token").write_text(user["token"])
    shutil.copy(cluster["certificate-authority"], sa / "ca.crt")
    (sa / "namespace").write_text("demo")
    server = urlparse(cluster["server"])
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HOME")}
    env.update(HOME=str(tmp), KUBERNETES_SERVICE_HOST=server.hostname,
               KUBERNETES_SERVICE_PORT=str(server.port))
    script = (f"mount -t tmpfs tmpfs /run && mkdir -p {SA_DIR} && cp {sa}/* {SA_DIR}/ && "
              f"exec {shlex.join([sys.executable, '-m', 'kubectl_netmon', *args])}")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          cwd=REPO, env=env, capture_output=True, timeout=120)


def test_in_a_pod_the_service_account_and_its_namespace_are_used(log4shell_lab,  # noqa: F811
                                                                 tmp_path):
    run = _in_a_pod(log4shell_lab, tmp_path, "watch", "pod", "web", "--duration", "6s",
                    "-o", "json")

    assert run.returncode == 0, run.stderr.decode()
    conns = [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == "conn"]
    named = {(c.get(f"{side}_pod.ns"), c.get(f"{side}_pod.name"))
             for c in conns for side in ("orig", "resp")}
    assert ("demo", "web") in named, run.stderr.decode()
