"""Customers: create, search and list, read (with ETag), update (honouring `If-Match`),
delete (their locations and contacts go with them, by foreign key). Every change emits a
`customer.*` event with the customer's id, version and contact fields, in the same
transaction."""

from verofield_sdk import Filter, Problem, Response, Select, Validator, etag, events, fields
from verofield_sdk import is_rfc3339, store, trim

from . import CUSTOMER, CUSTOMERS, email_or_null, normalize, public_path, trim_or_null
from .address import ADDRESS, stored
from .address import validate as validate_address

CREATED = "customer.created"
UPDATED = "customer.updated"
DELETED = "customer.deleted"

# Balance columns are kept by billing, never set through the CRM.
READ_ONLY = ("balance_minor", "currency")

STATUSES = ("active", "inactive", "lead")
SORTS = ("name", "-name", "created_at", "-created_at")
MAX_TAGS = 50

# The writable columns; absent ones keep their value (or the column default on create).
SCHEMA = {
    "kind": fields.one_of("residential", "commercial"),
    "name": fields.TEXT,
    "email": fields.TEXT,
    "phone": fields.TEXT,
    "status": fields.one_of("active", "inactive", "lead"),
    "tags": fields.list_of(fields.TEXT),
    "notes": fields.TEXT,
    "billing_address": ADDRESS,
}


def _unique(tags):
    unique = []
    for tag in (trim(tag) for tag in tags):
        if tag not in unique:
            unique.append(tag)
    return unique


def customer_fields(request, creating):
    """The body, normalized (trimmed; blank e-mail or phone is none; tags de-duplicated) and
    validated."""
    body = fields.parse(SCHEMA, request.json(READ_ONLY))
    normalize(body, "name", trim)
    normalize(body, "email", email_or_null)
    normalize(body, "phone", trim_or_null)
    normalize(body, "tags", _unique)
    normalize(body, "billing_address", stored)
    check = Validator()
    check.required(body, "name", creating)
    for field in ("kind", "status", "tags", "notes"):
        check.required(body, field, False)
    check.length("name", body.get("name"), 1, 200)
    check.email("email", body.get("email"))
    check.phone("phone", body.get("phone"))
    check.length("notes", body.get("notes"), 0, 10_000)
    tags = body.get("tags")
    if tags is not None:
        check.check(len(tags) <= MAX_TAGS, "tags", f"may hold at most {MAX_TAGS} tags")
        for tag in tags:
            check.length("tags", tag, 1, 50)
    if body.get("billing_address") is not None:
        validate_address(body["billing_address"], "billing_address", check)
    check.finish()
    return body


def emit(event_type, customer):
    """What every `customer.*` event carries: the customer as stored after the change (as it
    was before, for `customer.deleted`), except its free-text notes."""
    v = customer.values
    payload = {"customer_id": customer.id, "id": customer.id, "version": customer.version}
    for column in (
        "name",
        "kind",
        "status",
        "email",
        "phone",
        "tags",
        "billing_address",
        "custom",
        "currency",
        "created_at",
        "updated_at",
    ):
        payload[column] = v.get(column)
    events.emit(event_type, payload)


def create(request):
    """`POST /customers`"""
    body = customer_fields(request, True)
    customer = store.insert(CUSTOMERS, body)
    emit(CREATED, customer)
    return Response.created(public_path(f"/customers/{customer.id}"), customer)


def list_customers(request):
    """`GET /customers?q=&status=&tag=&created_after=&created_before=&sort=&limit=&cursor=`"""
    paging = request.paging()
    query = Select(CUSTOMERS).where(Filter.all(list_filters(request)))
    page = query.sort(sort(request)).page(paging).fetch()
    return Response.json(200, page.to_json())


def list_filters(request):
    """The filters the list's query parameters ask for (all of them must hold)."""
    filters = []
    q = trim(request.query("q") or "")
    if q:
        filters.append(Filter.any(Filter.contains(column, q) for column in ("name", "email", "phone")))
    status = request.query_one_of("status", STATUSES)
    if status is not None:
        filters.append(Filter.eq("status", status))
    # Repeated `tag`s narrow: the customer has every one of them.
    filters.extend(Filter.eq("tags", tag) for tag in request.query_all("tag"))
    # RFC 3339, checked here so that a typo is a 400 naming the parameter.
    timestamp = "an RFC 3339 timestamp"
    after = request.query_matching("created_after", is_rfc3339, timestamp)
    if after is not None:
        filters.append(Filter.gt("created_at", after))
    before = request.query_matching("created_before", is_rfc3339, timestamp)
    if before is not None:
        filters.append(Filter.lt("created_at", before))
    return filters


def sort(request):
    value = request.query("sort")
    if value is None:
        return "created_at"
    if value not in SORTS:
        raise Problem.invalid_query("sort", "name, -name, created_at or -created_at")
    return value


def show(request):
    """`GET /customers/{id}`"""
    return Response.record(200, CUSTOMER.existing(request.id_param("id")))


def update(request):
    """`PATCH /customers/{id}`"""
    id = request.id_param("id")
    body = customer_fields(request, False)
    customer = etag.update(request, CUSTOMERS, id, "customer", body)
    emit(UPDATED, customer)
    return Response.record(200, customer)


def delete(request):
    """`DELETE /customers/{id}`"""
    id = request.id_param("id")
    customer = etag.delete(request, CUSTOMERS, id, "customer")
    emit(DELETED, customer)
    return Response.no_content()
