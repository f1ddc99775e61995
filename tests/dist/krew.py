"""krew's manifest validation and install steps, ported so tests hold our manifests and archives
to krew's own rules on a machine without krew.

Sources (kubernetes-sigs/krew): internal/index/validation/validate.go (ValidatePlugin),
cmd/validate-krew-manifest/main.go (file name, platform coverage and overlap, install, license
file), internal/installation/semver + k8s.io/apimachinery util/version ParseSemantic,
internal/installation/{install,move,platform}.go and internal/download/downloader.go
(sha256, archive type, extraction, file operations, the `kubectl-<name>` link), pkg/constants.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import yaml

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
PLUGIN_KIND = "Plugin"
MANIFEST_EXTENSION = ".yaml"
# Go's \w is ASCII only.
SAFE_PLUGIN_NAME = re.compile(r"^[\w-]+$", re.ASCII)
SHA256 = re.compile(r"^[a-f0-9]{64}$")
WINDOWS_FORBIDDEN = (
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
)  # fmt: skip
SELECTOR_KEYS = ("os", "arch")
# allPlatforms() of validate-krew-manifest: the <os, arch> pairs krew supports.
ALL_PLATFORMS = (
    ("windows", "386"), ("windows", "amd64"), ("windows", "arm64"),
    ("linux", "386"), ("linux", "amd64"), ("linux", "arm"), ("linux", "arm64"),
    ("linux", "ppc64le"), ("darwin", "386"), ("darwin", "amd64"), ("darwin", "arm64"),
)  # fmt: skip
LICENSE_FILES = {
    "license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md",
    "copying", "copying.txt",
}  # fmt: skip
# k8s.io/apimachinery/pkg/util/version: numeric part, then semver pre-release and build metadata.
_VERSION_MATCH = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)$", re.S)
_EXTRA_MATCH = re.compile(
    r"^(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\s*$"
)
_STRING_FIELDS = ("version", "shortDescription", "description", "caveats", "homepage")
_PLATFORM_STRINGS = ("uri", "sha256", "bin", "license")


class KrewError(Exception):
    """What krew would refuse, in krew's words."""


def load(path: Path) -> dict:
    """Reads a manifest as krew does (YAML to JSON to the Plugin type): string fields must be
    strings, or krew fails to decode the file."""
    doc = yaml.safe_load(Path(path).read_text())
    if not isinstance(doc, dict):
        raise KrewError("failed to parse yaml file: not a mapping")
    spec = doc.get("spec") or {}
    fields = [(spec, k) for k in _STRING_FIELDS]
    fields += [(p, k) for p in spec.get("platforms") or [] for k in _PLATFORM_STRINGS]
    for owner, key in fields:
        if owner.get(key) is not None and not isinstance(owner[key], str):
            raise KrewError(f"failed to parse yaml file: {key} {owner[key]!r} is not a string")
    return doc


def is_safe_plugin_name(name: str) -> bool:
    """IsSafePluginName: word characters and dashes, and no Windows device name."""
    if not SAFE_PLUGIN_NAME.match(name):
        return False
    return not any(name.upper() == forbidden for forbidden in WINDOWS_FORBIDDEN)


def parse_semver(version: str) -> tuple[int, int, int]:
    """semver.Parse: a leading `v`, then exactly three numeric components without leading
    zeros, optional pre-release and build metadata."""
    if not version.startswith("v"):
        raise KrewError(f"version string {version!r} not starting with 'v'")
    m = _VERSION_MATCH.match(version)
    if not m:
        raise KrewError(f"could not parse {version!r} as version")
    components = m.group(1).split(".")
    if len(components) != 3:
        raise KrewError(f"illegal version string {version!r}")
    for comp in components:
        if comp.startswith("0") and comp != "0":
            raise KrewError(f"illegal zero-prefixed version component {comp!r} in {version!r}")
    if m.group(2) and not _EXTRA_MATCH.match(m.group(2)):
        raise KrewError(f"illegal version string {version!r}")
    major, minor, patch = map(int, components)
    return major, minor, patch


