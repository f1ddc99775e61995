"""How a pod's containers reach the API server, as on a real node: the `kubernetes` Service's
variables in their environment, and what the pod's projected service account volumes
(`kube-api-access-*`, added by the ServiceAccount admission plugin) hold: the token, the CA and
the namespace, in the directory in-cluster clients read.

The token is bound to the pod: minted for `system:serviceaccount:NS:SA` when the pod starts (groups
system:serviceaccounts and system:serviceaccounts:NS, as the token authenticator gives) and refused
as soon as the pod object or its ServiceAccount is gone (or is another object of that name). RBAC
rules for it are the policy's rules for that user name.
Not modelled: token expiry and rotation.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

from .serviceaccounts import token_volumes


def service_env(host: str, port: int) -> dict[str, str]:
    """The `kubernetes` Service's variables the kubelet gives every container."""
    url = f"tcp://{host}:{port}"
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": url,
        f"KUBERNETES_PORT_{port}_TCP": url,
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


class PodAccess:
    """Service account tokens of the running pods; `policy` authenticates them."""

    def __init__(self, policy: Any, ca: Path, runtime: Any, store: Any) -> None:
        self.policy, self.ca, self.runtime, self.store = policy, ca, runtime, store
        host, port = runtime.KUBERNETES_SERVICE
        self.env = service_env(host, port)
        self._tokens: dict[str, str] = {}  # pod uid -> its token
        self._lock = threading.Lock()

    def volumes(self, uid: str, spec: dict, ns: str, name: str) -> set[str]:
        """Fill the starting pod's token volumes (per their projected sources); their names."""
        projected = token_volumes(spec)
        if not projected:
            return set()
        account = spec.get("serviceAccountName") or "default"
        sa = self.store.find("serviceaccounts", ns, account)
        sa_uid = sa["metadata"]["uid"] if sa else None
        bound = [("pods", name, uid), ("serviceaccounts", account, sa_uid)]
        token = secrets.token_urlsafe(32)
        self.policy.mint(token, f"system:serviceaccount:{ns}:{account}",
                         ["system:serviceaccounts", f"system:serviceaccounts:{ns}"],
                         lambda: self._bound(ns, bound))
        with self._lock:
            self._tokens[uid] = token
        for volume, source in projected.items():
            self._fill(self.runtime.volume(uid, volume), source["sources"], token, ns)
        return set(projected)

    def _fill(self, path: Path, sources: list[dict], token: str, ns: str) -> None:
        """The files of a projected volume: the token, the CA (kube-root-ca.crt), the namespace."""
        for source in sources:
            if "serviceAccountToken" in source:
                (path / source["serviceAccountToken"]["path"]).write_text(token)
            config_map = source.get("configMap") or {}
            if config_map.get("name") == "kube-root-ca.crt":
                for item in config_map.get("items", []):
                    shutil.copyfile(self.ca, path / item["path"])
            for item in (source.get("downwardAPI") or {}).get("items", []):
                if (item.get("fieldRef") or {}).get("fieldPath") == "metadata.namespace":
                    (path / item["path"]).write_text(ns)

    def _bound(self, ns: str, bound: list[tuple[str, str, str | None]]) -> bool:
        """Whether the objects a token is bound to, (resource, name, uid), still exist with the
        same uids (as the token authenticator checks)."""
        for resource, name, uid in bound:
            obj = self.store.find(resource, ns, name)
            if obj is None or obj["metadata"]["uid"] != uid:
                return False
        return True

    def revoke(self, uid: str) -> None:
        """The pod is gone: its token no longer authenticates."""
        with self._lock:
            token = self._tokens.pop(uid, None)
        if token:
            self.policy.revoke(token)
