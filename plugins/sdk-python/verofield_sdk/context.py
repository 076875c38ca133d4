"""Who is calling, for which tenant, and the host's clock: the `context` import as is
(`tenant_id()`, `tenant_time_zone()`, `caller()`, `request_id()`, `now()`)."""


def _wit():
    from wit_world.imports import context

    return context


def tenant_id():
    return _wit().tenant_id()


def tenant_time_zone():
    return _wit().tenant_time_zone()


def caller():
    """The principal: `user_id`, `roles`, `permissions`."""
    return _wit().caller()


def request_id():
    return _wit().request_id()


def now():
    """`rfc3339` and `unix_ms`, constant during one call."""
    return _wit().now()