def validate_plugin(name: str, plugin: dict) -> None:
    """ValidatePlugin: the structural checks krew runs on every manifest it reads."""
    if plugin.get("apiVersion") != API_VERSION:
        raise KrewError(f"plugin manifest has apiVersion={plugin.get('apiVersion')!r}, unsupported")
    if plugin.get("kind") != PLUGIN_KIND:
        raise KrewError(f"plugin manifest has kind={plugin.get('kind')!r}, only 'Plugin'")
    if not is_safe_plugin_name(name):
        raise KrewError(f"the plugin name {name!r} is not allowed, must match ^[\\w-]+$")
    actual = (plugin.get("metadata") or {}).get("name")
    if actual != name:
        raise KrewError(f"plugin should be named {name!r}, not {actual!r}")
    spec = plugin.get("spec") or {}
    short = spec.get("shortDescription") or ""
    if not short:
        raise KrewError("should have a short description")
    if "\r" in short or "\n" in short:
        raise KrewError("should not have line breaks in short description")
    if not spec.get("platforms"):
        raise KrewError("should have a platform specified")
    if not spec.get("version"):
        raise KrewError("should have a version specified")
    try:
        parse_semver(spec["version"])
    except KrewError as e:
        raise KrewError(f"failed to parse plugin version: {e}") from None
    for platform in spec["platforms"]:
        try:
            validate_platform(platform)
        except KrewError as e:
            raise KrewError(f"platform is badly constructed: {e}") from None


def validate_platform(platform: dict) -> None:
    """validatePlatform: uri, a lowercase hex sha256, bin, files and a usable selector."""
    if not platform.get("uri"):
        raise KrewError("`uri` has to be set")
    if not platform.get("sha256"):
        raise KrewError("`sha256` sum has to be set")
    if not SHA256.match(platform["sha256"]):
        raise KrewError(f"`sha256` value {platform['sha256']} is not valid")
    if not platform.get("bin"):
        raise KrewError("`bin` has to be set")
    validate_files(platform.get("files"))
    validate_selector(platform.get("selector"))


def validate_files(files: list | None) -> None:
    """validateFiles: absent, or non-empty with `from` and `to` in every operation."""
    if files is None:
        return
    if len(files) == 0:
        raise KrewError("`files` has to be unspecified or non-empty")
    for op in files:
        if not op.get("from"):
            raise KrewError("`from` field has to be set")
        if not op.get("to"):
            raise KrewError("`to` field has to be set")


def validate_selector(selector: dict | None) -> None:
    """validateSelector: present, not empty, only the keys os and arch."""
    if selector is None:
        raise KrewError("nil selector is not supported")
    labels, expressions = selector.get("matchLabels"), selector.get("matchExpressions")
    if labels is None and not expressions:
        raise KrewError("empty selector is not supported")
    keys = [*(labels or {}), *(e.get("key") for e in expressions or [])]
    for key in keys:
        if key not in SELECTOR_KEYS:
            raise KrewError(f"key {key!r} not supported")
    if labels is not None and len(labels) == 0:
        raise KrewError("`matchLabels` specified but empty")
    if expressions is not None and len(expressions) == 0:
        raise KrewError("`matchExpressions` specified but empty")


def selector_matches(selector: dict, os_name: str, arch: str) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches({os, arch}): every label and every
    expression (In, NotIn, Exists, DoesNotExist) must hold."""
    labels = {"os": os_name, "arch": arch}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_holds(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_holds(expr: dict, labels: dict) -> bool:
    op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
    if op in ("In", "NotIn") and not values:
        raise KrewError(f"for {op} operator, the values set can't be empty")
    if op in ("Exists", "DoesNotExist") and values:
        raise KrewError(f"values set must be empty for {op}")
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise KrewError(f"{op!r} is not a valid label selector operator")


def validate_manifest_file(path: Path) -> dict:
    """validate-krew-manifest up to its install step: the file name gives the plugin name,
    ValidatePlugin, every platform selects a supported <os, arch>, no <os, arch> is selected
    by two platforms. Returns the manifest."""
    path = Path(path)
    if path.suffix != MANIFEST_EXTENSION:
        raise KrewError(f"expected manifest extension '.yaml' but found {path.suffix!r}")
    plugin = load(path)
    validate_plugin(path.name[: -len(MANIFEST_EXTENSION)], plugin)
    validate_platform_coverage(plugin["spec"]["platforms"])
    return plugin


def validate_platform_coverage(platforms: list[dict]) -> None:
    """Each platform must select some supported <os, arch>, and no <os, arch> more than one."""
    for i, platform in enumerate(platforms):
        if not any(selector_matches(platform["selector"], *env) for env in ALL_PLATFORMS):
            raise KrewError(f"spec.platform[{i}]'s selector doesn't match any supported platforms")
    for env in ALL_PLATFORMS:
        hits = [i for i, p in enumerate(platforms) if selector_matches(p["selector"], *env)]
        if len(hits) > 1:
            raise KrewError(f"multiple spec.platforms (at indexes {hits}) select {env}")


def matching_platform(plugin: dict, os_name: str, arch: str) -> dict:
    """GetMatchingPlatform: the first platform whose selector matches."""
    for platform in plugin["spec"]["platforms"]:
        if selector_matches(platform["selector"], os_name, arch):
            return platform
    raise KrewError(f"plugin does not offer installation for this platform ({os_name}/{arch})")


def install(plugin: dict, archive: Path, krew_root: Path, os_name: str, arch: str) -> Path:
    """`kubectl krew install --manifest=M --archive=A` under KREW_ROOT: checks the sha256,
    unpacks, applies the file operations into store/<name>/<version>, links bin/kubectl-<name>
    to `bin`; then validate-krew-manifest's license check. Returns the link."""
    platform = matching_platform(plugin, os_name, arch)
    data = Path(archive).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != platform["sha256"]:
        raise KrewError(f"checksum does not match, want: {platform['sha256']}, got {actual}")
    name, version = plugin["metadata"]["name"], plugin["spec"]["version"]
    staging = krew_root / "downloads"
    install_dir = krew_root / "store" / name / version
    extract(data, staging)
    files = platform.get("files")
    for op in files if files is not None else [{"from": "*", "to": "."}]:
        move_files(staging, install_dir, op)
    link = create_link(krew_root / "bin", install_dir, platform["bin"], name)
    shutil.rmtree(staging)
    validate_license_file_exists(krew_root / "store")
    return link


