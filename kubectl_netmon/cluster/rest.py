"""API calls as plain JSON dicts, with the server's Status turned into one ClusterError line.

The generated client's models are slow to build and hide fields the server added; netmon reads
a few fields of a few objects, so dicts are simpler. Every failure (HTTP status or connection)
becomes a ClusterError carrying the API server's own message, prefixed with what we tried and,
for a refusal the user can act on (RBAC, Pod Security), followed by what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

# The ways out of a refusal (HTTP 403): RBAC is granted by an admin; a Pod Security level is
# avoided by a node capture pod in a namespace that admits it.
GRANT = "a cluster admin must grant the missing permissions"
ELSEWHERE = ("use --mode node with --node-namespace NS, a namespace whose "
             "pod-security.kubernetes.io/enforce label is privileged or absent")
_PSA_REJECTION = "violates PodSecurity"  # the admission plugin's words, before level:version
_RBAC_REFUSAL = re.compile(r'User ".*" cannot \S+ (?:resource|path) ')  # the authorizer's words


class ApiError(ClusterError):
    """A refusal by the API server: `code` (HTTP status), `reason` (Status.reason) and `name`
    (Status.details.name; a NotFound without it means the resource type itself is missing)."""

    def __init__(self, message: str, code: int, reason: str, name: str = "") -> None:
        super().__init__(message)
        self.code, self.reason, self.name = code, reason, name


def _status(exc: ApiException) -> dict:
    try:
        status = json.loads(exc.body or b"")
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def status_message(exc: ApiException) -> tuple[str, str]:
    """(message, reason) of the metav1.Status in an ApiException body, escaped for output."""
    status = _status(exc)
    return escape(str(status.get("message") or exc.reason or exc.status)), \
        str(status.get("reason", ""))


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict:
    """Run one client method and return the decoded JSON body; failures as ClusterError."""
    try:
        resp = fn(*args, _preload_content=False, **kwargs)
    except ApiException as e:
        message, reason = status_message(e)
        name = str((_status(e).get("details") or {}).get("name", ""))
        raise ApiError(f"{what}: {message}{_what_to_do(e.status, message)}", e.status or 0,
                       reason, name) from None
    except urllib3.exceptions.HTTPError as e:
        raise ClusterError(f"{what}: cannot reach the API server{_unreachable(e)}") from None
    return json.loads(resp.data or b"{}")


def _what_to_do(code: int | None, message: str) -> str:
    """The way out of a refusal the user can act on (RBAC, Pod Security), or nothing."""
    if code != 403:
        return ""
    if _PSA_REJECTION in message:
        return f"; {ELSEWHERE}"
    return f"; {GRANT}" if _RBAC_REFUSAL.search(message) else ""


def _unreachable(e: urllib3.exceptions.HTTPError) -> str:
    """Why: a proxy's answer in its own words (urllib3 wraps it in its retry report)."""
    cause = getattr(e, "reason", None)
    if isinstance(cause, urllib3.exceptions.ProxyError) and cause.original_error:
        return f" through the proxy: {escape(str(cause.original_error))}"
    return f": {escape(str(e))}"
