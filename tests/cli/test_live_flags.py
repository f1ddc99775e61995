"""Flag combinations of watch and capture refused before any cluster access."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["watch", "pod", "web"], ["capture", "web", "-w", "-"]])
def test_a_pull_secret_in_ephemeral_mode_is_a_usage_error(command):
    """An ephemeral container pulls with its pod's imagePullSecrets, fixed once the pod runs:
    the secret could not be used, so the run must not start as if it were."""
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", *command, "--mode",
                          "ephemeral", "--image-pull-secret", "regcred"], cwd=REPO,
                         capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent"})

    assert (run.returncode, run.stderr.splitlines()) == (2, [
        "error: --image-pull-secret needs node mode: an ephemeral container pulls with its "
        "pod's own imagePullSecrets (fixed once the pod runs); use --mode node, or leave the "
        "flag out if the pod's secrets cover the image"])


@pytest.mark.parametrize("value, message", [
    ("0", "--duration 0: must be more than 0; leave it out to capture until Ctrl-C"),
    ("0s", "--duration 0s: must be more than 0; leave it out to capture until Ctrl-C"),
    ("-5", "--duration -5: not a duration; write e.g. 30s, 5m or 1h30m"),
    ("inf", "--duration inf: not a duration; write e.g. 30s, 5m or 1h30m"),
    ("nan", "--duration nan: not a duration; write e.g. 30s, 5m or 1h30m"),
    ("1e400", "--duration 1e400: not a duration; write e.g. 30s, 5m or 1h30m"),
    ("5 minutes", "--duration 5 minutes: not a duration; write e.g. 30s, 5m or 1h30m"),
])
def test_a_duration_that_cannot_bound_a_capture_is_refused_before_the_cluster(value, message):
    """Before anything is created (an ephemeral container could never be removed)."""
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", "watch", "pod", "web",
                          f"--duration={value}"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent"})

    assert (run.returncode, run.stderr.splitlines()) == (2, [f"error: {message}"])


def test_a_filter_that_is_no_filter_is_refused_before_the_cluster():
    from kubectl_netmon.capture import bpf

    if bpf._libpcap() is None:
        pytest.skip("libpcap is not installed here (CI has it)")
    run = subprocess.run([sys.executable, "-m", "kubectl_netmon", "capture", "web", "-w", "-",
                          "-f", "tcp port"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent"})

    assert (run.returncode, run.stderr.splitlines()) == (2, [
        "error: -f tcp port: not a capture filter (can't parse filter expression: syntax "
        "error); write it as for tcpdump, e.g. 'tcp port 8080' (see man pcap-filter)"])
