"""Waiting for the capture image against the lab: its slow registry (`slow.registry.test`, see
tests/lab/apiserver/images.py) makes a node's first pull of an image take seconds, with the
container waiting in ContainerCreating, as on a real node."""

from __future__ import annotations

import subprocess
import sys

from tests.lab import fixtures
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns


def _watch(lab, ns: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", "watch", *args, "-n", ns, "--duration", "2s",
         "-o", "json", "--kubeconfig", str(lab.kubeconfig)],
        cwd=fixtures.REPO, capture_output=True, text=True, timeout=120)


def _line_of(text: str, part: str) -> int:
    """The index of the first line of text holding part (StopIteration when none does)."""
    return next(i for i, line in enumerate(text.splitlines()) if part in line)


def test_watch_pod_shows_the_image_pull_before_capturing(lab, lab_ns):
    lab.create_pod(lab_ns, pod("web"))
    image = f"slow.registry.test/netshoot:{lab_ns}"  # a tag no node holds yet

    run = _watch(lab, lab_ns, "pod", "web", "--mode", "ephemeral", "--image", image)

    assert run.returncode == 0, run.stderr
    assert _line_of(run.stderr, f'pulling image "{image}"') < _line_of(run.stderr, "Capturing on")


def test_watch_node_shows_the_capture_pods_image_pull_before_capturing(lab, lab_ns):
    image = f"slow.registry.test/netshoot:{lab_ns}-node"

    run = _watch(lab, lab_ns, "node", "node-1", "--image", image)

    assert run.returncode == 0, run.stderr
    assert _line_of(run.stderr, f'pulling image "{image}"') < _line_of(run.stderr, "Capturing on")
