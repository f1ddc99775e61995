"""Image references as a node sees them: normalised names, and which registries cannot be reached.

The lab pulls nothing: any image "pulls" except those from a registry under the reserved
`.invalid` top-level domain (RFC 2606), which fail like an unresolvable registry on a real node.
"""

from __future__ import annotations

import hashlib

# What a container runs when the pod gives no command: the lab has no image filesystems, so an
# image's entrypoint is a long sleep, like a pause container.
DEFAULT_ENTRYPOINT = ["sleep", "infinity"]


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
