"""`pip install .` and `pipx install .` put kubectl-netmon on PATH, and kubectl finds it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_netmon import __version__
from tests.dist.conftest import REPO

pytestmark = pytest.mark.release

# Local state that is no part of a source checkout.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".lab", "bench"
)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source tree, as a user's checkout would have it."""
    tree = tmp_path_factory.mktemp("checkout") / "kubectl-netmon"
    shutil.copytree(REPO, tree, ignore=NOT_SOURCE)
    return tree


def pip_install(python: Path, *args: str) -> None:
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", *args], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="module")
def venv_bin(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the package pip-installed from the checkout, with its dependencies
    (the machine's site-packages may satisfy them, else pip fetches them)."""
    venv = tmp_path_factory.mktemp("pip") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    pip_install(venv / "bin" / "python", str(source))
    return venv / "bin"


@pytest.fixture(scope="module")
def pipx_bin(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PIPX_BIN_DIR after `pipx install` of the checkout (pipx itself from PyPI, in its own
    venv)."""
    tmp = tmp_path_factory.mktemp("pipx")
    subprocess.run([sys.executable, "-m", "venv", tmp / "tool"], check=True)
    pip_install(tmp / "tool" / "bin" / "python", "pipx")
    env = {**os.environ, "PIPX_HOME": str(tmp / "home"), "PIPX_BIN_DIR": str(tmp / "bin"),
           "PIPX_MAN_DIR": str(tmp / "man")}  # fmt: skip
    done = subprocess.run(
        [tmp / "tool" / "bin" / "python", "-m", "pipx", "install", "--system-site-packages",
         str(source)], capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp / "bin"


def test_pip_install_puts_kubectl_netmon_on_the_venv_path(venv_bin: Path) -> None:
    done = subprocess.run([venv_bin / "kubectl-netmon", "version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"kubectl-netmon v{__version__}\n"), done.stderr


def test_kubectl_runs_the_pip_installed_plugin(venv_bin: Path, clean_kubectl) -> None:
    done = clean_kubectl(venv_bin, "netmon", "version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"kubectl-netmon v{__version__}\n"


def test_kubectl_runs_the_pipx_installed_plugin(pipx_bin: Path, clean_kubectl) -> None:
    done = clean_kubectl(pipx_bin, "netmon", "version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"kubectl-netmon v{__version__}\n"


def test_pip_install_runs_from_installed_files_not_the_checkout(venv_bin: Path) -> None:
    done = subprocess.run(
        [venv_bin / "python", "-c", "import kubectl_netmon; print(kubectl_netmon.__file__)"],
        capture_output=True, text=True, check=True, cwd=venv_bin,
    )  # fmt: skip
    assert Path(done.stdout.strip()).is_relative_to(venv_bin.parent)


def test_kubectl_completes_the_pip_installed_plugin(venv_bin: Path, clean_kubectl) -> None:
    done = clean_kubectl(venv_bin, "__complete", "netmon", "vers")
    assert done.stdout.splitlines() == ["version\tPrint the version.", ":4"], done.stderr
