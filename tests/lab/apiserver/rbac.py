"""Authentication by bearer token and RBAC authorization, from a policy file tests may rewrite.

policy.json: {"users": {NAME: {"token": T, "groups": [...]}},
              "rules": {NAME: [{"verbs": [...], "apiGroups": [...], "resources": [...],
                                "namespaces": [...]}]}}
Members of system:masters may do anything, as on a real cluster. The file is reread when its
modification time changes, so a test switches policy by writing it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .status import forbidden

# Granted to every authenticated user by the default ClusterRoles system:basic-user,
# system:discovery and system:public-info-viewer.
_BASIC = [
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    }
]


@dataclass(frozen=True)
class Attributes:
    """What a request does, as authorizer.Attributes: verb on resource[/subresource] in group."""

    user: str
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def forbidden(self):
        """The 403 the real RBAC authorizer answers with (responsewriters.forbiddenMessage)."""
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        scope = (
            f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        )
        why = (
            f'User "{self.user}" cannot {self.verb} resource "{res}" in API group '
            f'"{self.group}"{scope}'
        )
        return forbidden(self.resource, self.name, why, self.group)


class Policy:
    """Users, tokens and rules from policy.json, reread whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = -1
        self._users: dict[str, dict] = {}
        self._rules: dict[str, list[dict]] = {}
        # pods' tokens: token -> user, groups, whether the pod it is bound to still exists
        self._minted: dict[str, tuple[str, list[str], Callable[[], bool]]] = {}

    def _load(self) -> None:
        mtime = os.stat(self.path).st_mtime_ns
        if mtime != self._mtime:
            data = json.loads(self.path.read_text())
            self._users, self._rules, self._mtime = data["users"], data.get("rules", {}), mtime

    def mint(self, token: str, user: str, groups: list[str], bound: Callable[[], bool]) -> None:
        """Accept `token` for `user` (a pod's service account token) while bound() holds, until
        revoke()."""
        with self._lock:
            self._minted[token] = user, groups, bound

    def revoke(self, token: str) -> None:
        with self._lock:
            self._minted.pop(token, None)

    def user_for(self, token: str) -> tuple[str, list[str]] | None:
        """(user name, groups) for a bearer token, or None when the token is unknown."""
        with self._lock:
            minted = self._minted.get(token)
        if minted is not None:
            user, groups, bound = minted
            return (user, ["system:authenticated", *groups]) if bound() else None
        with self._lock:
            self._load()
            for name, user in self._users.items():
                if token and user.get("token") == token:
                    return name, ["system:authenticated", *user.get("groups", [])]
        return None

    def allowed(self, attrs: Attributes, groups: list[str]) -> bool:
        """True when a rule grants the verb on the resource; masters may do anything."""
        if "system:masters" in groups:
            return True
        with self._lock:
            self._load()
            rules = self._rules.get(attrs.user, [])
        return any(_matches(rule, attrs) for rule in [*_BASIC, *rules])


def _matches(rule: dict, a: Attributes) -> bool:
    res = a.resource + (f"/{a.subresource}" if a.subresource else "")
    resources = rule.get("resources", [])
    namespaces = rule.get("namespaces", ["*"])
    return (
        _has(rule.get("verbs", []), a.verb)
        and _has(rule.get("apiGroups", [""]), a.group)
        and (
            res in resources
            or "*" in resources
            or (a.subresource and f"{a.resource}/*" in resources)
            or (a.subresource and f"*/{a.subresource}" in resources)
        )
        and (_has(namespaces, a.namespace) if a.namespace else "*" in namespaces)
        and (not rule.get("resourceNames") or a.name in rule["resourceNames"])
    )


def _has(values: list[str], value: str) -> bool:
    return "*" in values or value in values
