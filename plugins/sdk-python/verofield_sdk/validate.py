"""Field validation that reports every invalid field at once, as one 422
`validation_failed` problem (the Rust SDK's `validate.rs`, message for message):

    check = Validator()
    check.required(body, "name", creating)
    check.length("name", body.get("name"), 1, 200)
    check.email("email", body.get("email"))
    check.finish()

Text rules count characters as Rust does (Unicode scalar values) and trim what Rust's
`str::trim` trims, so a Python module answers exactly as a Rust one.
"""

import re

from .problem import FieldError, Problem

# Rust's `char::is_whitespace` (the Unicode White_Space property); Python's `str.strip`
# also strips the separators U+001C..U+001F, which Rust keeps.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# What a field holding text PostgreSQL cannot store is told.
UNSTORABLE = "may not contain the NUL character"

ABSENT = object()
"""What `body.get(name, ABSENT)` gives for a field that is not in the body."""


def trim(text):
    """`text` without leading and trailing whitespace, as Rust's `str::trim`."""
    return text.strip(WHITESPACE)


def has_whitespace(text):
    return any(c in WHITESPACE for c in text)


def number_text(value):
    """A number as Rust's `Display` for f64 writes it in messages: `-90`, `0.5`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


class Validator:
    def __init__(self):
        self.errors = []

    def check(self, ok, field, message):
        """Records `message` for `field` unless `ok`."""
        if not ok:
            self.errors.append(FieldError(field, message))
        return self

    def required(self, body, field, creating):
        """A column that may not be null: never `null`, and present when `creating`."""
        value = body.get(field, ABSENT)
        if value is ABSENT:
            return self.check(not creating, field, "is required")
        return self.check(value is not None, field, "may not be null")

    def length(self, field, value, low, high):
        """Text whose length in characters is within `low..=high` (nothing to check when
        absent or null)."""
        if not isinstance(value, str):
            return self
        message = (
            f"must be {low} to {high} characters" if low > 0 else f"must be at most {high} characters"
        )
        return self.check(low <= len(value) <= high, field, message)

    def email(self, field, value):
        """A plausible e-mail address: one `@` with text on both sides and a dot in the domain."""
        if not isinstance(value, str):
            return self
        local, at, domain = value.partition("@")
        plausible = (
            len(value.encode()) <= 254
            and not has_whitespace(value)
            and at == "@"
            and local != ""
            and "@" not in domain
            and "." in domain
            and not domain.startswith(".")
            and not domain.endswith(".")
        )
        return self.check(plausible, field, "must be an e-mail address")

    def phone(self, field, value):
        """Digits with optional `+`, spaces, dashes, dots and parentheses, 5 to 20 digits."""
        if not isinstance(value, str):
            return self
        digits = sum(1 for c in value if "0" <= c <= "9")
        plausible = (
            len(value.encode()) <= 32
            and 5 <= digits <= 20
            and all(("0" <= c <= "9") or c in " +-.()" for c in value)
        )
        return self.check(plausible, field, "must be a phone number")

    def within(self, field, value, low, high):
        """A number within `low..=high` (nothing to check when absent or null)."""
        if not is_number(value):
            return self
        message = f"must be between {number_text(low)} and {number_text(high)}"
        return self.check(low <= value <= high, field, message)

    def finish(self):
        """Raises the 422 problem naming every recorded field, if any."""
        if self.errors:
            raise Problem.validation(self.errors)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_storable(text):
    """Whether PostgreSQL can store `text` (a NUL character it cannot)."""
    return "\0" not in text


def unstorable_fields(value, path=""):
    """The fields of a JSON document holding text PostgreSQL cannot store, by their path
    (`name`, `address.city`, `tags[2]`); keys are visited in sorted order, as Rust does."""
    found = []
    _collect_unstorable(value, path, found)
    return found


def _collect_unstorable(value, path, found):
    if isinstance(value, str):
        if not is_storable(value):
            found.append(FieldError(path or "body", UNSTORABLE))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect_unstorable(item, f"{path}[{i}]", found)
    elif isinstance(value, dict):
        for key in sorted(value):
            key_text = key.replace("\0", "\ufffd")
            child = f"{path}.{key_text}" if path else key_text
            if not is_storable(key):
                found.append(FieldError(child, UNSTORABLE))
            _collect_unstorable(value[key], child, found)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))",
    re.ASCII,
)


def is_rfc3339(text):
    """Whether `text` is an RFC 3339 timestamp (`2026-11-27T21:45:00Z`, optional fraction
    and offset), the format the store compares timestamp columns with."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return False
    month, day, hour, minute, second = (int(match.group(i)) for i in range(2, 7))
    in_range = 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61
    if match.group(9) is not None:
        in_range = in_range and int(match.group(9)) < 24 and int(match.group(10)) < 60
    return in_range
