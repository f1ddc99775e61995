"""kubectl 1.30 to 1.33 (WebSocket exec) against the lab: exec output and exit code per version."""

from __future__ import annotations

import pytest

from tests.lab import fixtures, kubectl
from tests.lab.fixtures import pod

lab, lab_ns = fixtures.lab, fixtures.lab_ns  # the lab's fixtures


@pytest.fixture(params=["1.30", "1.31", "1.33"])
def versioned_kubectl(request):
    """A versioned kubectl copy from the machine image (skipped where it is absent)."""
    path = kubectl.versioned(request.param)
    if path is None:
        pytest.skip(f"kubectl.{request.param} is not installed beside kubectl")
    return path


def test_exec_returns_output_and_exit_code(lab, lab_ns, versioned_kubectl):
    lab.create_pod(lab_ns, pod("web"))
    done = lab.kubectl(
        versioned_kubectl, "-n", lab_ns, "exec", "web", "--", "sh", "-c", "printf 'a\\000b'; exit 6"
    )
    assert (done.stdout, done.returncode) == (b"a\x00b", 6)


def test_get_pods_lists_the_running_pod(lab, lab_ns, versioned_kubectl):
    lab.create_pod(lab_ns, pod("web"))
    out = lab.kubectl(versioned_kubectl, "-n", lab_ns, "get", "pods").stdout.split(b"\n")
    assert out[1].split()[:3] == [b"web", b"1/1", b"Running"]
