"""Emitting domain events into the host's transactional outbox: the event is delivered only
if the call's transaction commits, so emit right after the write it describes."""

from .problem import Problem, dumps


def emit(event_type, payload):
    """Emits an event of a type the manifest declares, with a JSON object payload. Failing to
    emit fails the request (the data and its event commit together or not at all)."""
    from componentize_py_types import Err
    from wit_world.imports import events as wit

    try:
        wit.emit(event_type, dumps(payload))
    except Err as error:
        raise event_problem(type(error.value).__name__, getattr(error.value, "value", "")) from None


def event_problem(variant, detail):
    """The problem for an `event-error` variant (`EventError_Unavailable`, ...)."""
    if variant.endswith("Unavailable"):
        return Problem(503, "events_unavailable", "the event outbox did not answer; retry later")
    if variant.endswith("NotGranted"):
        return Problem.internal(f"event type not declared: {detail}")
    return Problem.internal(f"event refused: {detail}")
