"""plugin.yaml is a krew manifest krew accepts as plugins/netmon.yaml, for linux and darwin on
amd64 and arm64, and the release script turns it into one with every archive's real sha256."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kubectl_netmon import __version__
from tests.dist import krew
from tests.dist.conftest import BUILD_RELEASE, REPO

PLUGIN_YAML = REPO / "plugin.yaml"
PLATFORMS = {("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")}
PLACEHOLDER = "0" * 64


@pytest.fixture(scope="module")
def manifest() -> dict:
    return krew.load(PLUGIN_YAML)


def selected(platform: dict) -> set[tuple[str, str]]:
    return {env for env in krew.ALL_PLATFORMS if krew.selector_matches(platform["selector"], *env)}


def test_krew_validation_accepts_it_under_its_index_name(manifest: dict) -> None:
    krew.validate_plugin("netmon", manifest)
    krew.validate_platform_coverage(manifest["spec"]["platforms"])


def test_version_is_the_package_version_with_v(manifest: dict) -> None:
    assert manifest["spec"]["version"] == f"v{__version__}"


def test_one_platform_each_for_linux_darwin_amd64_arm64(manifest: dict) -> None:
    chosen = [selected(p) for p in manifest["spec"]["platforms"]]
    assert all(len(envs) == 1 for envs in chosen)
    assert set().union(*chosen) == PLATFORMS


def test_each_uri_names_its_own_platform_archive_of_this_version(manifest: dict) -> None:
    for platform in manifest["spec"]["platforms"]:
        ((os_name, arch),) = selected(platform)
        name = f"kubectl-netmon_v{__version__}_{os_name}_{arch}.tar.gz"
        assert platform["uri"].startswith("https://")
        assert platform["uri"].endswith(f"/v{__version__}/{name}")


def test_each_platform_installs_kubectl_netmon_with_its_license(manifest: dict) -> None:
    for platform in manifest["spec"]["platforms"]:
        assert platform["bin"] == "kubectl-netmon"
        assert {"from": "LICENSE", "to": "."} in platform["files"]


def test_sha256_values_are_placeholders_the_release_fills(manifest: dict) -> None:
    assert {p["sha256"] for p in manifest["spec"]["platforms"]} == {PLACEHOLDER}


def test_texts_follow_krew_index_style(manifest: dict) -> None:
    """validate-krew-manifest warns over 70 characters in shortDescription, 80 elsewhere."""
    spec = manifest["spec"]
    assert len(spec["shortDescription"]) <= 70
    assert spec["homepage"].startswith("https://")
    for key in ("description", "caveats"):
        assert spec[key].strip()
        assert max(map(len, spec[key].splitlines())) <= 80


def test_caveats_name_what_the_cluster_must_allow(manifest: dict) -> None:
    caveats = manifest["spec"]["caveats"]
    for needed in ("pods/exec", "pods/ephemeralcontainers", "NET_RAW", "NET_ADMIN", "Pod Security"):
        assert needed in caveats


def test_repository_license_is_the_apache_2_text() -> None:
    text = (REPO / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = { text = "Apache-2.0" }' in (REPO / "pyproject.toml").read_text()


# The release manifest: stand-in archives for the four platforms (the real ones are built on
# each platform; test_release_install builds this one's).


def stand_in_archive(path: Path) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("kubectl-netmon", "kubectl_complete-netmon", "LICENSE", "_internal/x"):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(path.name), 0o755
            tar.addfile(info, io.BytesIO(path.name.encode()))
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def release_manifest(archives: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, BUILD_RELEASE, "--release-manifest", archives],
        capture_output=True, text=True,
    )  # fmt: skip


def test_release_manifest_carries_every_archives_sha256(tmp_path: Path) -> None:
    hashes = {
        (o, a): stand_in_archive(tmp_path / f"kubectl-netmon_v{__version__}_{o}_{a}.tar.gz")
        for o, a in PLATFORMS
    }
    done = release_manifest(tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "index").mkdir()
    written = tmp_path / "index" / "netmon.yaml"
    written.write_text(done.stdout)

    released = krew.validate_manifest_file(written)
    for platform in released["spec"]["platforms"]:
        ((os_name, arch),) = selected(platform)
        assert platform["sha256"] == hashes[os_name, arch]
        krew.install(released, tmp_path / platform["uri"].rsplit("/", 1)[1],
                     tmp_path / f"krew-{os_name}-{arch}", os_name, arch)  # fmt: skip


def test_release_manifest_keeps_plugin_yaml_comments_and_layout(tmp_path: Path) -> None:
    for os_name, arch in PLATFORMS:
        stand_in_archive(tmp_path / f"kubectl-netmon_v{__version__}_{os_name}_{arch}.tar.gz")
    released = release_manifest(tmp_path).stdout.splitlines()
    original = PLUGIN_YAML.read_text().splitlines()
    assert len(released) == len(original)
    assert [a for a, b in zip(original, released) if a != b] == [
        line for line in original if PLACEHOLDER in line
    ]


def test_release_manifest_refuses_when_an_archive_is_missing(tmp_path: Path) -> None:
    stand_in_archive(tmp_path / f"kubectl-netmon_v{__version__}_linux_amd64.tar.gz")
    done = release_manifest(tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "is missing: build it on its platform first" in done.stderr
