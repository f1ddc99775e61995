"""Services: the defaults the API server fills in, and ClusterIPs from the service range."""

from __future__ import annotations

import ipaddress
import threading

from .status import ApiError
from .store import Store

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
FIRST_FREE = 10  # .1 is the kubernetes service; the low addresses stay reserved


class ClusterIPs:
    """Hands out the lowest free address of the service range (the allocator's bitmap)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()

    def allocate(self) -> str:
        """A free ClusterIP; InternalError when the range is exhausted, as upstream."""
        with self._lock:
            used = {s["spec"].get("clusterIP") for s in self._store.list("services")[0]}
            base = int(SERVICE_CIDR.network_address)
            for ip in SERVICE_CIDR.hosts():
                if int(ip) - base >= FIRST_FREE and str(ip) not in used:
                    return str(ip)
        raise ApiError(
            "InternalError",
            "Internal error occurred: failed to allocate a serviceIP: range is full",
        )


def default(svc: dict, ips: ClusterIPs) -> None:
    """SetDefaults_Service and ClusterIP allocation for a new ClusterIP service."""
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports", []):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec.get("clusterIP") != "None":
        spec["clusterIP"] = spec.get("clusterIP") or ips.allocate()
    spec["clusterIPs"] = [spec["clusterIP"]]
    svc["status"] = {"loadBalancer": {}}
