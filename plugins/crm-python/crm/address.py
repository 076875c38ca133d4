"""Postal addresses: a customer's billing address and a location's address, stored as JSON
objects. A location also stores the address joined into one line (`address_text`), which
is what text search runs on."""

from verofield_sdk import fields, trim

PARTS = ("line1", "line2", "city", "region", "postal_code", "country")

ADDRESS = fields.struct("Address", {part: fields.TEXT for part in PARTS})


def stored(address):
    """The address as Rust stores it: the parts given (null parts left out)."""
    return {part: address[part] for part in PARTS if address.get(part) is not None}


def validate(address, field, check):
    """Checks each part's length, naming the field as `{field}.{part}`."""
    for part in PARTS:
        check.length(f"{field}.{part}", address.get(part), 0, 200)


def joined(address):
    """The non-blank parts, trimmed, joined with ", "."""
    parts = (trim(address[part]) for part in PARTS if address.get(part) is not None)
    return ", ".join(part for part in parts if part)
