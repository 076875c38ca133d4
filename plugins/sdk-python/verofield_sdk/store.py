"""Typed access to the host's `store` (the Rust SDK's `store.rs`): rows come back as
`Record`s (id, version and the columns as a dict), values go in as dicts, filters are built
with `Filter` rather than written as JSON text. A failed call raises `StoreError`, which the
router turns into the problem a client should see, so handlers need not catch it.

Filters follow the grammar of `wit/platform.wit`:
    filter := {"and": [filter, ...]} | {"or": [filter, ...]} | {"not": filter}
            | {"column": name, "op": op, "value": json-value}
"""

import json

from .http import DEFAULT_PAGE_SIZE
from .problem import FieldError, Problem, dumps


class Record:
    """A row: its id, its version (the ETag) and its columns. Serializes flat."""

    def __init__(self, id, version, values):
        self.id = id
        self.version = version
        self.values = values

    def to_json(self):
        return {"id": self.id, "version": self.version, **self.values}


class StoreError(Exception):
    """Why a store call failed: `kind` is the WIT variant (`not-found`, `conflict`,
    `duplicate`, `invalid`, `limit-exceeded`, `unavailable`, `not-granted`, or `decode` for a
    row that is not JSON), `value` what it carries."""

    def __init__(self, kind, value=None):
        super().__init__(f"{kind}: {value}")
        self.kind = kind
        self.value = value

    def problem(self):
        """The usual answer to each store error. A write the client asked to make conditional
        maps `conflict` to 412 instead (see `etag`)."""
        kind, value = self.kind, self.value
        if kind == "not-found":
            return Problem(404, "not_found", "no row with this id")
        if kind == "conflict":
            return Problem(
                409,
                "conflict",
                f"the resource was changed concurrently (now version {value}); retry",
            )
        if kind == "duplicate":
            return Problem(409, "duplicate", f"another row already has these values ({value})")
        if kind == "invalid":
            fault = column_fault(value)
            if fault:
                return Problem.validation([FieldError(*fault)])
            return Problem(422, "validation_failed", value)
        if kind == "limit-exceeded":
            return Problem(
                400, "limit_exceeded", f"the request would exceed the `{value}` limit; narrow it"
            )
        if kind == "unavailable":
            return Problem(503, "store_unavailable", "the database did not answer; retry later")
        if kind == "not-granted":
            return Problem.internal(f"store not granted: {value}")
        return Problem.internal(f"stored row unreadable: {value}")


def column_fault(why):
    """The column and reason of an `invalid` error about one column's value, which the host
    words ``column `name`: reason``."""
    if not why.startswith("column `") or "`: " not in why[8:]:
        return None
    column, reason = why[8:].split("`: ", 1)
    return column, reason


class Filter:
    """A filter tree, rendered to the store's JSON grammar."""

    def __init__(self, tree):
        self.tree = tree

    @classmethod
    def compare(cls, column, op, value):
        return cls({"column": column, "op": op, "value": value})

    @classmethod
    def eq(cls, column, value):
        return cls.compare(column, "eq", value)

    @classmethod
    def ne(cls, column, value):
        return cls.compare(column, "ne", value)

    @classmethod
    def lt(cls, column, value):
        return cls.compare(column, "lt", value)

    @classmethod
    def le(cls, column, value):
        return cls.compare(column, "le", value)

    @classmethod
    def gt(cls, column, value):
        return cls.compare(column, "gt", value)

    @classmethod
    def ge(cls, column, value):
        return cls.compare(column, "ge", value)

    @classmethod
    def one_of(cls, column, values):
        """The column's value is one of `values` (a text-array column: shares one of them)."""
        return cls.compare(column, "in", list(values))

    @classmethod
    def like(cls, column, pattern):
        """A case-insensitive `like` pattern (`%` any run, `_` one character)."""
        return cls.compare(column, "like", pattern)

    @classmethod
    def contains(cls, column, text):
        """The column contains `text` literally, case-insensitively."""
        escaped = "".join("\\" + c if c in "%_\\" else c for c in text)
        return cls.like(column, f"%{escaped}%")

    @classmethod
    def is_null(cls, column, null=True):
        return cls.compare(column, "is-null", null)

    @classmethod
    def all(cls, filters):
        return cls({"and": [f.tree for f in filters]})

    @classmethod
    def any(cls, filters):
        return cls({"or": [f.tree for f in filters]})

    @classmethod
    def negate(cls, filter):
        return cls({"not": filter.tree})

    def to_json(self):
        return dumps(self.tree)


