"""metav1.Status errors shaped as the real API server shapes them (reason, code, details, text)."""

from __future__ import annotations

from typing import Any

# StatusReason -> HTTP code, as in k8s.io/apimachinery/pkg/api/errors.
_CODES = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Gone": 410,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "InternalError": 500,
}


class ApiError(Exception):
    """An API failure answered as a Status object; raised anywhere in request handling."""

    def __init__(
        self, reason: str, message: str, details: dict | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details
        self.code = code if code is not None else _CODES[reason]

    def status(self) -> dict[str, Any]:
        """The Status body, with the key order the real server writes."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = kind
    return out


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    """`pods "x" not found` (NewNotFound)."""
    return ApiError(
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    """`pods "x" already exists` (NewAlreadyExists)."""
    return ApiError(
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def forbidden(resource: str, name: str, why: str, group: str = "") -> ApiError:
    """`pods "x" is forbidden: why` (NewForbidden; no name gives `pods is forbidden`)."""
    subject = _qualified(resource, group) + (f' "{name}"' if name else "")
    return ApiError("Forbidden", f"{subject} is forbidden: {why}", _details(name, group, resource))


def conflict(resource: str, name: str, why: str, group: str = "") -> ApiError:
    """`Operation cannot be fulfilled on pods "x": why` (NewConflict)."""
    return ApiError(
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def bad_request(message: str) -> ApiError:
    """A 400 without details (NewBadRequest)."""
    return ApiError("BadRequest", message)


def method_not_allowed(verb: str, resource: str) -> ApiError:
    """NewMethodNotSupported."""
    return ApiError(
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {resource!r}",
        {"kind": resource},
    )


def internal(err: str) -> ApiError:
    """`Internal error occurred: err` (NewInternalError)."""
    return ApiError(
        "InternalError", f"Internal error occurred: {err}", {"causes": [{"message": err}]}
    )


def gone(message: str) -> ApiError:
    """A 410 Expired/Gone, as sent for a watch from a compacted resourceVersion."""
    return ApiError("Expired", message, code=410)


class FieldError:
    """One field.Error: a path, a type (Required, Invalid, Forbidden...) and a detail."""

    _REASONS = {
        "Required value": "FieldValueRequired",
        "Invalid value": "FieldValueInvalid",
        "Forbidden": "FieldValueForbidden",
        "Duplicate value": "FieldValueDuplicate",
        "Unsupported value": "FieldValueNotSupported",
        "Not found": "FieldValueNotFound",
    }

    def __init__(self, field: str, kind: str, detail: str = "", value: Any = None) -> None:
        self.field, self.kind, self.detail, self.value = field, kind, detail, value

    def text(self) -> str:
        """field.Error.ErrorBody(): `Invalid value: "x": detail`, `Required value`, ..."""
        body = self.kind
        if self.kind in ("Invalid value", "Unsupported value", "Duplicate value", "Not found"):
            body += ": " + _go_value(self.value)
        if self.detail:
            body += ": " + self.detail
        return body

    def cause(self) -> dict[str, str]:
        return {"reason": self._REASONS[self.kind], "message": self.text(), "field": self.field}


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> ApiError:
    """`Pod "x" is invalid: field: Required value` (NewInvalid; several errors in brackets)."""
    parts = [f"{e.field}: {e.text()}" for e in errors]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errors]
    return ApiError("Invalid", f'{qualified} "{name}" is invalid: {joined}', details)
