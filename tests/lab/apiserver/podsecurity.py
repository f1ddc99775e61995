"""Pod Security Admission from namespace labels, with the real checks' forbidden reasons and text.

Checks run in the order of the upstream registry (baseline checks, then restricted ones, each by
check ID); the restricted capabilities check replaces the baseline one at level restricted.
Every container kind is visited: init, regular and ephemeral.
"""

from __future__ import annotations

from collections.abc import Callable

from .status import forbidden

PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
_BASELINE_CAPS = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}

Check = Callable[[dict], "tuple[str, str] | None"]


def _containers(spec: dict) -> list[dict]:
    return (
        spec.get("initContainers", [])
        + spec.get("containers", [])
        + spec.get("ephemeralContainers", [])
    )


def _names(word: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{word}{'s' if len(names) > 1 else ''} {quoted}"


def _sc(c: dict) -> dict:
    return c.get("securityContext") or {}


def _caps_baseline(spec: dict) -> tuple[str, str] | None:
    bad, caps = [], set()
    for c in _containers(spec):
        extra = [
            x
            for x in (_sc(c).get("capabilities") or {}).get("add") or []
            if x not in _BASELINE_CAPS
        ]
        if extra:
            bad.append(c["name"])
            caps.update(extra)
    if not bad:
        return None
    listed = ", ".join(f'"{x}"' for x in sorted(caps))
    return (
        "non-default capabilities",
        f"{_names('container', bad)} must not include {listed} in securityContext.capabilities.add",
    )


def _host_namespaces(spec: dict) -> tuple[str, str] | None:
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ("host namespaces", ", ".join(on)) if on else None


def _host_path(spec: dict) -> tuple[str, str] | None:
    vols = [v["name"] for v in spec.get("volumes", []) if "hostPath" in v]
    return ("hostPath volumes", _names("volume", vols)) if vols else None


def _host_ports(spec: dict) -> tuple[str, str] | None:
    bad, ports = [], []
    for c in _containers(spec):
        mine = [str(p["hostPort"]) for p in c.get("ports", []) if p.get("hostPort")]
        if mine:
            bad.append(c["name"])
            ports += mine
    if not bad:
        return None
    verb = "uses" if len(bad) == 1 else "use"
    return (
        "hostPort",
        f"{_names('container', bad)} {verb} hostPort"
        f"{'s' if len(ports) > 1 else ''} {', '.join(ports)}",
    )


def _privileged(spec: dict) -> tuple[str, str] | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("privileged")]
    return (
        ("privileged", f"{_names('container', bad)} must not set securityContext.privileged=true")
        if bad
        else None
    )


