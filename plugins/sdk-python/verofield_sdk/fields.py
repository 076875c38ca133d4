"""Typed request bodies: a schema says which fields a body may hold and of which type, and
`parse` checks a decoded JSON object against it the way the Rust SDK's serde structs do
(`#[serde(deny_unknown_fields)]` with `Patch<T>` fields): keys in sorted order, the first
unknown or mistyped field refused as 422 naming it (`billing_address.zip`, `tags[0]`).

The result is the body as a dict of the fields present, which is what PATCH needs: an
absent key leaves the column alone, `None` clears it, a value sets it.

    CUSTOMER = {"name": TEXT, "kind": one_of("residential", "commercial"), "tags": list_of(TEXT)}
    fields = parse(CUSTOMER, body)
"""

import json

from .problem import FieldError, Problem
from .validate import is_number


def _unexpected(value):
    """How serde names a JSON value it did not expect."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


class _Mistyped(Exception):
    def __init__(self, path, message):
        super().__init__(message)
        self.path = path
        self.message = message


class Type:
    """A field type: `check(value, path)` raises `_Mistyped` when the value does not fit."""

    def __init__(self, expected, accepts):
        self.expected = expected
        self.accepts = accepts

    def check(self, value, path):
        if not self.accepts(value):
            raise _Mistyped(path, f"invalid type: {_unexpected(value)}, expected {self.expected}")


TEXT = Type("a string", lambda value: isinstance(value, str))
NUMBER = Type("f64", is_number)
BOOLEAN = Type("a boolean", lambda value: isinstance(value, bool))
MAP = Type("a map", lambda value: isinstance(value, dict))
"""A free-form JSON object (stored as it is)."""


class one_of(Type):
    """One of a fixed set of strings (a Rust unit enum)."""

    def __init__(self, *variants):
        super().__init__("string or map", lambda value: isinstance(value, str))
        self.variants = variants

    def check(self, value, path):
        super().check(value, path)
        if value not in self.variants:
            names = [f"`{variant}`" for variant in self.variants]
            expected = (
                f"{names[0]} or {names[1]}"
                if len(names) == 2
                else f"one of {', '.join(names)}" if len(names) > 2 else names[0]
            )
            raise _Mistyped(path, f"unknown variant `{value}`, expected {expected}")


class list_of(Type):
    """A JSON array whose items are all of `item`."""

    def __init__(self, item):
        super().__init__("a sequence", lambda value: isinstance(value, list))
        self.item = item

    def check(self, value, path):
        super().check(value, path)
        for i, entry in enumerate(value):
            self.item.check(entry, f"{path}[{i}]")


class struct(Type):
    """A nested object with known, optional (nullable) members and nothing else."""

    def __init__(self, name, members):
        super().__init__(f"struct {name}", lambda value: isinstance(value, dict))
        self.members = members

    def check(self, value, path):
        super().check(value, path)
        _check_members(self.members, value, path)


def _check_members(members, value, path):
    for key in sorted(value):
        child = f"{path}.{key}" if path else key
        if key not in members:
            raise _Mistyped(child, None)
        if value[key] is not None:
            members[key].check(value[key], child)


def parse(schema, body):
    """`body` (a decoded JSON object) checked against `schema` (field name -> type); every
    field is optional and may be null. Raises 422 naming the first field that does not fit."""
    try:
        _check_members(schema, body, "")
    except _Mistyped as error:
        message = "is not a known field" if error.message is None else error.message
        raise Problem.validation([FieldError(error.path, message)]) from None
    return dict(body)
