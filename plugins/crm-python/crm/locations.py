"""Service locations: the places a customer is served at, with an address (also stored as
one searchable line, `address_text`), coordinates, access notes and free-form property
details. `GET /locations?near=lat,lon&radius_km=R` finds locations by distance."""

import math

from verofield_sdk import Filter, Problem, Response, Select, Validator, etag, fields, store, trim
from verofield_sdk.http import parse_float, parse_unsigned
from verofield_sdk.validate import ABSENT, is_number

from . import CUSTOMER, LOCATION, LOCATIONS, normalize, public_path
from .address import ADDRESS, joined, stored
from .address import validate as validate_address
from .geo import bounding_box, distance_km

# Set by the module from the route and the address, never by the client.
READ_ONLY = ("customer_id", "address_text")

DEFAULT_RADIUS_KM = 10.0
MAX_RADIUS_KM = 500.0
# Rows read per store page, and the most read for one "near" search (the exact distance is
# computed here, so every row in the box is read).
SCAN_PAGE = 200
MAX_CANDIDATES = 5_000
# A cursor is an offset; Rust reads it as a `usize`.
MAX_OFFSET = (1 << 64) - 1

SCHEMA = {
    "label": fields.TEXT,
    "address": ADDRESS,
    "latitude": fields.NUMBER,
    "longitude": fields.NUMBER,
    "access_notes": fields.TEXT,
    "property": fields.MAP,
}


def location_fields(request):
    body = fields.parse(SCHEMA, request.json(READ_ONLY))
    normalize(body, "label", trim)
    normalize(body, "address", stored)
    check = Validator()
    for field in ("label", "address", "access_notes", "property"):
        check.required(body, field, False)
    check.length("label", body.get("label"), 0, 200)
    check.length("access_notes", body.get("access_notes"), 0, 2_000)
    check.within("latitude", body.get("latitude"), -90.0, 90.0)
    check.within("longitude", body.get("longitude"), -180.0, 180.0)
    # A position is both coordinates or neither: set, clear or leave them together.
    check.check(
        _state(body, "latitude") == _state(body, "longitude"),
        "longitude",
        "must be given (or cleared) together with latitude",
    )
    if body.get("address") is not None:
        validate_address(body["address"], "address", check)
    check.finish()
    if body.get("address") is not None:
        body["address_text"] = joined(body["address"])
    return body


def _state(body, field):
    """Absent, null or a value: what "together" compares."""
    value = body.get(field, ABSENT)
    return "absent" if value is ABSENT else "null" if value is None else "value"


def create(request):
    """`POST /customers/{id}/locations`"""
    customer = CUSTOMER.existing(request.id_param("id"))
    body = location_fields(request)
    body["customer_id"] = customer.id
    location = store.insert(LOCATIONS, body)
    return Response.created(public_path(f"/locations/{location.id}"), location)


def list_for_customer(request):
    """`GET /customers/{id}/locations`"""
    customer = CUSTOMER.existing(request.id_param("id"))
    query = Select(LOCATIONS).where(Filter.eq("customer_id", customer.id))
    return Response.json(200, query.page(request.paging()).fetch().to_json())


def list_locations(request):
    """`GET /locations`, or with `near=lat,lon` (and `radius_km`, default 10) the locations
    within the radius, nearest first, each with its `distance_km`."""
    paging = request.paging()
    near = request.query("near")
    if near is None:
        return Response.json(200, Select(LOCATIONS).page(paging).fetch().to_json())
    centre = parse_point(near)
    if centre is None:
        raise Problem.invalid_query("near", "`latitude,longitude` in degrees")
    radius_km = request.query_float("radius_km", "a number of km")
    if radius_km is None:
        radius_km = DEFAULT_RADIUS_KM
    if not (radius_km > 0.0 and radius_km <= MAX_RADIUS_KM):
        raise Problem.invalid_query("radius_km", "more than 0 and at most 500")
    # The cursor of a "near" search is the offset of the next item in distance order.
    offset = 0
    if paging.cursor is not None:
        offset = parse_unsigned(paging.cursor)
        if offset is None:
            raise invalid_cursor()
    nearby = within(centre, radius_km)
    limit = paging.limit
    following = offset + limit
    if following > MAX_OFFSET:
        raise invalid_cursor()
    next_cursor = str(following) if len(nearby) > following else None
    items = [location.to_json() for location in nearby[offset : offset + limit]]
    return Response.json(200, {"items": items, "next_cursor": next_cursor})


def invalid_cursor():
    return Problem.bad_request("invalid_cursor", "the cursor is not one this API issued")


def within(centre, radius_km):
    """Every location within `radius_km` of `centre`, nearest first (ties by id), each with
    `distance_km` (rounded to metres)."""
    box = box_filter(*bounding_box(centre, radius_km))
    candidates = []
    cursor = None
    while True:
        page = Select(LOCATIONS).where(box).take(SCAN_PAGE).after(cursor).fetch()
        candidates.extend(page.items)
        if len(candidates) > MAX_CANDIDATES:
            raise Problem.bad_request(
                "radius_too_large",
                f"more than {MAX_CANDIDATES} locations to compare; use a smaller radius",
            )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    nearby = []
    for location in candidates:
        point = position(location.values)
        if point is None:
            continue
        distance = distance_km(centre, point)
        # Rust's `f64::round` rounds half away from zero.
        location.values["distance_km"] = math.floor(distance * 1000.0 + 0.5) / 1000.0
        if distance <= radius_km:
            nearby.append((distance, location))
    nearby.sort(key=lambda pair: (pair[0], pair[1].id))
    return [location for _, location in nearby]


def box_filter(latitude, longitude):
    filters = [Filter.ge("latitude", latitude[0]), Filter.le("latitude", latitude[1])]
    if not longitude:
        filters.append(Filter.is_null("longitude", False))
    else:
        filters.append(
            Filter.any(
                Filter.all([Filter.ge("longitude", west), Filter.le("longitude", east)])
                for west, east in longitude
            )
        )
    return Filter.all(filters)


def position(values):
    latitude, longitude = values.get("latitude"), values.get("longitude")
    if not (is_number(latitude) and is_number(longitude)):
        return None
    return (float(latitude), float(longitude))


def parse_point(text):
    latitude, comma, longitude = text.partition(",")
    if not comma:
        return None
    point = (parse_float(trim(latitude)), parse_float(trim(longitude)))
    if point[0] is None or point[1] is None:
        return None
    if -90.0 <= point[0] <= 90.0 and -180.0 <= point[1] <= 180.0:
        return point
    return None


def show(request):
    """`GET /locations/{id}`"""
    return Response.record(200, LOCATION.existing(request.id_param("id")))


def update(request):
    """`PATCH /locations/{id}`"""
    id = request.id_param("id")
    body = location_fields(request)
    return Response.record(200, etag.update(request, LOCATIONS, id, "location", body))


def delete(request):
    """`DELETE /locations/{id}`"""
    id = request.id_param("id")
    etag.delete(request, LOCATIONS, id, "location")
    return Response.no_content()
