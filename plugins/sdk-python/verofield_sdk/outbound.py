"""Outbound HTTP through the host (WIT `http`), for modules whose manifest declares
`capabilities=["http"]` and the hosts in `extra={"outbound": {"hosts": [...]}}`. The host
sends through its hardened client: https only, listed hosts only, private and cloud-metadata
addresses always refused, no redirects, at most 20 requests per call within its deadline, 64 KiB
of an answer read. A failure raises the `Problem` a client should see."""

from .problem import Problem


def get(url, headers=()):
    """`GET url`; the answer as `(status, headers, body bytes)`."""
    return send("GET", url, headers)


def send(method, url, headers=(), body=b""):
    """Any request (`method` upper case, headers as name/value pairs); the answer as
    `(status, headers, body bytes)`, whatever the status."""
    from componentize_py_types import Err
    from wit_world.imports import http as wit

    try:
        answer = wit.send(wit.Request(method, url, list(headers), bytes(body)))
    except Err as error:
        raise outbound_problem(type(error.value).__name__, getattr(error.value, "value", "")) from None
    return answer.status, list(answer.headers), bytes(answer.body)


def outbound_problem(variant, detail):
    """The problem for an `http-error` variant (`HttpError_Timeout`, ...): the remote's
    trouble is the client's 502 or 504; a refused host or request is the module's bug (500)."""
    if variant.endswith("Timeout"):
        return Problem(504, "upstream_timeout", "the remote service did not answer in time")
    if variant.endswith("TooLarge"):
        return Problem(502, "upstream_bad_answer", "the remote service answered more than the host reads")
    if variant.endswith("Failed"):
        return Problem(502, "upstream_unavailable", detail or "the remote service could not be reached")
    return Problem.internal(f"outbound: {detail}")
