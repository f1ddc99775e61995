"""Image references as a node sees them: normalised names, and which registries cannot be reached.

The lab pulls nothing: any image "pulls" except those from a registry under the reserved
`.invalid` top-level domain (RFC 2606), which fail like an unresolvable registry on a real node.
"""

from __future__ import annotations

import hashlib

# The lab has no image filesystems: every image has no ENTRYPOINT and a long sleep as its CMD
# (like a pause container), so `args` alone run as the command, as with busybox.
DEFAULT_CMD = ["sleep", "infinity"]


def argv(container: dict) -> list[str]:
    """What a container runs: command+args; args alone replace the image CMD; else the CMD."""
    if container.get("command"):
        return container["command"] + container.get("args", [])
    return container.get("args") or DEFAULT_CMD


def normalise(image: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`, as containerd reports status.image."""
    first, _, rest = image.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        image = "docker.io/" + (image if rest else "library/" + image)
    name = image.rsplit("/", 1)[-1]
    if ":" not in name and "@" not in name:
        image += ":latest"
    return image


def registry(image: str) -> str:
    """The registry host of a normalised image."""
    return image.split("/", 1)[0]


def unreachable(image: str) -> bool:
    """True for images the lab's nodes cannot pull (registries under `.invalid`)."""
    host = registry(normalise(image)).split(":", 1)[0]
    return host == "invalid" or host.endswith(".invalid")


def pull_error(image: str) -> str:
    """The containerd message for a registry whose name does not resolve."""
    full = normalise(image)
    host, _, path = full.partition("/")
    repo, _, tag = path.rpartition(":")
    return (
        f'failed to pull and unpack image "{full}": failed to resolve reference "{full}": '
        f'failed to do request: Head "https://{host}/v2/{repo}/manifests/{tag}": dial tcp: '
        f"lookup {host.split(':', 1)[0]}: no such host"
    )


def image_id(image: str) -> str:
    """A stable digest reference standing for the pulled image."""
    full = normalise(image)
    digest = hashlib.sha256(full.encode()).hexdigest()
    return f"{full.rsplit(':', 1)[0]}@sha256:{digest}"
