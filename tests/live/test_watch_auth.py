"""The exec stream logs in the way the kubeconfig says, as the API calls do: a watch over a
client-certificate context and over an exec-credential-plugin context both stream packets."""

from __future__ import annotations

import json

import pytest

from tests.live.fixtures import RunningLab, log4shell_lab  # noqa: F401 - the fixture


@pytest.mark.parametrize("context", ["lab-cert", "lab-exec"])
def test_a_watch_streams_flows_when_logged_in_by(log4shell_lab: RunningLab,  # noqa: F811
                                                 context: str):
    run = log4shell_lab.netmon("watch", "--context", context, "-n", "demo", "pod", "ldap",
                               "--duration", "5s", "-o", "json")

    assert run.returncode == 0, run.stderr.decode()
    conns = [r for r in map(json.loads, run.stdout.splitlines()) if r["_path"] == "conn"]
    assert "ldap" in {c.get("resp_pod.name") for c in conns}
