"""Requests and responses as the handlers see them, independent of the HTTP plumbing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import yaml

from . import protobuf
from .status import ApiError, bad_request

# Request bodies the lab decodes, as a real server does.
BODY_TYPES = ("application/json", "application/yaml", protobuf.MEDIA_TYPE)


@dataclass
class Request:
    """One API request: the parts handlers read, the authenticated user, the raw connection."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive
    body: bytes
    user: str = ""
    groups: list[str] = field(default_factory=list)
    rfile: BinaryIO | None = None
    wfile: BinaryIO | None = None

    def param(self, name: str, default: str = "") -> str:
        """The last value of a query parameter."""
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter (true/1)."""
        return self.param(name).lower() in ("true", "1")

    def json(self) -> Any:
        """The body decoded per Content-Type (JSON, YAML, protobuf); 415 for others (CBOR)."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if not self.body:
            return None
        if ctype == protobuf.MEDIA_TYPE:
            return protobuf.decode(self.body)
        if ctype == "application/yaml":
            try:
                return yaml.safe_load(self.body or b"null")
            except yaml.YAMLError as e:
                raise bad_request(f"couldn't get version/kind; yaml parse error: {e}") from None
        if ctype not in ("", "application/json", "*/*"):
            raise ApiError(
                "UnsupportedMediaType",
                "the body of the request was in an unknown "
                f"format - accepted media types include: {', '.join(BODY_TYPES)}",
                code=415,
            )
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    def wants_table(self) -> bool:
        """True when the client asked for a meta.k8s.io Table (kubectl get)."""
        accept = self.headers.get("Accept", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept


@dataclass
class Response:
    """A JSON (or text) body, or a stream of chunks, or an upgraded connection already served."""

    code: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    upgraded: Callable[[], None] | None = None


def ok(body: Any, code: int = 200, **headers: str) -> Response:
    """A JSON response."""
    return Response(code=code, body=body, headers=headers)


def warning_headers(warnings: list[str]) -> dict[str, str]:
    """The Warning header (RFC 7234 code 299) the server adds for field validation warnings."""
    if not warnings:
        return {}
    return {"Warning": ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in warnings)}
