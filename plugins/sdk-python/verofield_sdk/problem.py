"""Failures as RFC 9457 problem+json, in exactly the host's shape (the Rust SDK's
`problem.rs`): `{"type", "title", "status", "detail", "code", "errors"?}` with a stable,
machine-readable `code`, so that clients handle module errors and host errors alike.

A handler raises a `Problem`; the router renders it. Extension members (RFC 9457 §3.2) are
added with `Problem.with_member` and never override the standard ones.
"""

import json

CONTENT_TYPE = "application/problem+json"

# The titles the host uses (`StatusCode::canonical_reason`) for the statuses modules answer.
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldError:
    """One invalid field of a request body or query."""

    __slots__ = ("field", "message")

    def __init__(self, field, message):
        self.field = field
        self.message = message

    def __eq__(self, other):
        return isinstance(other, FieldError) and (self.field, self.message) == (
            other.field,
            other.message,
        )

    def __repr__(self):
        return f"FieldError({self.field!r}, {self.message!r})"

    def to_json(self):
        return {"field": self.field, "message": self.message}


class Problem(Exception):
    """A client-visible failure: raise it from a handler and the router renders it."""

    def __init__(self, status, code, detail, errors=None):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors or [])
        self.members = {}

    def with_member(self, name, value):
        """Adds an extension member beside the standard ones (a same-named one is ignored)."""
        self.members[name] = value
        return self

    @classmethod
    def bad_request(cls, code, detail):
        return cls(400, code, detail)

    @classmethod
    def invalid_query(cls, name, expected):
        """A query parameter that is missing or does not parse (400 `invalid_query_parameter`)."""
        return cls.bad_request("invalid_query_parameter", f"`{name}` must be {expected}")

    @classmethod
    def not_found(cls, what):
        """404 `not_found` for a resource, for example `Problem.not_found("customer")`."""
        return cls(404, "not_found", f"no {what} with this id")

    @classmethod
    def validation(cls, errors):
        """422 `validation_failed` listing every invalid field."""
        return cls(422, "validation_failed", "the request has invalid fields", errors)

    @classmethod
    def precondition_failed(cls):
        """412: `If-Match` names a version the resource has moved past."""
        return cls(
            412,
            "precondition_failed",
            "the resource changed since you read it; fetch it again",
        )

    @classmethod
    def internal(cls, cause):
        """500 `internal_error`; the cause goes to the log, not to the client."""
        from . import log

        log.error(f"internal error: {cause}")
        return cls(500, "internal_error", "an internal error occurred")

    def body(self):
        body = {
            "type": f"/problems/{self.code}",
            "title": _REASONS.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = [error.to_json() for error in self.errors]
        for name, value in self.members.items():
            body.setdefault(name, value)
        return body

    def to_response(self):
        from .http import Response

        response = Response.json(self.status, self.body())
        response.set_header("content-type", CONTENT_TYPE)
        return response


def dumps(value):
    """JSON text as the host reads it: compact, and never `NaN` or `Infinity`."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
