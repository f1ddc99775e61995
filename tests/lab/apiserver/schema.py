"""The field schema of the kinds the lab serves: one source for strict decoding and for OpenAPI.

A schema is "string" | "integer" | "boolean" | "object" (free-form map) | "any" | a dict of known
fields | a one-item list [item schema]. Only the fields listed are accepted under
fieldValidation=Strict, as the real decoder rejects fields its Go structs lack.
"""

from __future__ import annotations

from typing import Any

S, N, B, M, A = "string", "integer", "boolean", "object", "any"

META = {
    "name": S,
    "generateName": S,
    "namespace": S,
    "selfLink": S,
    "uid": S,
    "resourceVersion": S,
    "generation": N,
    "creationTimestamp": S,
    "deletionTimestamp": S,
    "deletionGracePeriodSeconds": N,
    "labels": M,
    "annotations": M,
    "ownerReferences": [A],
    "finalizers": [S],
    "managedFields": [A],
}
SECURITY_CONTEXT = {
    "capabilities": {"add": [S], "drop": [S]},
    "privileged": B,
    "seLinuxOptions": A,
    "windowsOptions": A,
    "runAsUser": N,
    "runAsGroup": N,
    "runAsNonRoot": B,
    "readOnlyRootFilesystem": B,
    "allowPrivilegeEscalation": B,
    "procMount": S,
    "seccompProfile": {"type": S, "localhostProfile": S},
    "appArmorProfile": {"type": S, "localhostProfile": S},
}
POD_SECURITY_CONTEXT = {
    "seLinuxOptions": A,
    "windowsOptions": A,
    "runAsUser": N,
    "runAsGroup": N,
    "runAsNonRoot": B,
    "supplementalGroups": [N],
    "supplementalGroupsPolicy": S,
    "fsGroup": N,
    "sysctls": [A],
    "fsGroupChangePolicy": S,
    "seccompProfile": {"type": S, "localhostProfile": S},
    "appArmorProfile": {"type": S, "localhostProfile": S},
    "seLinuxChangePolicy": S,
}
CONTAINER = {
    "name": S,
    "image": S,
    "command": [S],
    "args": [S],
    "workingDir": S,
    "ports": [{"name": S, "hostPort": N, "containerPort": N, "protocol": S, "hostIP": S}],
    "envFrom": [A],
    "env": [{"name": S, "value": S, "valueFrom": A}],
    "resources": A,
    "resizePolicy": [A],
    "restartPolicy": S,
    "volumeMounts": [A],
    "volumeDevices": [A],
    "livenessProbe": A,
    "readinessProbe": A,
    "startupProbe": A,
    "lifecycle": A,
    "terminationMessagePath": S,
    "terminationMessagePolicy": S,
    "imagePullPolicy": S,
    "securityContext": SECURITY_CONTEXT,
    "stdin": B,
    "stdinOnce": B,
    "tty": B,
}
EPHEMERAL_CONTAINER = {**CONTAINER, "targetContainerName": S}
POD_SPEC = {
    "volumes": [A],
    "initContainers": [CONTAINER],
    "containers": [CONTAINER],
    "ephemeralContainers": [EPHEMERAL_CONTAINER],
    "restartPolicy": S,
    "terminationGracePeriodSeconds": N,
    "activeDeadlineSeconds": N,
    "dnsPolicy": S,
    "nodeSelector": M,
    "serviceAccountName": S,
    "serviceAccount": S,
    "automountServiceAccountToken": B,
    "nodeName": S,
    "hostNetwork": B,
    "hostPID": B,
    "hostIPC": B,
    "shareProcessNamespace": B,
    "securityContext": POD_SECURITY_CONTEXT,
    "imagePullSecrets": [{"name": S}],
    "hostname": S,
    "subdomain": S,
    "affinity": A,
    "schedulerName": S,
    "tolerations": [A],
    "hostAliases": [A],
    "priorityClassName": S,
    "priority": N,
    "dnsConfig": A,
    "readinessGates": [A],
    "runtimeClassName": S,
    "enableServiceLinks": B,
    "preemptionPolicy": S,
    "overhead": M,
    "topologySpreadConstraints": [A],
    "setHostnameAsFQDN": B,
    "os": {"name": S},
    "hostUsers": B,
    "schedulingGates": [A],
    "resourceClaims": [A],
    "resources": A,
}
TOP = {"kind": S, "apiVersion": S, "metadata": META}
POD = {**TOP, "spec": POD_SPEC, "status": A}
SERVICE = {
    **TOP,
    "status": A,
    "spec": {
        "ports": [
            {"name": S, "protocol": S, "appProtocol": S, "port": N, "targetPort": A, "nodePort": N}
        ],
        "selector": M,
        "clusterIP": S,
        "clusterIPs": [S],
        "type": S,
        "externalIPs": [S],
        "sessionAffinity": S,
        "loadBalancerIP": S,
        "loadBalancerSourceRanges": [S],
        "externalName": S,
        "externalTrafficPolicy": S,
        "healthCheckNodePort": N,
        "publishNotReadyAddresses": B,
        "sessionAffinityConfig": A,
        "ipFamilies": [S],
        "ipFamilyPolicy": S,
        "allocateLoadBalancerNodePorts": B,
        "loadBalancerClass": S,
        "internalTrafficPolicy": S,
        "trafficDistribution": S,
    },
}
NAMESPACE = {**TOP, "spec": {"finalizers": [S]}, "status": A}
SERVICE_ACCOUNT = {
    **TOP,
    "secrets": [A],
    "imagePullSecrets": [{"name": S}],
    "automountServiceAccountToken": B,
}
NODE = {**TOP, "spec": A, "status": A}
EVENT = {
    **TOP,
    "involvedObject": A,
    "reason": S,
    "message": S,
    "source": A,
    "firstTimestamp": S,
    "lastTimestamp": S,
    "count": N,
    "type": S,
    "eventTime": A,
    "series": A,
    "action": S,
    "related": A,
    "reportingComponent": S,
    "reportingInstance": S,
}
LABEL_SELECTOR = {"matchLabels": M, "matchExpressions": [{"key": S, "operator": S, "values": [S]}]}
_WORKLOAD_SPEC = {
    "replicas": N,
    "selector": LABEL_SELECTOR,
    "template": {"metadata": META, "spec": POD_SPEC},
    "minReadySeconds": N,
    "revisionHistoryLimit": N,
}
DEPLOYMENT = {
    **TOP,
    "spec": {**_WORKLOAD_SPEC, "strategy": A, "paused": B, "progressDeadlineSeconds": N},
    "status": A,
}
STATEFULSET = {
    **TOP,
    "spec": {
        **_WORKLOAD_SPEC,
        "serviceName": S,
        "podManagementPolicy": S,
        "updateStrategy": A,
        "volumeClaimTemplates": [A],
        "persistentVolumeClaimRetentionPolicy": A,
        "ordinals": A,
    },
    "status": A,
}
DAEMONSET = {
    **TOP,
    "spec": {**{k: v for k, v in _WORKLOAD_SPEC.items() if k != "replicas"}, "updateStrategy": A},
    "status": A,
}
REPLICASET = {**TOP, "spec": _WORKLOAD_SPEC, "status": A}
CONTROLLER_REVISION = {**TOP, "data": A, "revision": N}
SCALE = {**TOP, "spec": {"replicas": N}, "status": A}  # autoscaling/v1, the scale subresource
EPHEMERAL_UPDATE = POD  # the ephemeralcontainers subresource takes a whole Pod

