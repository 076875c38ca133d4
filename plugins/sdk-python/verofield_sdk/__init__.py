"""verofield_sdk: write a VeroField domain module in Python.

A domain module is a WebAssembly component of the world `verofield:platform/domain-module`
(`wit/platform.wit`), built from a Python file with componentize-py. This package mirrors
the Rust SDK (`plugins/sdk`): a route table that is both the manifest and the dispatcher,
`Request`/`Response`, `Problem` rendered as the host's problem+json, typed bodies
(`fields`), validation, the store with its filter grammar, ETags, events, log and context.

    from verofield_sdk import Manifest, Problem, Response, Route, export, etag

    def show(request):
        note = etag.existing("notes", request.id_param("id"), "note")
        return Response.record(200, note)

    Module = export(Manifest(name="notes", version="1.0.0", slot="notes",
                             routes=[Route.get("/notes/{id}", "notes.read", show)],
                             tables={"read": [], "write": ["notes"]}))

Everything except the wrappers over host imports (`store`, `events`, `log`, `context`,
`outbound`)
is plain Python, unit-tested with `python3 -m unittest` outside any component.
"""

from . import context, etag, events, fields, log, outbound, store
from .etag import Resource
from .http import Paging, Request, Response, is_uuid
from .module import Manifest, Route, dispatch, export
from .problem import FieldError, Problem
from .store import Filter, Record, Select, StoreError
from .validate import ABSENT, Validator, is_rfc3339, trim

__all__ = [
    "ABSENT",
    "FieldError",
    "Filter",
    "Manifest",
    "Paging",
    "Problem",
    "Record",
    "Request",
    "Resource",
    "Response",
    "Route",
    "Select",
    "StoreError",
    "Validator",
    "context",
    "dispatch",
    "etag",
    "events",
    "export",
    "fields",
    "is_rfc3339",
    "is_uuid",
    "log",
    "outbound",
    "store",
    "trim",
]
