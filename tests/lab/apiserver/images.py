"""Image references as a node sees them: normalised names, which registries cannot be reached,
and which pull slowly.

The lab pulls nothing, and every node holds every image from the start, except:
- images from a registry under the reserved `.invalid` top-level domain (RFC 2606) fail to pull
  like an unresolvable registry on a real node (ErrImagePull, then ImagePullBackOff);
- images from SLOW_REGISTRY (`slow.registry.test`, under the reserved `.test` domain) are on no
  node at first: the first pull on a node takes SLOW_PULL_S seconds, with the container waiting
  in ContainerCreating and Pulling/Pulled events as a real kubelet reports them.
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


SLOW_REGISTRY = "slow.registry.test"
SLOW_PULL_S = 3.0


def _host(image: str) -> str:
    return registry(normalise(image)).split(":", 1)[0]


def unreachable(image: str) -> bool:
    """True for images the lab's nodes cannot pull (registries under `.invalid`)."""
    host = _host(image)
    return host == "invalid" or host.endswith(".invalid")


def preloaded(image: str) -> bool:
    """Whether every node holds the image before any pull (all but the slow registry's)."""
    return _host(image) != SLOW_REGISTRY


def pull_seconds(image: str) -> float:
    """How long a pull of the image takes."""
    return 0.0 if preloaded(image) else SLOW_PULL_S


def go_duration(seconds: float) -> str:
    """A duration truncated to milliseconds as Go prints it: 0s, 250ms, 3.001s, 1m2.5s."""
    ms = int(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    minutes, ms = divmod(ms, 60_000)
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{secs}" if minutes else secs


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
