"""The krew port refuses what krew refuses: one case per rule of krew's validation and install,
each a valid manifest or archive broken in exactly one way."""

from __future__ import annotations

import copy
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.dist import krew

SHA = "a" * 64


def platform(os_name: str = "linux", arch: str = "amd64", **fields) -> dict:
    return {
        "uri": "https://example.invalid/netmon.tar.gz", "sha256": SHA, "bin": "kubectl-netmon",
        "selector": {"matchLabels": {"os": os_name, "arch": arch}}, **fields,
    }  # fmt: skip


def plugin(*platforms: dict, **spec) -> dict:
    return {
        "apiVersion": krew.API_VERSION, "kind": "Plugin", "metadata": {"name": "netmon"},
        "spec": {"version": "v1.2.3", "shortDescription": "one line",
                 "platforms": list(platforms or [platform()]), **spec},
    }  # fmt: skip


def test_a_minimal_manifest_is_valid() -> None:
    krew.validate_plugin("netmon", plugin())


def _set(path: str, value):
    """A mutation setting a dotted path (`spec.platforms.0.sha256`); value None deletes it."""

    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        if value is None:
            del doc[last]
        else:
            doc[last] = value

    return mutate


PLUGIN_RULES = [
    ("apiVersion", _set("apiVersion", "krew.googlecontainertools.github.com/v1alpha1"),
     "apiVersion"),
    ("kind", _set("kind", "Plugins"), "kind="),
    ("name differs", _set("metadata.name", "netmon2"), "should be named"),
    ("short description missing", _set("spec.shortDescription", None), "short description"),
    ("short description newline", _set("spec.shortDescription", "a\nb"), "line breaks"),
    ("short description CR", _set("spec.shortDescription", "a\rb"), "line breaks"),
    ("no platforms", _set("spec.platforms", []), "should have a platform"),
    ("no version", _set("spec.version", None), "should have a version"),
    ("version without v", _set("spec.version", "1.2.3"), "not starting with 'v'"),
    ("version of two parts", _set("spec.version", "v1.2"), "illegal version string"),
    ("version of four parts", _set("spec.version", "v1.2.3.4"), "illegal version string"),
    ("zero-prefixed version", _set("spec.version", "v1.02.3"), "zero-prefixed"),
    ("bad pre-release", _set("spec.version", "v1.2.3-"), "illegal version string"),
    ("bad build metadata", _set("spec.version", "v1.2.3+a..b"), "illegal version string"),
    ("uri missing", _set("spec.platforms.0.uri", None), "`uri` has to be set"),
    ("sha256 missing", _set("spec.platforms.0.sha256", None), "`sha256` sum has to be set"),
    ("sha256 uppercase", _set("spec.platforms.0.sha256", "A" * 64), "is not valid"),
    ("sha256 short", _set("spec.platforms.0.sha256", "a" * 63), "is not valid"),
    ("bin missing", _set("spec.platforms.0.bin", None), "`bin` has to be set"),
    ("files empty", _set("spec.platforms.0.files", []), "unspecified or non-empty"),
    ("files without from", _set("spec.platforms.0.files", [{"to": "."}]), "`from` field"),
    ("files without to", _set("spec.platforms.0.files", [{"from": "x"}]), "`to` field"),
    ("selector missing", _set("spec.platforms.0.selector", None), "nil selector"),
    ("selector empty", _set("spec.platforms.0.selector", {}), "empty selector"),
    ("selector key", _set("spec.platforms.0.selector.matchLabels.distro", "debian"),
     "key 'distro' not supported"),
    ("expression key", _set("spec.platforms.0.selector.matchExpressions",
                            [{"key": "kernel", "operator": "Exists"}]), "key 'kernel'"),
    ("matchLabels empty", _set("spec.platforms.0.selector",
                               {"matchLabels": {}, "matchExpressions": [
                                   {"key": "os", "operator": "In", "values": ["linux"]}]}),
     "`matchLabels` specified but empty"),
    ("matchExpressions empty", _set("spec.platforms.0.selector.matchExpressions", []),
     "`matchExpressions` specified but empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "message"), [r[1:] for r in PLUGIN_RULES], ids=[r[0] for r in PLUGIN_RULES]
)
def test_validate_plugin_refuses(mutate, message: str) -> None:
    doc = plugin()
    mutate(doc)
    with pytest.raises(krew.KrewError, match=message):
        krew.validate_plugin("netmon", doc)


@pytest.mark.parametrize("name", ["net/mon", "net mon", "nétmon", "con", "LPT1", ""])
def test_unsafe_plugin_names_are_refused(name: str) -> None:
    doc = plugin()
    doc["metadata"]["name"] = name
    with pytest.raises(krew.KrewError, match="is not allowed"):
        krew.validate_plugin(name, doc)


@pytest.mark.parametrize("version", ["v0.1.0", "v1.2.3-rc.1", "v1.2.3-rc.1+build.5", "v10.0.0"])
def test_semantic_versions_with_v_are_accepted(version: str) -> None:
    krew.validate_plugin("netmon", plugin(version=version))


def write_manifest(folder: Path, doc: dict, name: str = "netmon.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc))
    return path


def test_manifest_file_must_end_in_yaml(tmp_path: Path) -> None:
    with pytest.raises(krew.KrewError, match="extension"):
        krew.validate_manifest_file(write_manifest(tmp_path, plugin(), "netmon.yml"))


def test_manifest_file_name_is_the_plugin_name(tmp_path: Path) -> None:
    with pytest.raises(krew.KrewError, match="should be named 'kubectl-netmon'"):
        krew.validate_manifest_file(write_manifest(tmp_path, plugin(), "kubectl-netmon.yaml"))


def test_a_version_yaml_reads_as_a_number_fails_to_decode(tmp_path: Path) -> None:
    path = tmp_path / "netmon.yaml"
    path.write_text(yaml.safe_dump(plugin()).replace("version: v1.2.3", "version: 1.2"))
    with pytest.raises(krew.KrewError, match="failed to parse yaml"):
        krew.validate_manifest_file(path)


def test_each_platform_must_select_a_supported_os_arch(tmp_path: Path) -> None:
    doc = plugin(platform("linux", "amd64"), platform("plan9", "amd64"))
    with pytest.raises(krew.KrewError, match=r"platform\[1\].*doesn't match any supported"):
        krew.validate_manifest_file(write_manifest(tmp_path, doc))


def test_two_platforms_selecting_one_os_arch_overlap(tmp_path: Path) -> None:
    linux_any = platform(selector={"matchLabels": {"os": "linux"}})
    doc = plugin(platform("linux", "arm64"), linux_any)
    with pytest.raises(krew.KrewError, match=r"indexes \[0, 1\].*'linux', 'arm64'"):
        krew.validate_manifest_file(write_manifest(tmp_path, doc))


def test_expressions_that_split_the_platforms_do_not_overlap(tmp_path: Path) -> None:
    darwin = platform(selector={"matchExpressions": [
        {"key": "os", "operator": "In", "values": ["darwin"]}]})
    others = platform(selector={"matchExpressions": [
        {"key": "os", "operator": "NotIn", "values": ["darwin"]},
        {"key": "arch", "operator": "Exists"}]})  # fmt: skip
    krew.validate_manifest_file(write_manifest(tmp_path, plugin(darwin, others)))


@pytest.mark.parametrize(
    ("expression", "message"),
    [({"key": "os", "operator": "In"}, "can't be empty"),
     ({"key": "os", "operator": "Exists", "values": ["linux"]}, "must be empty"),
     ({"key": "os", "operator": "Like", "values": ["linux"]}, "not a valid")],
)  # fmt: skip
def test_malformed_expressions_are_refused(expression: dict, message: str) -> None:
    with pytest.raises(krew.KrewError, match=message):
        krew.selector_matches({"matchExpressions": [expression]}, "linux", "amd64")


# Install: archives are built here, member by member.


def tar_gz(members: dict[str, bytes | str | None]) -> bytes:
    """A .tar.gz: bytes are a file (mode 755), a str a symlink to it, None a folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


GOOD = {"kubectl-netmon": b"#!/bin/sh\necho hi\n", "LICENSE": b"Apache"}


def install(tmp_path: Path, data: bytes, **platform_fields) -> Path:
    archive = tmp_path / "netmon.tar.gz"
    archive.write_bytes(data)
    fields = {"sha256": hashlib.sha256(data).hexdigest(), **platform_fields}
    doc = plugin(platform(**fields))
    return krew.install(doc, archive, tmp_path / "krew", "linux", "amd64")


def test_install_links_bin_as_kubectl_name_relative(tmp_path: Path) -> None:
    link = install(tmp_path, tar_gz(GOOD))
    assert link == tmp_path / "krew" / "bin" / "kubectl-netmon"
    assert link.readlink() == Path("../store/netmon/v1.2.3/kubectl-netmon")
    assert link.read_bytes() == GOOD["kubectl-netmon"]


def test_install_maps_dashes_in_the_name_to_underscores(tmp_path: Path) -> None:
    data = tar_gz(GOOD)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(data)
    doc = plugin(platform(sha256=hashlib.sha256(data).hexdigest()))
    doc["metadata"]["name"] = "net-mon"
    link = krew.install(doc, archive, tmp_path / "krew", "linux", "amd64")
    assert link.name == "kubectl-net_mon"


def test_install_picks_the_first_platform_matching_os_arch(tmp_path: Path) -> None:
    doc = plugin(platform("darwin", "arm64", bin="mac"), platform("linux", "amd64", bin="lin"))
    assert krew.matching_platform(doc, "linux", "amd64")["bin"] == "lin"


def test_install_refuses_a_platform_not_offered(tmp_path: Path) -> None:
    with pytest.raises(krew.KrewError, match="does not offer installation"):
        krew.matching_platform(plugin(), "darwin", "arm64")


INSTALL_RULES = [
    ("checksum", tar_gz(GOOD), {"sha256": SHA}, "checksum does not match"),
    ("not an archive", b"just text", {}, "not a supported archive format"),
    ("symlink in tar", tar_gz({**GOOD, "link": "kubectl-netmon"}), {}, "file type"),
    ("parent path", tar_gz({**GOOD, "../evil": b"x"}), {}, "suspicious entry"),
    ("absolute path", tar_gz({**GOOD, "/evil": b"x"}), {}, "absolute entry"),
    ("no license", tar_gz({"kubectl-netmon": b"x"}), {}, "LICENSE"),
    ("bin missing", tar_gz(GOOD), {"bin": "nope"}, "cannot be found"),
    ("bin outside", tar_gz(GOOD), {"bin": "../../../../etc/passwd"}, "does not extend"),
    ("unclean to", tar_gz(GOOD), {"files": [{"from": "*", "to": "./bin/"}]}, "not clean"),
    ("glob matches nothing", tar_gz(GOOD), {"files": [{"from": "*.exe", "to": "."}]},
     "no files in the plugin archive matched"),
    ("license left out by files", tar_gz(GOOD),
     {"files": [{"from": "kubectl-netmon", "to": "."}]}, "LICENSE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fields", "message"), [r[1:] for r in INSTALL_RULES], ids=[r[0] for r in INSTALL_RULES]
)
def test_install_refuses(tmp_path: Path, data: bytes, fields: dict, message: str) -> None:
    with pytest.raises(krew.KrewError, match=message):
        install(tmp_path, data, **copy.deepcopy(fields))
