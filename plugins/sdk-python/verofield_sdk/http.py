"""The request a handler reads and the response it builds (the Rust SDK's `http.rs`): path
and query parameters checked as the host checks its own (400 naming the parameter), a JSON
body that fails as the host's bodies fail (400 `malformed_json`, 415, 422 naming the field),
and JSON answers with ETags and `Location`."""

import json
import math
import re

from . import validate
from .problem import FieldError, Problem, dumps

# Columns the host maintains on every store row: a body that sets them is refused.
HOST_MAINTAINED = ("id", "version", "created_at", "updated_at")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_UNSIGNED = re.compile(r"\+?[0-9]+", re.ASCII)
# What Rust's `f64::from_str` accepts.
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.ASCII | re.IGNORECASE,
)


def parse_unsigned(text, bits=64):
    """An unsigned integer as Rust's `u32`/`u64::from_str` reads it, or None."""
    if not _UNSIGNED.fullmatch(text):
        return None
    value = int(text)
    return value if value < (1 << bits) else None


def parse_float(text):
    """A float as Rust's `f64::from_str` reads it (`inf` and `NaN` included), or None."""
    return float(text) if _FLOAT.fullmatch(text) else None


def is_uuid(text):
    """Whether `text` is a UUID in its canonical hyphenated form (any case)."""
    return len(text) == 36 and all(
        c == "-" if i in (8, 13, 18, 23) else c in "0123456789abcdefABCDEF"
        for i, c in enumerate(text)
    )


