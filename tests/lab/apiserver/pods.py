"""Pod defaulting and validation, as the real registry does on create, update, ephemeral update."""

from __future__ import annotations

import copy
import json
import re

from .status import FieldError, invalid

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
    "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
    "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
    "to 1 if it was previously negative)"
)


def valid_name(name: str) -> bool:
    """DNS-1123 subdomain, at most 253 characters (pod, service and namespace object names)."""
    return len(name) <= 253 and bool(_DNS1123_SUBDOMAIN.match(name))


def default_container(c: dict) -> None:
    """Fields the API server fills in on every container (SetDefaults_Container)."""
    image = c.get("image", "")
    tag_latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
    if "@" not in image:
        c.setdefault("imagePullPolicy", "Always" if tag_latest else "IfNotPresent")
    else:
        c.setdefault("imagePullPolicy", "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for port in c.get("ports", []):
        port.setdefault("protocol", "TCP")


def default_pod(pod: dict) -> None:
    """SetDefaults_Pod and the default admission plugins (service account, tolerations)."""
    spec = pod.setdefault("spec", {})
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        default_container(c)
        c.setdefault("resources", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = spec.setdefault("tolerations", [])
    for t in _DEFAULT_TOLERATIONS:
        if not any(_tolerates(x, t) for x in tolerations):
            tolerations.append(dict(t))
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _tolerates(have: dict, taint: dict) -> bool:
    """Whether a toleration already covers a default one (DefaultTolerationSeconds skips it)."""
    if have.get("effect") not in (None, "", taint["effect"]):
        return False
    return have.get("key") == taint["key"] or (
        not have.get("key") and have.get("operator") == "Exists"
    )


def _validate_container(c: dict, path: str, names: set[str]) -> list[FieldError]:
    errs = []
    name = c.get("name", "")
    if not name:
        errs.append(FieldError(f"{path}.name", "Required value"))
    elif not _DNS1123_LABEL.match(name) or len(name) > 63:
        errs.append(FieldError(f"{path}.name", "Invalid value", LABEL_MSG, name))
    elif name in names:
        errs.append(FieldError(f"{path}.name", "Duplicate value", value=name))
    names.add(name)
    if not c.get("image", "").strip():
        errs.append(FieldError(f"{path}.image", "Required value"))
    policy = c.get("imagePullPolicy")
    if policy not in (None, "Always", "IfNotPresent", "Never"):
        errs.append(
            FieldError(
                f"{path}.imagePullPolicy",
                "Unsupported value",
                'supported values: "Always", "IfNotPresent", "Never"',
                policy,
            )
        )
    return errs


def validate_pod(pod: dict) -> None:
    """Invalid unless the spec is one the real server accepts on create."""
    spec, name = pod.get("spec", {}), pod["metadata"]["name"]
    errs: list[FieldError] = []
    names: set[str] = set()
    if not spec.get("containers"):
        errs.append(FieldError("spec.containers", "Required value"))
    for i, c in enumerate(spec.get("initContainers", [])):
        errs += _validate_container(c, f"spec.initContainers[{i}]", names)
    for i, c in enumerate(spec.get("containers", [])):
        errs += _validate_container(c, f"spec.containers[{i}]", names)
    if spec.get("ephemeralContainers"):
        errs.append(FieldError("spec.ephemeralContainers", "Forbidden", "cannot be set on create"))
    policy = spec.get("restartPolicy")
    if policy not in ("Always", "OnFailure", "Never"):
        errs.append(
            FieldError(
                "spec.restartPolicy",
                "Unsupported value",
                'supported values: "Always", "OnFailure", "Never"',
                policy,
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline < 1):
        errs.append(
            FieldError(
                "spec.activeDeadlineSeconds",
                "Invalid value",
                "must be between 1 and 2147483647, inclusive",
                deadline,
            )
        )
    if errs:
        raise invalid("Pod", name, errs)


def validate_update(old: dict, new: dict) -> None:
    """Pod spec updates may only change images, activeDeadlineSeconds and add tolerations."""
    a, b = copy.deepcopy(old["spec"]), copy.deepcopy(new["spec"])
    for spec in (a, b):
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            c.pop("image", None)
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
    if a != b:
        raise invalid(
            "Pod",
            new["metadata"]["name"],
            [FieldError("spec", "Forbidden", _UPDATE_FORBIDDEN + "\n" + _diff(a, b))],
        )


def validate_ephemeral_update(old: dict, new: dict) -> None:
    """Ephemeral containers are append-only: changing or removing one is Invalid, as upstream."""
    errs: list[FieldError] = []
    path = "spec.ephemeralContainers"
    olds = old["spec"].get("ephemeralContainers", [])
    news = {c.get("name"): c for c in new["spec"].get("ephemeralContainers", [])}
    for c in olds:
        now = news.get(c["name"])
        if now is None:
            errs.append(
                FieldError(
                    path,
                    "Forbidden",
                    f'existing ephemeral containers "{c["name"]}" may not be removed\n',
                )
            )
        elif now != c:
            errs.append(
                FieldError(
                    path,
                    "Forbidden",
                    f'existing ephemeral containers "{c["name"]}" may not be '
                    f"changed\n{_diff(c, now)}",
                )
            )
    names = {c["name"] for c in new["spec"].get("containers", [])}
    names |= {c["name"] for c in new["spec"].get("initContainers", [])}
    known = {c["name"] for c in olds}
    for i, c in enumerate(new["spec"].get("ephemeralContainers", [])):
        if c.get("name") in known:
            continue
        errs += _validate_ephemeral(c, f"{path}[{i}]", names)
    if errs:
        raise invalid("Pod", new["metadata"]["name"], errs)


def _validate_ephemeral(c: dict, path: str, names: set[str]) -> list[FieldError]:
    errs = _validate_container(c, path, names)
    for field in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
        if c.get(field):
            errs.append(
                FieldError(
                    f"{path}.{field}", "Forbidden", "cannot be set for an Ephemeral Container"
                )
            )
    if c.get("resources"):
        errs.append(
            FieldError(f"{path}.resources", "Forbidden", "cannot be set for an Ephemeral Container")
        )
    target = c.get("targetContainerName")
    if target and target not in names:
        errs.append(FieldError(f"{path}.targetContainerName", "Not found", value=target))
    return errs


def _diff(a: object, b: object) -> str:
    """A short two-line diff; the real server prints a Go cmp.Diff here."""
    return (
        f"-{json.dumps(a, sort_keys=True, separators=(',', ':'))}\n"
        f"+{json.dumps(b, sort_keys=True, separators=(',', ':'))}"
    )
