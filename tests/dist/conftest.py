"""Fixtures for the distribution tests: the release build (once per session), a real kubectl,
and a run of `kubectl netmon` in a clean environment."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.kubectl import KubectlNotFound
from tests.lab.kubectl import find as find_kubectl

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_RELEASE = REPO / "scripts" / "build-release"
# PyInstaller takes a minute or two on two cores; a hung build must still end.
BUILD_TIMEOUT_S = 1200


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "release: builds the release archive or installs the package (minutes); "
        "deselect with -m 'not release'"
    )  # fmt: skip


@dataclass(frozen=True)
class Release:
    """What scripts/build-release made: the archive and the local-install manifest."""

    archive: Path
    manifest: Path


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """This platform's release archive and dist manifest, built once per test session."""
    out = tmp_path_factory.mktemp("release")
    done = subprocess.run(
        [sys.executable, BUILD_RELEASE, "--out", out],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, f"scripts/build-release failed:\n{done.stderr[-4000:]}"
    archive, manifest = done.stdout.split()
    return Release(Path(archive), Path(manifest))


@pytest.fixture(scope="session")
def kubectl() -> str:
    """A real kubectl binary, 1.32 (plugins; plugin completion needs 1.26+)."""
    try:
        return str(find_kubectl("1.32"))
    except KubectlNotFound as e:
        pytest.skip(str(e))


@pytest.fixture
def clean_kubectl(kubectl: str, tmp_path: Path):
    """Runs `kubectl ARGS` with the plugin in BIN_DIR under `env -i`: no venv, no PYTHONPATH,
    PATH only BIN_DIR and /usr/bin:/bin, HOME an empty folder."""
    home = tmp_path / "home"
    home.mkdir()

    def run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["env", "-i", f"PATH={bin_dir}:/usr/bin:/bin", f"HOME={home}", kubectl, *args],
            capture_output=True, text=True, cwd=home, timeout=300,
        )  # fmt: skip

    return run