def _wit():
    from wit_world.imports import store

    return store


def _calling(function, *args):
    """Calls a store import, raising its `Err` as a `StoreError`."""
    from componentize_py_types import Err

    try:
        return function(*args)
    except Err as error:
        raise _store_error(error.value) from None


def _store_error(variant):
    # `StoreError_NotFound` -> `not-found`
    name = type(variant).__name__.split("_", 1)[1]
    kind = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return StoreError(kind, getattr(variant, "value", None))


def record(row):
    try:
        values = json.loads(row.values)
    except ValueError as error:
        raise StoreError("decode", f"row {row.id}: {error}") from None
    return Record(row.id, row.version, values)


def get(table, id):
    """The row with this id, or None."""
    row = _calling(_wit().get, table, id)
    return None if row is None else record(row)


def insert(table, values):
    """Inserts a row (the host assigns id and version 1) and returns it as stored."""
    return record(_calling(_wit().insert, table, dumps(values)))


def update(table, id, expected_version, values):
    """Sets the given columns if the row is still at `expected_version`; the new row."""
    return record(_calling(_wit().update, table, id, expected_version, dumps(values)))


def delete(table, id, expected_version=None):
    """Deletes the row; with `expected_version`, only if it is still current."""
    _calling(_wit().delete, table, id, expected_version)


def aggregate(table, aggregates, group_by=(), filter=None, limit=DEFAULT_PAGE_SIZE):
    """One dict per group, with the group keys and the aggregates by alias.
    `aggregates` are `(function, column or None, alias)` with function `count`, `sum`,
    `avg`, `min` or `max`; `group_by` are column names or `(column, bucket)` with bucket
    `hour` ... `year`."""
    wit = _wit()
    keys = [
        wit.GroupKey(key, None)
        if isinstance(key, str)
        else wit.GroupKey(key[0], getattr(wit.DateBucket, key[1].upper()))
        for key in group_by
    ]
    functions = [
        wit.Aggregation(getattr(wit.AggregateFunction, function.upper()), column, alias)
        for function, column, alias in aggregates
    ]
    query = wit.AggregateQuery(
        table, filter.to_json() if filter else None, keys, functions, limit
    )
    return [json.loads(group) for group in _calling(wit.aggregate, query)]


class Page:
    """One page of a `Select`: `{"items": [...], "next_cursor": ...}`."""

    def __init__(self, items, next_cursor):
        self.items = items
        self.next_cursor = next_cursor

    def to_json(self):
        return {"items": [item.to_json() for item in self.items], "next_cursor": self.next_cursor}


class Select:
    """A paged query: `Select("crm_customers").where(f).sort("-name").page(paging).fetch()`."""

    def __init__(self, table):
        self.table = table
        self.filter = None
        self.order = []
        self.cursor = None
        self.limit = DEFAULT_PAGE_SIZE

    def where(self, filter):
        self.filter = filter
        return self

    def order_by(self, column, descending=False):
        """Adds a sort key (most significant first); `id` is always the final tie-breaker."""
        self.order.append((column, descending))
        return self

    def sort(self, sort):
        """Sorts by a client's `sort` value: `name` ascending, `-name` descending."""
        return self.order_by(sort[1:], True) if sort.startswith("-") else self.order_by(sort)

    def after(self, cursor):
        self.cursor = cursor
        return self

    def take(self, limit):
        self.limit = limit
        return self

    def page(self, paging):
        """`limit` and `cursor` from a request's `Paging`."""
        return self.take(paging.limit).after(paging.cursor)

    def fetch(self):
        """Runs the query. A cursor the store refuses is the client's: 400 `invalid_cursor`."""
        wit = _wit()
        order = [
            wit.OrderBy(column, wit.Direction.DESC if descending else wit.Direction.ASC)
            for column, descending in self.order
        ]
        query = wit.SelectQuery(
            self.table,
            self.filter.to_json() if self.filter else None,
            order,
            self.cursor,
            self.limit,
        )
        try:
            page = _calling(wit.select, query)
        except StoreError as error:
            if error.kind == "invalid" and self.cursor is not None:
                raise Problem.bad_request(
                    "invalid_cursor", "the cursor is not one this API issued"
                ) from None
            raise
        return Page([record(row) for row in page.rows], page.next_cursor)