def _no_escalation(spec: dict) -> tuple[str, str] | None:
    bad = [
        c["name"] for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    return (
        (
            "allowPrivilegeEscalation != false",
            f"{_names('container', bad)} must set securityContext.allowPrivilegeEscalation=false",
        )
        if bad
        else None
    )


def _caps_restricted(spec: dict) -> tuple[str, str] | None:
    no_drop, adding, caps = [], [], set()
    for c in _containers(spec):
        cap = _sc(c).get("capabilities") or {}
        if "ALL" not in (cap.get("drop") or []):
            no_drop.append(c["name"])
        extra = [x for x in cap.get("add") or [] if x != "NET_BIND_SERVICE"]
        if extra:
            adding.append(c["name"])
            caps.update(extra)
    details = []
    if no_drop:
        details.append(
            f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        listed = ", ".join(f'"{x}"' for x in sorted(caps))
        details.append(
            f"{_names('container', adding)} must not include {listed} in "
            "securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _run_as_non_root(spec: dict) -> tuple[str, str] | None:
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    explicit = [c["name"] for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    unset = [
        c["name"]
        for c in _containers(spec)
        if _sc(c).get("runAsNonRoot") is None and pod is not True
    ]
    details = []
    if pod is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    if explicit:
        details.append(
            f"{_names('container', explicit)} must not set securityContext.runAsNonRoot=false"
        )
    if unset and pod is not False:
        details.append(
            f"pod or {_names('container', unset)} must set securityContext.runAsNonRoot=true"
        )
    return ("runAsNonRoot != true", "; ".join(details)) if details else None


def _run_as_user(spec: dict) -> tuple[str, str] | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    details = []
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        details.append("pod must not set runAsUser=0")
    if bad:
        details.append(f"{_names('container', bad)} must not set runAsUser=0")
    return ("runAsUser=0", "; ".join(details)) if details else None


def _seccomp(spec: dict) -> tuple[str, str] | None:
    ok = ("RuntimeDefault", "Localhost")
    pod = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    bad = [
        c["name"]
        for c in _containers(spec)
        if ((_sc(c).get("seccompProfile") or {}).get("type") or pod) not in ok
    ]
    return (
        (
            "seccompProfile",
            f"pod or {_names('container', bad)} must set securityContext."
            'seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
        if bad
        else None
    )


_ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _restricted_volumes(spec: dict) -> tuple[str, str] | None:
    bad, kinds = [], []
    for v in spec.get("volumes", []):
        found = [k for k in v if k != "name" and k not in _ALLOWED_VOLUMES]
        if found:
            bad.append(v["name"])
            kinds += [k for k in found if k not in kinds]
    if not bad:
        return None
    verb = "uses" if len(bad) == 1 else "use"
    listed = ", ".join(f'"{k}"' for k in sorted(kinds))
    return (
        "restricted volume types",
        f"{_names('volume', bad)} {verb} restricted volume "
        f"type{'s' if len(kinds) > 1 else ''} {listed}",
    )


def _seccomp_baseline(spec: dict) -> tuple[str, str] | None:
    def unconfined(ctx: dict | None) -> bool:
        return ((ctx or {}).get("seccompProfile") or {}).get("type") == "Unconfined"

    details = []
    if unconfined(spec.get("securityContext")):
        details.append('pod must not set securityContext.seccompProfile.type to "Unconfined"')
    bad = [c["name"] for c in _containers(spec) if unconfined(c.get("securityContext"))]
    if bad:
        details.append(
            f"{_names('container', bad)} must not set "
            'securityContext.seccompProfile.type to "Unconfined"'
        )
    return ("seccompProfile", "; ".join(details)) if details else None


# In the upstream registry's order: baseline checks, then restricted ones, each sorted by ID.
_BASELINE: list[Check] = [
    _caps_baseline,
    _host_namespaces,
    _host_path,
    _host_ports,
    _privileged,
    _seccomp_baseline,
]
_RESTRICTED: list[Check] = [
    _host_namespaces,
    _host_path,
    _host_ports,
    _privileged,
    _no_escalation,
    _caps_restricted,
    _restricted_volumes,
    _run_as_non_root,
    _run_as_user,
    _seccomp,
]


def _policy(namespace: dict, mode: str) -> tuple[str, str]:
    """(level, version) a namespace's labels set for a mode (enforce, warn); privileged if unset.

    An unknown level counts as restricted, as upstream fails closed on a bad label.
    """
    labels = namespace["metadata"].get("labels") or {}
    level = labels.get(f"{PREFIX}{mode}", "privileged")
    return (level if level in LEVELS else "restricted"), labels.get(
        f"{PREFIX}{mode}-version", "latest"
    )


def _violations(level: str, version: str, pod: dict) -> str:
    """`"level:version": reason (detail), ...` for the checks the pod fails, or ""."""
    checks = {"baseline": _BASELINE, "restricted": _RESTRICTED}.get(level, [])
    failures = [r for r in (c(pod["spec"]) for c in checks) if r]
    if not failures:
        return ""
    detail = ", ".join(f"{reason} ({why})" for reason, why in failures)
    return f'"{level}:{version}": {detail}'


def check(namespace: dict, pod: dict) -> None:
    """Forbidden (with the real "violates PodSecurity" text) unless the pod meets the level."""
    found = _violations(*_policy(namespace, "enforce"), pod)
    if found:
        raise forbidden("pods", pod["metadata"]["name"], f"violates PodSecurity {found}")


def warnings(namespace: dict, pod: dict) -> list[str]:
    """The warning for the namespace's `warn` level, as the API adds in a Warning header."""
    found = _violations(*_policy(namespace, "warn"), pod)
    return [f"would violate PodSecurity {found}"] if found else []
