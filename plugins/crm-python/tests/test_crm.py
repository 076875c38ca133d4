"""Unit tests of the Python CRM's pure parts, the twins of the Rust CRM's: run in
`plugins/crm-python` with `PYTHONPATH=../sdk-python python3 -m unittest discover -s tests`."""

import json
import unittest

from crm import customers, locations
from crm.address import joined
from crm.geo import bounding_box, distance_km
from verofield_sdk import Problem, Request

PARIS = (48.8566, 2.3522)
LONDON = (51.5074, -0.1278)


def post(body):
    return Request("POST", headers=[("content-type", "application/json")], body=body.encode())


def invalid_fields(parse, body, *args):
    try:
        parse(post(body), *args)
    except Problem as problem:
        return [error.field for error in problem.errors]
    return []


class CustomerTests(unittest.TestCase):
    def test_normalizes_before_storing(self):
        body = customers.customer_fields(
            post('{"name": " Ann ", "email": " ", "tags": ["vip", " vip", "gold"]}'), True
        )
        self.assertEqual(body, {"name": "Ann", "email": None, "tags": ["vip", "gold"]})

    def test_validates_every_field(self):
        fields = lambda body, creating: invalid_fields(customers.customer_fields, body, creating)
        self.assertEqual(fields('{"name": "Ann", "kind": "commercial"}', True), [])
        self.assertEqual(fields("{}", True), ["name"])
        self.assertEqual(fields("{}", False), [])
        self.assertEqual(
            fields('{"name": "", "email": "x", "phone": "abc", "tags": [""]}', False),
            ["name", "email", "phone", "tags"],
        )
        self.assertEqual(fields('{"status": null}', False), ["status"])
        self.assertEqual(fields('{"kind": "alien"}', False), ["kind"])
        self.assertEqual(fields('{"balance_minor": 5}', False), ["balance_minor"])
        self.assertEqual(fields('{"nickname": "x"}', False), ["nickname"])
        self.assertEqual(fields('{"billing_address": {"zip": "1"}}', False), ["billing_address.zip"])


class LocationTests(unittest.TestCase):
    def test_sets_address_text_and_refuses_half_a_position(self):
        body = locations.location_fields(
            post('{"label": "Home", "address": {"line1": "1 Main St", "city": "Springfield"}, '
                 '"latitude": 39.8, "longitude": -89.6, "property": {"gate_code": "1234"}}')
        )
        self.assertEqual(body["address_text"], "1 Main St, Springfield")
        fields = lambda body: invalid_fields(locations.location_fields, body)
        self.assertEqual(fields('{"latitude": 10}'), ["longitude"])
        self.assertEqual(fields('{"latitude": 91, "longitude": 0}'), ["latitude"])
        self.assertEqual(fields('{"address_text": "x"}'), ["address_text"])
        self.assertEqual(fields('{"property": null}'), ["property"])
        self.assertEqual(fields('{"latitude": null, "longitude": null}'), [])

    def test_parses_near_and_splits_the_box_at_the_antimeridian(self):
        self.assertEqual(locations.parse_point("48.85, 2.35"), (48.85, 2.35))
        for bad in ("48.85", "x,2", "91,0", "0,181"):
            self.assertIsNone(locations.parse_point(bad), bad)
        rendered = json.loads(locations.box_filter((-18.0, -17.0), [(179.5, 180.0), (-180.0, -179.5)]).to_json())
        self.assertEqual(len(rendered["and"][2]["or"]), 2)


class GeoTests(unittest.TestCase):
    def test_haversine_and_boxes(self):
        self.assertLess(abs(distance_km(PARIS, LONDON) - 343.5), 1.0)
        (south, north), longitude = bounding_box(PARIS, 400.0)
        self.assertTrue(south < LONDON[0] < north and longitude[0][0] < LONDON[1] < longitude[0][1])
        self.assertEqual(len(bounding_box((-17.7, 179.9), 50.0)[1]), 2)
        (_, north), open_longitude = bounding_box((89.9, 0.0), 50.0)
        self.assertEqual((north, open_longitude), (90.0, []))

    def test_joins_the_non_blank_parts(self):
        self.assertEqual(joined({"line1": " 1 Main St ", "line2": "", "city": "Springfield"}), "1 Main St, Springfield")


if __name__ == "__main__":
    unittest.main()
