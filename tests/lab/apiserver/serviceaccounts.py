"""ServiceAccounts: the controller that keeps a `default` account in every namespace, and the
ServiceAccount admission plugin's part of pod creation.

Admission (plugin/pkg/admission/serviceaccount): a pod without spec.serviceAccountName gets
`default`; a pod whose account does not exist is refused (403, "error looking up service account
NS/NAME: serviceaccount "NAME" not found"; for `default` it looks again for about a second, as the
controller may not have made it yet); unless automountServiceAccountToken (the pod's, else the
account's) is false, the pod gets the projected `kube-api-access-XXXXX` volume (token, the
cluster CA from the kube-root-ca.crt ConfigMap, the namespace) mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container and init container that does not
mount something there already; ephemeral containers never get it. A pod without imagePullSecrets
takes its account's.
Not modelled: the TokenRequest subresource (`kubectl create token`), ConfigMap objects (the CA
is projected without one), legacy token Secrets.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid

from .podstatus import now
from .status import ApiError, forbidden
from .store import Store

DEFAULT = "default"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_SECONDS = 3607  # WarnOnlyBoundTokenExpirationSeconds: what the admission plugin asks for
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # utilrand.String's alphabet
_DEFAULT_LOOKUPS, _LOOKUP_PAUSE_S = 10, 0.1


def account(ns: str, name: str) -> dict:
    """A ServiceAccount object as the controller creates it."""
    return {
        "kind": "ServiceAccount",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now(),
        },
    }


def admit(store: Store, pod: dict, ns: str, requested_name: str) -> None:
    """The admission plugin on pod create: default the account, require it, mount its token."""
    spec = pod["spec"]
    spec["serviceAccountName"] = spec.get("serviceAccountName") or DEFAULT
    spec["serviceAccount"] = spec["serviceAccountName"]
    sa = _lookup(store, ns, spec["serviceAccountName"])
    if sa is None:
        name = spec["serviceAccountName"]
        raise forbidden(
            "pods",
            requested_name,
            f'error looking up service account {ns}/{name}: serviceaccount "{name}" not found',
        )
    if _automount(sa, pod):
        _mount_token(spec)
    if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [dict(s) for s in sa["imagePullSecrets"]]


def token_volumes(spec: dict) -> dict[str, dict]:
    """The pod's projected volumes that carry a service account token, by name."""
    return {
        v["name"]: v["projected"]
        for v in spec.get("volumes", [])
        if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get("sources", []))
    }


def _lookup(store: Store, ns: str, name: str) -> dict | None:
    """The account; `default` is looked for again for a while (the controller makes it)."""
    for attempt in range(_DEFAULT_LOOKUPS if name == DEFAULT else 1):
        if attempt:
            time.sleep(_LOOKUP_PAUSE_S)
        found = store.find("serviceaccounts", ns, name)
        if found is not None:
            return found
    return None


def _automount(sa: dict, pod: dict) -> bool:
    """The pod's preference wins, then the account's; true by default."""
    for holder in (pod["spec"], sa):
        if holder.get("automountServiceAccountToken") is not None:
            return bool(holder["automountServiceAccountToken"])
    return True


def _mount_token(spec: dict) -> None:
    """Every (init) container mounts the token volume unless it mounts something at its path."""
    volumes = spec.setdefault("volumes", [])
    name = next((v["name"] for v in volumes if v["name"].startswith(VOLUME_PREFIX)), None)
    have = name is not None
    name = name or VOLUME_PREFIX + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
    needed = False
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        mounts = c.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == TOKEN_DIR for m in mounts):
            mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_DIR})
            needed = True
    if needed and not have:
        volumes.append(_volume(name))
    if not volumes:
        del spec["volumes"]


def _volume(name: str) -> dict:
    """The projected volume, with the defaults the API server stores."""
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }


class Controller:
    """The serviceaccounts controller: `default` in every active namespace, made again if
    deleted. The lab also calls `ensure` as a namespace is created (a real controller follows
    within moments; admission's retries cover that gap there)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="serviceaccounts", daemon=True)

    def start(self) -> None:
        self._since = int(self.store.resource_version)
        for ns in self.store.list("namespaces")[0]:
            self.ensure(ns["metadata"]["name"])
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        swept = time.monotonic()
        for event in self.store.watch("namespaces", self._since, lambda: not self._stopping):
            if event is not None and event.type != "DELETED":
                self.ensure(event.obj["metadata"]["name"])
            if time.monotonic() - swept >= 1.0:  # a deleted `default` comes back within a second
                swept = time.monotonic()
                for ns in self.store.list("namespaces")[0]:
                    self.ensure(ns["metadata"]["name"])

    def ensure(self, ns: str) -> None:
        """`default` in namespace ns, unless it is gone or terminating."""
        obj = self.store.find("namespaces", "", ns)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        if self.store.find("serviceaccounts", ns, DEFAULT) is None:
            with contextlib.suppress(ApiError):  # made meanwhile
                self.store.create("serviceaccounts", account(ns, DEFAULT))
