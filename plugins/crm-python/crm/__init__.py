"""The CRM's tables, permissions and shared helpers; each resource lives in its own module
(customers, locations, contacts), as in the Rust `plugins/crm/src`."""

from verofield_sdk import Resource

READ = "crm.customers.read"
WRITE = "crm.customers.write"

CUSTOMERS = "crm_customers"
LOCATIONS = "crm_locations"
CONTACTS = "crm_contacts"

# The tables read by id, with the noun their 404 names.
CUSTOMER = Resource(CUSTOMERS, "customer")
LOCATION = Resource(LOCATIONS, "location")
CONTACT = Resource(CONTACTS, "contact")


def public_path(path):
    """The public path of a resource, for `Location` headers."""
    return f"/v1/crm{path}"


def normalize(body, field, rewrite):
    """Rewrites a present, non-null value in place; `rewrite` answering None makes it null."""
    value = body.get(field)
    if value is not None:
        body[field] = rewrite(value)


def trim_or_null(text):
    """An optional text such as a phone number: trimmed, and blank is null."""
    from verofield_sdk import trim

    return trim(text) or None


def email_or_null(text):
    """An optional e-mail address: trimmed and lower-cased, and blank is null."""
    from verofield_sdk import trim

    return trim(text).lower() or None
