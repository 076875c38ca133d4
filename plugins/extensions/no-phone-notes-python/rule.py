"""The rule of the sample extension, plain Python (unit-tested outside any component): a
job's notes must not carry a phone number. Notes are read by every technician sent to the
job; a customer's number belongs on the customer's record, where the CRM keeps it and who
may read it is checked. A phone number here is seven or more digits, possibly grouped by
spaces, dots, dashes or parentheses, possibly after a `+`: `(512) 555-0199`,
`+1 512.555.0199`, `5125550199`. Shorter digit runs (a gate code, `3 dogs`) pass.
"""

import re

# A digit, then six or more digits or separators, ending on a digit: a run of at least seven
# digits counted below (so that `10 - 12` is not a phone number).
_CANDIDATE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
_MIN_DIGITS = 7
_MAX_DIGITS = 15  # E.164

MESSAGE = "notes must not carry a phone number: keep it on the customer's record"


def phone_numbers(text):
    """The phone numbers found in `text`, as written."""
    found = []
    for match in _CANDIDATE.finditer(text):
        digits = sum(c.isdigit() for c in match.group())
        if _MIN_DIGITS <= digits <= _MAX_DIGITS:
            found.append(match.group().strip())
    return found


def validate(job):
    """The `jobs.validate` answer for one job: an error on `notes` if they hold a number."""
    notes = job.get("notes")
    if isinstance(notes, str) and phone_numbers(notes):
        return {"errors": [{"field": "notes", "message": MESSAGE}]}
    return {"errors": []}