KINDS: dict[str, tuple[str, dict]] = {
    "pods": ("Pod", POD),
    "services": ("Service", SERVICE),
    "serviceaccounts": ("ServiceAccount", SERVICE_ACCOUNT),
    "namespaces": ("Namespace", NAMESPACE),
    "nodes": ("Node", NODE),
    "events": ("Event", EVENT),
    "deployments": ("Deployment", DEPLOYMENT),
    "statefulsets": ("StatefulSet", STATEFULSET),
    "daemonsets": ("DaemonSet", DAEMONSET),
    "replicasets": ("ReplicaSet", REPLICASET),
    "controllerrevisions": ("ControllerRevision", CONTROLLER_REVISION),
}
GROUPS = {
    r: "apps"
    for r in ("deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions")
}


def api_version(resource: str) -> str:
    """The apiVersion objects of a resource carry: "v1" for the core group, else GROUP/v1."""
    return f"{GROUPS[resource]}/v1" if resource in GROUPS else "v1"


def unknown_fields(obj: Any, schema: Any, path: str = "") -> list[str]:
    """Paths of fields the schema does not know, in the strict decoder's notation."""
    if isinstance(schema, dict) and isinstance(obj, dict):
        out = []
        for key, value in obj.items():
            sub = schema.get(key)
            where = f"{path}.{key}" if path else key
            if sub is None:
                out.append(where)
            else:
                out += unknown_fields(value, sub, where)
        return out
    if isinstance(schema, list) and isinstance(obj, list):
        return [f for i, v in enumerate(obj) for f in unknown_fields(v, schema[0], f"{path}[{i}]")]
    return []


def openapi(schema: Any) -> dict[str, Any]:
    """The OpenAPI v3 schema for a lab schema (free-form where the lab does not look inside)."""
    if isinstance(schema, dict):
        return {"type": "object", "properties": {k: openapi(v) for k, v in schema.items()}}
    if isinstance(schema, list):
        return {"type": "array", "items": openapi(schema[0])}
    if schema == M:
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if schema == A:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": schema}