def extract(data: bytes, target: Path) -> None:
    """extractArchive: the type comes from the content (zip or gzip); entries must not climb
    out of the target; a tar may hold only folders and regular files."""
    target.mkdir(parents=True)
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for entry in z.infolist():
                _check_entry(entry.filename)
            z.extractall(target)
        return
    if not data.startswith(b"\x1f\x8b\x08"):
        raise KrewError("mime type for archive file is not a supported archive format")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        for entry in tar:
            if entry.name == "pax_global_header":
                continue
            _check_entry(entry.name)
            dest = target / entry.name
            if entry.isdir():
                dest.mkdir(parents=True, exist_ok=True, mode=entry.mode)
            elif entry.isreg():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(entry).read())
                dest.chmod(entry.mode)
            else:
                raise KrewError(f"unable to handle file type {entry.type!r} for {entry.name!r}")


def _check_entry(name: str) -> None:
    """suspiciousPath."""
    if ".." in name:
        raise KrewError(f"refusing to unpack archive with suspicious entry {name!r}")
    if name.startswith(("/", "\\")):
        raise KrewError(f"refusing to unpack archive with absolute entry {name!r}")


def move_files(src: Path, dst: Path, op: dict) -> None:
    """findMoveTargets: `to` must be a clean path; `from` is a file or folder moved directly
    (to `.` keeps its name), else a glob whose matches go into `to`."""
    if op["to"] != os.path.normpath(op["to"]):
        raise KrewError(f"the provided path is not clean, {op['to']!r}")
    direct = (src / op["from"]).resolve()
    if direct.exists():
        target = dst / (direct.name if op["to"] == "." else op["to"])
        _move(src, dst, direct, target)
        return
    matches = sorted(src.glob(op["from"]))
    if not matches:
        raise KrewError(f"no files in the plugin archive matched the glob pattern={op['from']}")
    for match in matches:
        _move(src, dst, match, dst / op["to"] / match.name)


def _move(src: Path, dst: Path, frm: Path, to: Path) -> None:
    if not _is_sub_path(src, frm) or not _is_sub_path(dst, to):
        raise KrewError(f"can't move, move target {frm} -> {to} is out of bounds")
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(frm, to)


def _is_sub_path(base: Path, path: Path) -> bool:
    return os.path.commonpath([base.resolve(), path.resolve()]) == str(base.resolve())


def create_link(bin_dir: Path, install_dir: Path, bin_path: str, name: str) -> Path:
    """createOrUpdateLink: bin must lie inside the install folder and exist; the link is
    kubectl-<name with - as _>, relative, in KREW_ROOT/bin."""
    binary = install_dir / bin_path
    if not _is_sub_path(install_dir, binary):
        raise KrewError(f"the fullPath {binary} does not extend the sub-fullPath {install_dir}")
    if not binary.exists():
        raise KrewError(f"can't create symbolic link, source binary ({binary}) cannot be found")
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / ("kubectl-" + name.replace("-", "_"))
    link.symlink_to(os.path.relpath(binary, bin_dir))
    return link


def validate_license_file_exists(store: Path) -> None:
    """validateLicenseFileExists: some installed regular file is a LICENSE (or alike)."""
    names = [p.name for p in store.rglob("*") if p.is_file() and not p.is_symlink()]
    if not any(n.lower() in LICENSE_FILES for n in names):
        raise KrewError("LICENSE (or alike) file is not extracted from the archive")