def either(words):
    """`a`, `a or b`, `a, b or c`."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def _lookup(pairs, matches):
    return next((value for key, value in pairs if matches(key)), None)


class Paging:
    """`limit` and `cursor` of a paged list."""

    def __init__(self, limit, cursor):
        self.limit = limit
        self.cursor = cursor


class Request:
    """An HTTP request routed to the module (path relative to `/v1/{slot}`)."""

    def __init__(self, method="", path="", query=(), headers=(), body=b"", route="", params=()):
        self.method = method
        self.path = path
        self.query_pairs = list(query)
        self.headers = list(headers)
        self.body = bytes(body)
        self.route = route
        self.params = list(params)

    @classmethod
    def from_wit(cls, request):
        return cls(
            request.method,
            request.path,
            request.query,
            request.headers,
            request.body,
            request.route,
            request.params,
        )

    def header(self, name):
        """A header's value (names are matched case-insensitively)."""
        name = name.lower()
        return _lookup(self.headers, lambda key: key.lower() == name)

    def param(self, name):
        """A path parameter of the matched route; missing only if the table is wrong."""
        value = _lookup(self.params, lambda key: key == name)
        if value is None:
            raise Problem.internal(f"route has no parameter `{name}`")
        return value

    def id_param(self, name):
        """A path parameter that must be a UUID (row ids are); otherwise 400."""
        value = self.param(name)
        if not is_uuid(value):
            raise Problem.bad_request("invalid_path_parameter", f"`{name}` must be a UUID")
        return value

    def query(self, name):
        """The first value of a query parameter, or None."""
        return _lookup(self.query_pairs, lambda key: key == name)

    def query_all(self, name):
        """Every value of a repeatable query parameter, in order."""
        return [value for key, value in self.query_pairs if key == name]

    def query_float(self, name, expected):
        """A float query parameter, or None; unparsable is 400 naming it and `expected`."""
        text = self.query(name)
        if text is None:
            return None
        value = parse_float(text)
        if value is None:
            raise Problem.invalid_query(name, expected)
        return value

    def query_matching(self, name, accepts, expected):
        """A query parameter `accepts(value)` holds for, or None; otherwise 400 naming it and
        `expected` (`` `created_after` must be an RFC 3339 timestamp ``)."""
        value = self.query(name)
        if value is not None and not accepts(value):
            raise Problem.invalid_query(name, expected)
        return value

    def query_uuid(self, name):
        """A query parameter that must be a UUID (an id to filter by)."""
        return self.query_matching(name, is_uuid, "a UUID")

    def query_one_of(self, name, allowed):
        """A query parameter that must be one of `allowed`; otherwise 400 listing them."""
        value = self.query(name)
        if value is not None and value not in allowed:
            raise Problem.invalid_query(name, either(list(allowed)))
        return value

    def unstorable_parameters(self):
        """422 naming every query and path parameter holding a NUL (the router refuses such a
        request before any handler runs)."""
        refused = [
            FieldError(name.replace("\0", "\ufffd"), validate.UNSTORABLE)
            for name, value in self.query_pairs + self.params
            if not validate.is_storable(name) or not validate.is_storable(value)
        ]
        if refused:
            raise Problem.validation(refused)

    def paging(self):
        """`limit` (1..=200, default 50) and `cursor` for a paged list."""
        expected = "an integer from 1 to 200"
        text = self.query("limit")
        limit = DEFAULT_PAGE_SIZE
        if text is not None:
            limit = parse_unsigned(text, 32)
            if limit is None:
                raise Problem.invalid_query("limit", expected)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise Problem.invalid_query("limit", expected)
        return Paging(limit, self.query("cursor"))

    def json(self, read_only=()):
        """The JSON body, refusing with 422 the host-maintained columns and `read_only`.

        A non-JSON content type is 415, malformed JSON 400 `malformed_json`, anything but an
        object 422 `body`, text holding a NUL 422 naming the field. Check its fields with
        `fields.parse`."""
        content_type = self.header("content-type")
        media_type = (content_type or "").split(";")[0].strip().lower()
        if content_type is None or not (
            media_type == "application/json" or media_type.endswith("+json")
        ):
            raise Problem(415, "unsupported_media_type", "send the body as application/json")
        value = decode_json(self.body)
        if not isinstance(value, dict):
            raise Problem.validation([FieldError("body", "expected a JSON object")])
        refused = [
            FieldError(key, "is read-only")
            for key in sorted(value)
            if key in HOST_MAINTAINED or key in read_only
        ]
        if refused:
            raise Problem.validation(refused)
        unstorable = validate.unstorable_fields(value)
        if unstorable:
            raise Problem.validation(unstorable)
        return value


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _check_text(value):
    """JSON text may escape lone surrogates (`\\ud800`), which are not text: refused as the
    Rust SDK's parser refuses them."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)


def decode_json(body):
    """Strict JSON (UTF-8, no `NaN`, finite numbers, real text); 400 `malformed_json`."""
    try:
        value = json.loads(
            body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite
        )
        _check_text(value)
        return value
    except (ValueError, UnicodeError, RecursionError):
        raise Problem.bad_request("malformed_json", "the body is not valid JSON") from None


class Response:
    """What a handler answers."""

    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = list(headers or [])
        self.body = body

    @classmethod
    def json(cls, status, body):
        """`body` as JSON with the given status."""
        try:
            text = dumps(body)
        except (TypeError, ValueError) as error:
            return Problem.internal(f"answer not serializable: {error}").to_response()
        return cls(status, [("content-type", "application/json")], text.encode())

    @classmethod
    def record(cls, status, record):
        """One row as JSON, with its version as the ETag."""
        from .etag import etag

        response = cls.json(status, record.to_json())
        response.set_header("etag", etag(record.version))
        return response

    @classmethod
    def created(cls, location, record):
        """201 with the new row, its ETag, and `Location` (the full path, `/v1/{slot}/...`)."""
        response = cls.record(201, record)
        response.set_header("location", location)
        return response

    @classmethod
    def no_content(cls):
        return cls(204)

    def set_header(self, name, value):
        """Sets a header, replacing any with the same name."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def header(self, name):
        return _lookup(self.headers, lambda key: key.lower() == name.lower())

    def json_body(self):
        """The body decoded (for tests)."""
        return json.loads(self.body) if self.body else None
