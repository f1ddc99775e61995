"""Fixtures every test area shares: where the shared captures are, and what the machine allows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kubectl_netmon.capture import speedups
from kubectl_netmon.cluster import channels

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
LOG4SHELL_PCAPS = SHARED / "testdata" / "log4shell" / "corelight"


@pytest.fixture(scope="session")
def shared_pcaps() -> Path:
    """The folder of public Log4Shell captures from ../shared (read-only)."""
    if not LOG4SHELL_PCAPS.is_dir():
        pytest.skip(f"shared captures not found at {LOG4SHELL_PCAPS}")
    return LOG4SHELL_PCAPS


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of the tshark binary, the oracle for packet and byte counts."""
    path = shutil.which("tshark")
    if not path:
        pytest.skip("tshark is not installed (scripts/setup installs it)")
    return path


@pytest.fixture(params=["compiled", "pure"])
def speedups_off(request, monkeypatch) -> bool:
    """Runs a test with the compiled fast paths (capture/speedups.py, the exec stream's frame
    reader in cluster/channels.py; skipped where not built) and without them, so that a
    behaviour holds on both; True when they are off."""
    if request.param == "compiled" and (speedups.fast is None or channels._wsframes is None):
        pytest.skip("the C extensions are not built here (no compiler when installed)")
    if request.param == "pure":
        monkeypatch.setattr(speedups, "fast", None)
        monkeypatch.setattr(channels, "_wsframes", None)
    return request.param == "pure"


@pytest.fixture(scope="session")
def root() -> None:
    """Skip unless running as root (network namespaces, the lab); CI runs as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces; CI runs as root")


from tests.lab.fixtures import kubectl_bin, lab, lab_ns  # noqa: E402, F401  (the lab's fixtures)
