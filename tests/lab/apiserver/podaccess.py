"""How a pod's containers reach the API server, as on a real node: the `kubernetes` Service's
variables in their environment, and the service account's token, CA and namespace in the
directory in-cluster clients read (the kubelet's projected `kube-api-access-*` volume).

The token is bound to the pod: minted for `system:serviceaccount:NS:SA` when the pod starts (groups
system:serviceaccounts and system:serviceaccounts:NS, as the token authenticator gives) and refused
as soon as the pod object is gone (or is another pod of that name). RBAC rules for it are the
policy's rules for that user name.
Not modelled: ServiceAccount objects (any spec.serviceAccountName gets a token), the volume in
the pod's spec, token expiry and rotation.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME = "kube-api-access"  # the emptyDir-like directory the runtime keeps per pod


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

    def mounts(self, uid: str, spec: dict, ns: str, name: str) -> list[tuple[str, str]]:
        """The token volume of a starting pod as (volume, mount path) for its containers;
        none when spec.automountServiceAccountToken is false."""
        if spec.get("automountServiceAccountToken") is False:
            return []
        account = spec.get("serviceAccountName") or "default"
        token = secrets.token_urlsafe(32)
        self.policy.mint(token, f"system:serviceaccount:{ns}:{account}",
                         ["system:serviceaccounts", f"system:serviceaccounts:{ns}"],
                         lambda: self._exists(uid, ns, name))
        with self._lock:
            self._tokens[uid] = token
        path = self.runtime.volume(uid, VOLUME)
        (path / "token").write_text(token)
        shutil.copyfile(self.ca, path / "ca.crt")
        (path / "namespace").write_text(ns)
        return [(VOLUME, TOKEN_DIR)]

    def _exists(self, uid: str, ns: str, name: str) -> bool:
        """Whether the pod a token is bound to still exists (as the token authenticator checks)."""
        obj = self.store.find("pods", ns, name)
        return obj is not None and obj["metadata"]["uid"] == uid

    def revoke(self, uid: str) -> None:
        """The pod is gone: its token no longer authenticates."""
        with self._lock:
            token = self._tokens.pop(uid, None)
        if token:
            self.policy.revoke(token)
