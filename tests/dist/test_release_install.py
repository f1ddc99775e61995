"""The release archive, installed the way krew installs it, works as `kubectl netmon` through a
real kubectl on a clean PATH with no Python environment: the user never learns it is Python."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kubectl_netmon import __version__
from tests.dist import krew
from tests.dist.conftest import REPO, Release

pytestmark = pytest.mark.release

_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
THIS_PLATFORM = (platform.system().lower(), _ARCHES.get(platform.machine().lower(), "?"))


@pytest.fixture(scope="module")
def krew_bin(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KREW_ROOT/bin after installing the local manifest with the archive, as
    `kubectl krew install --manifest=netmon.yaml --archive=...` does."""
    root = tmp_path_factory.mktemp("krew-root")
    plugin = krew.validate_manifest_file(release.manifest)
    krew.install(plugin, release.archive, root, *THIS_PLATFORM)
    return root / "bin"


def test_archive_is_named_for_this_platform_and_version(release: Release) -> None:
    os_name, arch = THIS_PLATFORM
    assert release.archive.name == f"kubectl-netmon_v{__version__}_{os_name}_{arch}.tar.gz"


def test_archive_holds_the_executable_its_libraries_completer_and_license(
    release: Release,
) -> None:
    with tarfile.open(release.archive) as tar:
        top = {m.name.split("/")[0] for m in tar.getmembers()}
        executable = tar.getmember("kubectl-netmon")
    assert top == {"kubectl-netmon", "_internal", "kubectl_complete-netmon", "LICENSE"}
    assert executable.mode & 0o111


def package_modules() -> set[str]:
    """Dotted names of every module of the kubectl_netmon package in this tree."""
    names = set()
    for path in (REPO / "kubectl_netmon").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_package_module_is_frozen_in(release: Release, krew_bin: Path) -> None:
    """Modules that only a live command imports, late, must ship too."""
    viewer = REPO / "build" / "release-venv" / "bin" / "pyi-archive_viewer"
    executable = (krew_bin / "kubectl-netmon").resolve()
    listing = subprocess.run(
        [viewer, "--recursive", "--brief", executable], capture_output=True, text=True, check=True
    ).stdout.split()
    assert package_modules() - set(listing) == set()


def test_archive_ships_the_compiled_fast_paths(release: Release) -> None:
    """The release is built where a C compiler is: its capture loops run compiled."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the release was built pure Python")
    with tarfile.open(release.archive) as tar:
        names = tar.getnames()
    assert any(n.startswith("_internal/kubectl_netmon/capture/_speedups.") for n in names), \
        [n for n in names if "kubectl_netmon" in n]


def test_local_manifest_passes_krew_validation_with_the_real_sha256(release: Release) -> None:
    plugin = krew.validate_manifest_file(release.manifest)
    (only,) = plugin["spec"]["platforms"]
    assert only["sha256"] == hashlib.sha256(release.archive.read_bytes()).hexdigest()
    assert only["uri"] == release.archive.as_uri()
    assert krew.selector_matches(only["selector"], *THIS_PLATFORM)


def test_install_links_kubectl_netmon_into_krew_bin(krew_bin: Path) -> None:
    assert (krew_bin / "kubectl-netmon").is_symlink()


def test_kubectl_netmon_version(krew_bin: Path, clean_kubectl) -> None:
    done = clean_kubectl(krew_bin, "netmon", "version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"kubectl-netmon v{__version__}\n"


def test_kubectl_netmon_help_lists_the_commands(krew_bin: Path, clean_kubectl) -> None:
    done = clean_kubectl(krew_bin, "netmon", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("analyze", "completion", "version"):
        assert f"\n  {command} " in done.stdout


def run_source(*args: str) -> subprocess.CompletedProcess:
    """`kubectl-netmon ARGS` from the source tree: what the frozen build must reproduce."""
    return subprocess.run(
        [sys.executable, "-m", "kubectl_netmon", *args],
        capture_output=True, text=True, cwd=REPO, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_kubectl_netmon_analyze_prints_what_the_source_tree_prints(
    krew_bin: Path, clean_kubectl, shared_pcaps: Path
) -> None:
    pcap = str(shared_pcaps / "log4j-attack.pcap")
    source = run_source("analyze", pcap)
    frozen = clean_kubectl(krew_bin, "netmon", "analyze", pcap)
    assert source.returncode == 0, source.stderr
    assert "CVE_2021_44228::" in source.stdout
    assert (frozen.returncode, frozen.stdout, frozen.stderr) == (0, source.stdout, source.stderr)


def test_kubectl_netmon_inspect_dissects_with_bundled_pyshark(
    krew_bin: Path, clean_kubectl, shared_pcaps: Path, tshark: str
) -> None:
    """pyshark is frozen with its data; tshark is the machine's (on /usr/bin here)."""
    pcap = str(shared_pcaps / "log4j-attack.pcap")
    flows = run_source("analyze", pcap, "-o", "json").stdout.splitlines()
    uid = next(json.loads(line)["uid"] for line in flows if '"_path":"conn"' in line)
    source = run_source("analyze", pcap, "--inspect", uid)
    frozen = clean_kubectl(krew_bin, "netmon", "analyze", pcap, "--inspect", uid)
    assert source.returncode == 0, source.stderr
    assert "Encapsulation type: Ethernet" in source.stdout
    assert (frozen.returncode, frozen.stdout) == (0, source.stdout)


def test_kubectl_completes_netmon_through_the_shipped_completer(
    krew_bin: Path, clean_kubectl, tmp_path: Path
) -> None:
    """kubectl 1.26+ asks kubectl_complete-netmon on PATH; krew links only `bin`, so users link
    the completer themselves (README), as done here."""
    completer = next(krew_bin.parent.glob("store/netmon/*/kubectl_complete-netmon"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-netmon").symlink_to(krew_bin / "kubectl-netmon")
    (bin_dir / completer.name).symlink_to(completer)
    done = clean_kubectl(bin_dir, "__complete", "netmon", "ver")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["version\tPrint the version.", ":4"]
