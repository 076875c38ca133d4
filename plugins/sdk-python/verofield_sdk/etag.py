"""ETags and `If-Match`, the host's optimistic concurrency for module rows (the Rust SDK's
`etag.rs`): the ETag is the row version in quotes (`"3"`); a writer that read version 3
sends `If-Match: "3"`, and if the row moved on the write answers 412 `precondition_failed`.

`update` and `delete` do the whole conditional write: read the row (404 if missing), check
`If-Match` (412), write at the version read (a concurrent change in between is 412 when the
client asked for a condition, 409 otherwise)."""

from . import store
from .problem import Problem
from .store import StoreError


def etag(version):
    return f'"{version}"'


def check_if_match(request, version):
    """Passes when the request has no `If-Match`, or when it names `version` (or `*`)."""
    value = request.header("if-match")
    if value is None:
        return
    expected = etag(version)
    tags = [tag.strip() for tag in value.split(",")]
    if not any(tag in ("*", expected) or tag == "W/" + expected for tag in tags):
        raise Problem.precondition_failed()


def write_problem(request, error, what):
    """The problem for a failed conditional write."""
    if error.kind == "not-found":
        return Problem.not_found(what)
    if error.kind == "conflict" and request.header("if-match") is not None:
        return Problem.precondition_failed()
    return error.problem()


def existing(table, id, what):
    """The row, or 404 naming `what` (`"customer"`)."""
    row = store.get(table, id)
    if row is None:
        raise Problem.not_found(what)
    return row


def update(request, table, id, what, values):
    """Updates the row honouring `If-Match`; returns the new row."""
    current = existing(table, id, what)
    check_if_match(request, current.version)
    try:
        return store.update(table, id, current.version, values)
    except StoreError as error:
        raise write_problem(request, error, what) from None


def delete(request, table, id, what):
    """Deletes the row honouring `If-Match`; returns the row as it was."""
    current = existing(table, id, what)
    check_if_match(request, current.version)
    try:
        store.delete(table, id, current.version)
    except StoreError as error:
        raise write_problem(request, error, what) from None
    return current


class Resource:
    """A store table paired with the noun its 404 names: `CUSTOMER.existing(id)`."""

    def __init__(self, table, what):
        self.table = table
        self.what = what

    def existing(self, id):
        return existing(self.table, id, self.what)
