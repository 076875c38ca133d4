"""The manifest a module declares and the router that dispatches to it (the Rust SDK's
`manifest.rs` and `router.rs`): one route table is both what `manifest()` answers and what
`handle()` dispatches on, so the two cannot drift.

The host matches a request to a manifest route once (it must, to check the route's
permission) and sends the route's pattern and parameters; the pattern and the method name
exactly one entry of the table, so no path is matched here.

At the root of the module's Python file:

    MANIFEST = Manifest(name="notes", version="1.0.0", slot="notes",
                        routes=[Route.get("/notes/{id}", "notes.read", show)],
                        tables={"read": [], "write": ["notes"]})
    Module = export(MANIFEST)

componentize-py looks for the class `Module` there: it implements the WIT export.
"""

import traceback

from . import log
from .http import Request
from .problem import Problem, dumps
from .store import StoreError


class Route:
    """A method, a pattern under the slot (`{name}` segments are parameters), the permission
    the host checks first, and the handler: a function of a `Request` returning a
    `Response` (or raising a `Problem`)."""

    def __init__(self, method, path, permission, handler):
        self.method = method
        self.path = path
        self.permission = permission
        self.handler = handler

    @classmethod
    def get(cls, path, permission, handler):
        return cls("GET", path, permission, handler)

    @classmethod
    def post(cls, path, permission, handler):
        return cls("POST", path, permission, handler)

    @classmethod
    def put(cls, path, permission, handler):
        return cls("PUT", path, permission, handler)

    @classmethod
    def patch(cls, path, permission, handler):
        return cls("PATCH", path, permission, handler)

    @classmethod
    def delete(cls, path, permission, handler):
        return cls("DELETE", path, permission, handler)

    def to_json(self):
        return {"method": self.method, "path": self.path, "permission": self.permission}


class Manifest:
    """Identity, the route table, the tables (`{"read": [...], "write": [...]}`) and events
    (`{"emit": [...], "subscribe": [...]}`) the module may touch, optional `capabilities`
    and requested `limits`; any other manifest field the host knows goes in `extra`."""

    def __init__(
        self,
        name,
        version,
        slot,
        routes=(),
        tables=None,
        events=None,
        capabilities=(),
        limits=None,
        extra=None,
    ):
        self.name = name
        self.version = version
        self.slot = slot
        self.routes = list(routes)
        self.tables = tables or {"read": [], "write": []}
        self.events = events or {"emit": [], "subscribe": []}
        self.capabilities = list(capabilities)
        self.limits = limits or {}
        self.extra = extra or {}

    def to_json(self):
        manifest = {
            "name": self.name,
            "version": self.version,
            "slot": self.slot,
            "routes": [route.to_json() for route in self.routes],
            "tables": self.tables,
            "events": {"emit": [], "subscribe": [], **self.events},
            "capabilities": self.capabilities,
            **self.extra,
        }
        if self.limits:
            manifest["limits"] = self.limits
        return dumps(manifest)

    def route(self, request):
        """The table's entry for the host's route and the request's method, or None."""
        return next(
            (r for r in self.routes if r.method == request.method and r.path == request.route),
            None,
        )


def dispatch(manifest, request):
    """Runs the handler of the request's route; a `Problem` (or a `StoreError` the handler
    let through) is rendered as problem+json, anything else raised is a logged 500."""
    try:
        route = manifest.route(request)
        if route is None:
            # Only a host that did not route the request gets here.
            raise Problem(404, "not_found", "no such route")
        request.unstorable_parameters()
        return route.handler(request)
    except Problem as problem:
        return problem.to_response()
    except StoreError as error:
        return error.problem().to_response()
    except Exception:
        return Problem.internal(traceback.format_exc()).to_response()


def _to_wit(response):
    from wit_world.exports import module as wit

    body = response.body if isinstance(response.body, bytes) else response.body.encode()
    return wit.Response(response.status, list(response.headers), body)


def export(manifest, on_event=None):
    """The class componentize-py exports as the `module` interface: bind it to the name
    `Module` at the root of the app. `on_event(event)` handles subscribed events (raise to
    have the host retry); without it every delivery is accepted."""
    try:
        from wit_world.exports import Module as Interface
    except ImportError:
        # Outside a component (unit tests import the app): nothing to implement.
        Interface = object

    class Module(Interface):
        def manifest(self):
            return manifest.to_json()

        def handle(self, request):
            return _to_wit(dispatch(manifest, Request.from_wit(request)))

        def on_event(self, event):
            if on_event is None:
                return None
            from componentize_py_types import Err

            try:
                on_event(event)
            except Exception as error:
                log.warn(f"event {event.id} not handled: {error!r}")
                raise Err(str(error)) from None
            return None

    return Module
