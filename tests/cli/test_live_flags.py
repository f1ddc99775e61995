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
