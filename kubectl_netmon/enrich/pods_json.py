"""A PodMap from a snapshot: the output of `kubectl get pods -A -o json` (a List), or one Pod.

A snapshot has no history. Pods that are still alive hold their IPs for all time; pods that have
finished (Succeeded/Failed) hold theirs from status.startTime to their end, so a packet from that
time resolves to them and any other time to the live pod that reuses the address. hostNetwork pods
name their node instead (see PodMap.add_node). The same List may carry Services and Nodes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from kubectl_netmon.enrich.podmap import PodInfo, PodMap, canonical_ip
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape

_ENDED = ("Succeeded", "Failed")
_NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


def load_pods_json(path: str) -> PodMap:
    """Read a pods JSON file; a file that cannot be read or is not pods JSON is a UsageError."""
    where = f"--pods-json {escape(path)}"
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except OSError as e:
        raise UsageError(f"{where}: cannot read it ({escape(e.strerror or str(e))})") from None
    except (ValueError, RecursionError) as e:
        raise UsageError(f"{where}: not JSON ({escape(str(e))}); give the output of "
                         "'kubectl get pods -A -o json'") from None
    items = _items(doc)
    if items is None:
        raise UsageError(f"{where}: not a Pod or a List of pods; give the output of "
                         "'kubectl get pods -A -o json'")
    return podmap_from_items(items)


def _items(doc: object) -> list | None:
    """The objects in a List (or the one object), or None when the document is neither."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("items"), list):
        return doc["items"]
    return [doc] if doc.get("kind") in ("Pod", "Service", "Node") else None


def podmap_from_items(items: list) -> PodMap:
    """Build the map from Pod, Service and Node objects; malformed entries are skipped."""
    pods = PodMap()
    pod_entries = []
    for obj in items:
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind", "Pod")
        if kind == "Pod":
            pod_entries.extend(_pod_entries(obj, pods))
        elif kind == "Service":
            _add_service(obj, pods)
        elif kind == "Node":
            _add_node(obj, pods)
    for ip, info, since, until in _intervals(pod_entries):
        pods.add(ip, info, since, until)
    return pods


def _pod_entries(pod: dict, pods: PodMap) -> list[tuple]:
    """(ip, info, start_ns, end_ns, ended) per pod IP; registers the pod's node address."""
    meta, spec, status = (_dict(pod, k) for k in ("metadata", "spec", "status"))
    node, host_ip = str(spec.get("nodeName") or ""), str(status.get("hostIP") or "")
    if node and host_ip:
        _add_node_ip(pods, host_ip, node)
    if spec.get("hostNetwork"):
        return []
    info = PodInfo(ns=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                   node=node, node_ip=host_ip)
    ended = status.get("phase") in _ENDED
    start = _time_ns(status.get("startTime")) or _time_ns(meta.get("creationTimestamp")) or 0
    end = (_finished_ns(status) if ended else None) or _time_ns(meta.get("deletionTimestamp"))
    return [(ip, info, start, end, ended) for ip in _pod_ips(status)]


def _intervals(entries: list[tuple]) -> list[tuple]:
    """(ip, info, since_ns, until_ns): a live pod holds its IP since 0 (all we know), an ended
    one from its start to its end, or, end unknown, until the next pod with that IP started."""
    starts: dict[str, list[int]] = {}
    for ip, _, start, _, _ in entries:
        starts.setdefault(ip, []).append(start)
    out = []
    for ip, info, start, end, ended in entries:
        if ended and end is None:
            later = [s for s in starts[ip] if s > start]
            end = min(later) if later else None
        out.append((ip, info, start if ended else 0, end))
    return out


def _pod_ips(status: dict) -> list[str]:
    """Every pod IP (dual-stack podIPs, else podIP), canonical and without duplicates."""
    raw = [e.get("ip") for e in status.get("podIPs") or () if isinstance(e, dict)]
    raw.append(status.get("podIP"))
    ips = []
    for text in raw:
        ip = _canonical(text)
        if ip and ip not in ips:
            ips.append(ip)
    return ips


def _add_service(svc: dict, pods: PodMap) -> None:
    meta, spec = _dict(svc, "metadata"), _dict(svc, "spec")
    info = PodInfo(ns=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                   kind="service")
    for text in list(spec.get("clusterIPs") or ()) + [spec.get("clusterIP")]:
        ip = _canonical(text)
        if ip:
            pods.add(ip, info)


def _add_node(node: dict, pods: PodMap) -> None:
    name = str(_dict(node, "metadata").get("name") or "")
    for addr in _dict(node, "status").get("addresses") or ():
        if isinstance(addr, dict) and addr.get("type") in _NODE_ADDRESS_TYPES:
            _add_node_ip(pods, addr.get("address"), name)


def _finished_ns(status: dict) -> int | None:
    """When the last container of a finished pod terminated."""
    ends = []
    for cs in status.get("containerStatuses") or ():
        terminated = _dict(_dict(cs, "state"), "terminated") if isinstance(cs, dict) else {}
        ends.append(_time_ns(terminated.get("finishedAt")))
    ends = [e for e in ends if e]
    return max(ends) if ends else None


def _time_ns(text: object) -> int | None:
    """An RFC 3339 time from the API ("2022-03-08T18:54:18Z") as ns since the epoch."""
    if not isinstance(text, str):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _canonical(text: object) -> str | None:
    if not isinstance(text, str) or not text or text == "None":
        return None
    try:
        return canonical_ip(text)
    except ValueError:
        return None


def _add_node_ip(pods: PodMap, ip: object, node: str) -> None:
    ip = _canonical(ip)
    if ip and node:
        pods.add_node(ip, node)


def _dict(obj: dict, key: str) -> dict:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
