"""Request bodies in application/vnd.kubernetes.protobuf, which kubectl's typed clients send
(`kubectl create namespace`, `create service`, `debug node/...`, `auth can-i`).

The body is the "k8s\\x00" magic and a runtime.Unknown envelope whose `raw` holds the object.
Field numbers come from k8s.io/api and apimachinery generated.proto, for the fields of the kinds
the lab serves; a field the table lacks is refused (415) rather than silently dropped. Go's
proto marshaller writes non-pointer fields even when zero, so zero values of fields that are not
pointers in the Go types are dropped again, to give the JSON a client would have sent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .status import ApiError, bad_request

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# message -> {field number: (json name, type, flags)}; type is a scalar code, a message name or
# a one-item list (repeated). Flags: "p" pointer in Go (keep zero values), "i" inlined in JSON.
S, B, N, RAW = "string", "bool", "int", "bytes"
STATUS = "status"  # written by the server, ignored in requests: skipped unread
_F = dict[int, tuple]
_META: _F = {
    1: ("name", S),
    2: ("generateName", S),
    3: ("namespace", S),
    4: ("selfLink", S),
    5: ("uid", S),
    6: ("resourceVersion", S),
    7: ("generation", N),
    8: ("creationTimestamp", "Time"),
    9: ("deletionTimestamp", "Time"),
    10: ("deletionGracePeriodSeconds", N, "p"),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    13: ("ownerReferences", ["OwnerReference"]),
    14: ("finalizers", [S]),
}
_CONTAINER: _F = {
    1: ("name", S),
    2: ("image", S),
    3: ("command", [S]),
    4: ("args", [S]),
    5: ("workingDir", S),
    6: ("ports", ["ContainerPort"]),
    7: ("env", ["EnvVar"]),
    8: ("resources", "ResourceRequirements"),
    9: ("volumeMounts", ["VolumeMount"]),
    13: ("terminationMessagePath", S),
    14: ("imagePullPolicy", S),
    15: ("securityContext", "SecurityContext"),
    16: ("stdin", B),
    17: ("stdinOnce", B),
    18: ("tty", B),
    20: ("terminationMessagePolicy", S),
    24: ("restartPolicy", S, "p"),
}
MESSAGES: dict[str, _F] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", RAW),
        3: ("contentEncoding", S),
        4: ("contentType", S),
    },
    "TypeMeta": {1: ("apiVersion", S), 2: ("kind", S)},
    "ObjectMeta": _META,
    "OwnerReference": {
        1: ("kind", S),
        3: ("name", S),
        4: ("uid", S),
        5: ("apiVersion", S),
        6: ("controller", B, "p"),
        7: ("blockOwnerDeletion", B, "p"),
    },
    "Pod": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec"), 3: ("status", STATUS)},
    "PodSpec": {
        1: ("volumes", ["Volume"]),
        2: ("containers", ["Container"]),
        3: ("restartPolicy", S),
        4: ("terminationGracePeriodSeconds", N, "p"),
        5: ("activeDeadlineSeconds", N, "p"),
        6: ("dnsPolicy", S),
        7: ("nodeSelector", "map"),
        8: ("serviceAccountName", S),
        9: ("serviceAccount", S),
        10: ("nodeName", S),
        11: ("hostNetwork", B),
        12: ("hostPID", B),
        13: ("hostIPC", B),
        14: ("securityContext", "PodSecurityContext"),
        15: ("imagePullSecrets", ["LocalObjectReference"]),
        16: ("hostname", S),
        17: ("subdomain", S),
        19: ("schedulerName", S),
        20: ("initContainers", ["Container"]),
        21: ("automountServiceAccountToken", B, "p"),
        22: ("tolerations", ["Toleration"]),
        24: ("priorityClassName", S),
        25: ("priority", N, "p"),
        27: ("shareProcessNamespace", B, "p"),
        29: ("runtimeClassName", S, "p"),
        30: ("enableServiceLinks", B, "p"),
        31: ("preemptionPolicy", S, "p"),
        34: ("ephemeralContainers", ["EphemeralContainer"]),
        35: ("setHostnameAsFQDN", B, "p"),
        36: ("os", "PodOS"),
        37: ("hostUsers", B, "p"),
    },
    "PodOS": {1: ("name", S)},
    "PodSecurityContext": {
        2: ("runAsUser", N, "p"),
        3: ("runAsNonRoot", B, "p"),
        4: ("supplementalGroups", [N]),
        5: ("fsGroup", N, "p"),
        6: ("runAsGroup", N, "p"),
        9: ("fsGroupChangePolicy", S, "p"),
        10: ("seccompProfile", "SeccompProfile"),
        11: ("appArmorProfile", "SeccompProfile"),
        12: ("supplementalGroupsPolicy", S, "p"),
        13: ("seLinuxChangePolicy", S, "p"),
    },
    "Container": _CONTAINER,
    "EphemeralContainer": {1: ("", "Container", "i"), 2: ("targetContainerName", S)},
    "ContainerPort": {
        1: ("name", S),
        2: ("hostPort", N),
        3: ("containerPort", N),
        4: ("protocol", S),
        5: ("hostIP", S),
    },
    "EnvVar": {1: ("name", S), 2: ("value", S), 3: ("valueFrom", "EnvVarSource")},
    "EnvVarSource": {1: ("fieldRef", "ObjectFieldSelector")},
    "ObjectFieldSelector": {1: ("apiVersion", S), 2: ("fieldPath", S)},
    "ResourceRequirements": {1: ("limits", "quantities"), 2: ("requests", "quantities")},
    "VolumeMount": {
        1: ("name", S),
        2: ("readOnly", B),
        3: ("mountPath", S),
        4: ("subPath", S),
        5: ("mountPropagation", S, "p"),
        6: ("subPathExpr", S),
    },
    "SecurityContext": {
        1: ("capabilities", "Capabilities"),
        2: ("privileged", B, "p"),
        4: ("runAsUser", N, "p"),
        5: ("runAsNonRoot", B, "p"),
        6: ("readOnlyRootFilesystem", B, "p"),
        7: ("allowPrivilegeEscalation", B, "p"),
        8: ("runAsGroup", N, "p"),
        9: ("procMount", S, "p"),
        11: ("seccompProfile", "SeccompProfile"),
        12: ("appArmorProfile", "SeccompProfile"),
    },
    "Capabilities": {1: ("add", [S]), 2: ("drop", [S])},
    "SeccompProfile": {1: ("type", S), 2: ("localhostProfile", S, "p")},
    "Volume": {1: ("name", S), 2: ("", "VolumeSource", "i")},
    "VolumeSource": {1: ("hostPath", "HostPathVolumeSource"), 2: ("emptyDir", "EmptyDir")},
    "HostPathVolumeSource": {1: ("path", S), 2: ("type", S, "p")},
    "EmptyDir": {1: ("medium", S), 2: ("sizeLimit", "Quantity")},
    "Toleration": {
        1: ("key", S),
        2: ("operator", S),
        3: ("value", S),
        4: ("effect", S),
        5: ("tolerationSeconds", N, "p"),
    },
    "LocalObjectReference": {1: ("name", S)},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", ["ObjectReference"]),
        3: ("imagePullSecrets", ["LocalObjectReference"]),
        4: ("automountServiceAccountToken", B, "p"),
    },
    "ObjectReference": {
        1: ("kind", S),
        2: ("namespace", S),
        3: ("name", S),
        4: ("uid", S),
        5: ("apiVersion", S),
        6: ("resourceVersion", S),
        7: ("fieldPath", S),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", STATUS),
    },
    "NamespaceSpec": {1: ("finalizers", [S])},
    "Service": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ServiceSpec"),
        3: ("status", STATUS),
    },
    "ServiceSpec": {
        1: ("ports", ["ServicePort"]),
        2: ("selector", "map"),
        3: ("clusterIP", S),
        4: ("type", S),
        5: ("externalIPs", [S]),
        7: ("sessionAffinity", S),
        8: ("loadBalancerIP", S),
        9: ("loadBalancerSourceRanges", [S]),
        10: ("externalName", S),
        11: ("externalTrafficPolicy", S),
        12: ("healthCheckNodePort", N),
        13: ("publishNotReadyAddresses", B),
        17: ("ipFamilyPolicy", S, "p"),
        18: ("clusterIPs", [S]),
        19: ("ipFamilies", [S]),
        20: ("allocateLoadBalancerNodePorts", B, "p"),
        21: ("loadBalancerClass", S, "p"),
        22: ("internalTrafficPolicy", S, "p"),
        23: ("trafficDistribution", S, "p"),
    },
    "ServicePort": {
        1: ("name", S),
        2: ("protocol", S),
        3: ("port", N),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", N),
        6: ("appProtocol", S, "p"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", N, "p"),
        2: ("preconditions", "Preconditions"),
        3: ("orphanDependents", B, "p"),
        4: ("propagationPolicy", S, "p"),
        5: ("dryRun", [S]),
    },
    "Preconditions": {1: ("uid", S, "p"), 2: ("resourceVersion", S, "p")},
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
        3: ("status", STATUS),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", S),
        2: ("verb", S),
        3: ("group", S),
        4: ("version", S),
        5: ("resource", S),
        6: ("subresource", S),
        7: ("name", S),
    },
    "NonResourceAttributes": {1: ("path", S), 2: ("verb", S)},
}


class _Unsupported(Exception):
    pass


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object a protobuf request body carries."""
    if not body.startswith(MAGIC):
        raise bad_request("provided object is not a protobuf message: missing magic prefix")
    try:
        envelope = _message(memoryview(body)[len(MAGIC) :], "Unknown")
        type_meta = envelope.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in MESSAGES or not kind[0].isupper() or kind in ("Unknown", "TypeMeta"):
            raise _Unsupported(f"kind {kind!r}")
        obj = _message(memoryview(envelope.get("raw", b"")), kind)
    except _Unsupported as e:
        raise ApiError(
            "UnsupportedMediaType",
            f"the lab's protobuf decoder does not handle {e}; send application/json",
            code=415,
        ) from None
    except (IndexError, ValueError) as e:
        raise bad_request(f"unable to decode protobuf body: {e}") from None
    return {"kind": kind, "apiVersion": type_meta.get("apiVersion", "v1"), **obj}


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: memoryview):
    """(field number, wire type, value) for each field: ints for varints, views for bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise ValueError("length past the end of the message")
            value, i = buf[i : i + size], i + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = int.from_bytes(buf[i : i + width], "little"), i + width
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def _message(buf: memoryview, name: str) -> dict[str, Any]:
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(buf):
        spec = table.get(number)
        if spec is None:
            raise _Unsupported(f"field {number} of message {name}")
        field, kind, flags = spec[0], spec[1], spec[2] if len(spec) > 2 else ""
        if "i" in flags:
            out.update(_message(value, kind))
        elif isinstance(kind, list):
            out.setdefault(field, []).extend(_repeated(kind[0], wire, value))
        elif kind == "map":
            key, val = _entry(value)
            out.setdefault(field, {})[key] = val
        elif kind == "quantities":
            key, val = _entry(value, quantity=True)
            out.setdefault(field, {})[key] = val
        else:
            decoded = _value(kind, value)
            if "p" in flags or decoded not in ("", False, 0, None):
                out[field] = decoded
    return out


def _repeated(kind: str, wire: int, value: Any) -> list:
    if kind != N or wire != 2:
        return [_value(kind, value)]
    out, i = [], 0  # packed integers
    while i < len(value):
        v, i = _varint(value, i)
        out.append(_signed(v))
    return out


def _entry(buf: memoryview, quantity: bool = False) -> tuple[str, Any]:
    key, val = "", ""
    for number, _, value in _fields(buf):
        if number == 1:
            key = bytes(value).decode()
        elif number == 2:
            val = _value("Quantity", value) if quantity else bytes(value).decode()
    return key, val


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _value(kind: str, value: Any) -> Any:
    if kind == S:
        return bytes(value).decode()
    if kind == B:
        return bool(value)
    if kind == N:
        return _signed(value)
    if kind == RAW:
        return bytes(value)
    if kind == STATUS:
        return {}
    if kind == "Time":
        seconds = dict((n, v) for n, _, v in _fields(value)).get(1, 0)
        return (
            datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if seconds
            else None
        )
    if kind == "Quantity":
        return bytes(dict((n, v) for n, _, v in _fields(value)).get(1, b"")).decode()
    if kind == "IntOrString":
        parts = {n: v for n, _, v in _fields(value)}
        return bytes(parts.get(3, b"")).decode() if parts.get(1) == 1 else _signed(parts.get(2, 0))
    return _message(value, kind)
