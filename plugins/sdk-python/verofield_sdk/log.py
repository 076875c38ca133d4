"""Structured logging into the host's log, tagged by the host with tenant, module and
request id. Never `print`: a module's stdout is a trapping stub (`--stub-wasi`)."""


def write(level, message):
    from wit_world.imports import log as wit

    wit.write(getattr(wit.Level, level.upper()), message)


def trace(message):
    write("trace", message)


def debug(message):
    write("debug", message)


def info(message):
    write("info", message)


def warn(message):
    write("warn", message)


def error(message):
    try:
        write("error", message)
    except ImportError:
        # Outside a component (unit tests) there is no host log to write to.
        pass
