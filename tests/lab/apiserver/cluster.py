"""Assembles the lab cluster: store seeded like a fresh cluster, runtime nodes, kubelet, HTTPS."""

from __future__ import annotations

import json
import platform
import socket
import uuid
from pathlib import Path
from typing import Any

from . import pki, scheduler
from .api import Api
from .kubelet import Kubelet
from .messages import Request
from .podaccess import PodAccess
from .podstatus import now
from .rbac import Policy
from .store import Store
from .transport import ApiHttpServer

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_object(info: Any) -> dict:
    """A Node as a kubelet registers it: addresses, podCIDR, Ready condition, nodeInfo."""
    ts = now()
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": info.name,
            "creationTimestamp": ts,
            "uid": f"node-{info.name}",
            "labels": {
                "kubernetes.io/hostname": info.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"podCIDR": info.pod_cidr, "podCIDRs": [info.pod_cidr]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": info.internal_ip},
                {"type": "Hostname", "address": info.name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": ts,
                    "lastTransitionTime": ts,
                }
            ],
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "nodeInfo": {
                "kubeletVersion": "v1.32.0-lab",
                "kubeProxyVersion": "",
                "osImage": "lab (network namespaces)",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "kernelVersion": platform.release(),
                "containerRuntimeVersion": "lab://1.0",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


class LabCluster:
    """Everything the lab process runs; `start()` serves, `stop()` stops pods and the server."""

    def __init__(self, state_dir: Path, runtime: Any, nodes: int) -> None:
        self.state_dir = state_dir
        self.runtime = runtime
        self.store = Store()
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        service_ip, service_port = runtime.KUBERNETES_SERVICE
        ca, cert, key = pki.make_certs(state_dir / "pki", service_ip)
        self.tokens = pki.write_policy(state_dir / "policy.json")
        pki.write_kubeconfig(state_dir / "kubeconfig", self.url, ca, self.tokens)
        self._seed(service_ip, service_port)
        infos = runtime.create_nodes(nodes)
        for info in infos:
            self.store.create("nodes", node_object(info))
        policy = Policy(state_dir / "policy.json")
        self.kubelet = Kubelet(self.store, runtime, {i.name: i for i in infos},
                               PodAccess(policy, ca, runtime, self.store))
        self.requeue = scheduler.Requeue(self.store, lambda: self.kubelet.nodes)
        self.api = Api(
            self.store,
            policy,
            self.kubelet,
            runtime,
            f"127.0.0.1:{self.port}",
        )
        self.http = ApiHttpServer(self.api, ("127.0.0.1", self.port), cert, key, ca)
        # what pods reach as the `kubernetes` Service (in-cluster clients, their tokens)
        self.http_for_pods = ApiHttpServer(self.api, runtime.listen_for_pods(), cert, key, ca)

    def _seed(self, service_ip: str, service_port: int) -> None:
        for name in SYSTEM_NAMESPACES:
            self.store.create(
                "namespaces",
                {
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {
                        "name": name,
                        "uid": str(uuid.uuid4()),
                        "creationTimestamp": now(),
                        "labels": {"kubernetes.io/metadata.name": name},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
        self.store.create(
            "services",
            {
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": now(),
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "ports": [
                        {"name": "https", "protocol": "TCP", "port": service_port,
                         "targetPort": 6443}
                    ],
                    "clusterIP": service_ip,
                    "clusterIPs": [service_ip],
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            },
        )

    def apply_manifests(self, manifests: list[dict]) -> None:
        """Create objects (Namespaces, Pods, Services) in order, as the admin user would."""
        for doc in manifests:
            resource = doc["kind"].lower() + "s"
            ns = doc.get("metadata", {}).get("namespace", "default")
            url = (
                f"/api/v1/namespaces/{ns}/{resource}"
                if resource in ("pods", "services")
                else f"/api/v1/{resource}"
            )
            req = Request(
                "POST",
                url,
                {"fieldValidation": ["Strict"]},
                {},
                json.dumps(doc).encode(),
                user=pki.ADMIN,
                groups=["system:masters"],
            )
            resp = self.api.handle(req)
            if resp.code >= 400:
                raise ValueError(
                    f"{doc['kind']} {doc['metadata'].get('name')}: {resp.body['message']}"
                )

    def start(self) -> None:
        """Start the kubelet and the workload controller, and serve HTTPS."""
        self.api.accounts.start()
        self.kubelet.start()
        self.requeue.start()
        self.api.apps.start()
        self.api.taint_eviction.start()
        self.http.serve_in_thread()
        self.http_for_pods.serve_in_thread()

    def stop(self) -> None:
        """Stop serving, stop every pod, end watches."""
        self.http.shutdown()
        self.http_for_pods.shutdown()
        self.api.taint_eviction.stop()
        self.requeue.stop()
        self.api.accounts.stop()
        self.kubelet.stop()
        self.store.close()
        self.http.server_close()
        self.http_for_pods.server_close()
