"""Contacts: the people to talk to at a customer (name, e-mail, phone, role, whether
primary)."""

from verofield_sdk import Filter, Response, Select, Validator, etag, fields, store, trim

from . import CONTACT, CONTACTS, CUSTOMER, email_or_null, normalize, public_path, trim_or_null

# Set by the module from the route, never by the client.
READ_ONLY = ("customer_id",)

SCHEMA = {
    "name": fields.TEXT,
    "email": fields.TEXT,
    "phone": fields.TEXT,
    "role": fields.TEXT,
    "is_primary": fields.BOOLEAN,
}


def contact_fields(request, creating):
    body = fields.parse(SCHEMA, request.json(READ_ONLY))
    normalize(body, "name", trim)
    normalize(body, "role", trim)
    normalize(body, "email", email_or_null)
    normalize(body, "phone", trim_or_null)
    check = Validator()
    check.required(body, "name", creating)
    check.required(body, "role", False)
    check.required(body, "is_primary", False)
    check.length("name", body.get("name"), 1, 200)
    check.length("role", body.get("role"), 0, 100)
    check.email("email", body.get("email"))
    check.phone("phone", body.get("phone"))
    check.finish()
    return body


def create(request):
    """`POST /customers/{id}/contacts`"""
    customer = CUSTOMER.existing(request.id_param("id"))
    body = contact_fields(request, True)
    body["customer_id"] = customer.id
    contact = store.insert(CONTACTS, body)
    return Response.created(public_path(f"/contacts/{contact.id}"), contact)


def list_for_customer(request):
    """`GET /customers/{id}/contacts`"""
    customer = CUSTOMER.existing(request.id_param("id"))
    query = Select(CONTACTS).where(Filter.eq("customer_id", customer.id))
    return Response.json(200, query.page(request.paging()).fetch().to_json())


def show(request):
    """`GET /contacts/{id}`"""
    return Response.record(200, CONTACT.existing(request.id_param("id")))


def update(request):
    """`PATCH /contacts/{id}`"""
    id = request.id_param("id")
    body = contact_fields(request, False)
    return Response.record(200, etag.update(request, CONTACTS, id, "contact", body))


def delete(request):
    """`DELETE /contacts/{id}`"""
    id = request.id_param("id")
    etag.delete(request, CONTACTS, id, "contact")
    return Response.no_content()
