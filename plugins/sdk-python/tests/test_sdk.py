"""Unit tests of the Python SDK's pure parts (no component, no host): run in
`plugins/sdk-python` with `python3 -m unittest discover -s tests`."""

import json
import unittest

from verofield_sdk import (
    FieldError,
    Filter,
    Manifest,
    Problem,
    Request,
    Response,
    Route,
    StoreError,
    Validator,
    dispatch,
    etag,
    fields,
    is_rfc3339,
    outbound,
    trim,
)


def post(body, content_type="application/json"):
    return Request("POST", headers=[("content-type", content_type)], body=body.encode())


def refusal(call):
    try:
        call()
    except Problem as problem:
        return problem
    raise AssertionError("no problem raised")


class ProblemTests(unittest.TestCase):
    def test_renders_the_hosts_shape(self):
        response = Problem.not_found("customer").to_response()
        self.assertEqual(response.status, 404)
        self.assertEqual(response.header("content-type"), "application/problem+json")
        self.assertEqual(
            response.json_body(),
            {
                "type": "/problems/not_found",
                "title": "Not Found",
                "status": 404,
                "detail": "no customer with this id",
                "code": "not_found",
            },
        )

    def test_validation_lists_fields_and_members_never_override(self):
        problem = Problem.validation([FieldError("name", "is required")])
        problem.with_member("code", "overridden").with_member("hint", 1)
        body = problem.to_response().json_body()
        self.assertEqual(body["errors"], [{"field": "name", "message": "is required"}])
        self.assertEqual((body["code"], body["hint"], body["status"]), ("validation_failed", 1, 422))


class RequestTests(unittest.TestCase):
    def test_body_errors_name_the_field(self):
        self.assertEqual(refusal(lambda: post("{").json()).code, "malformed_json")
        self.assertEqual(refusal(lambda: post('{"a": NaN}').json()).code, "malformed_json")
        self.assertEqual(refusal(lambda: post('{"a": 1e400}').json()).code, "malformed_json")
        self.assertEqual(refusal(lambda: post('{"a": "\\ud800"}').json()).code, "malformed_json")
        self.assertEqual(refusal(lambda: post("[]").json()).errors, [FieldError("body", "expected a JSON object")])
        self.assertEqual(refusal(lambda: post("{}", "text/plain").json()).status, 415)
        self.assertEqual(
            refusal(lambda: post('{"version": 3, "id": 1, "balance": 2}').json(["balance"])).errors,
            [FieldError(f, "is read-only") for f in ("balance", "id", "version")],
        )
        self.assertEqual(
            refusal(lambda: post('{"name": "a\\u0000", "tags": ["x\\u0000"]}').json()).errors,
            [FieldError("name", "may not contain the NUL character"), FieldError("tags[0]", "may not contain the NUL character")],
        )
        self.assertEqual(post('{"a": 1}', "application/merge-patch+json; charset=utf-8").json(), {"a": 1})

    def test_checked_parameters(self):
        request = Request(
            query=[("limit", "+5"), ("status", "shut"), ("id", "7")],
            params=[("id", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), ("bad", "7")],
        )
        self.assertEqual(request.paging().limit, 5)
        self.assertEqual(request.id_param("id"), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        self.assertEqual(refusal(lambda: request.id_param("bad")).detail, "`bad` must be a UUID")
        self.assertEqual(
            refusal(lambda: request.query_one_of("status", ("open", "closed", "canceled"))).detail,
            "`status` must be open, closed or canceled",
        )
        self.assertEqual(refusal(lambda: request.query_uuid("id")).code, "invalid_query_parameter")
        for bad in ("0", "201", "x", "-1", " 5", "1_0"):
            self.assertEqual(refusal(Request(query=[("limit", bad)]).paging).code, "invalid_query_parameter", bad)
        self.assertEqual(Request().paging().limit, 50)

    def test_nul_parameters_are_refused_before_any_handler(self):
        request = Request(query=[("q", "ab\0c")], params=[("id", "\0")])
        problem = refusal(request.unstorable_parameters)
        self.assertEqual([e.field for e in problem.errors], ["q", "id"])


class FieldsTests(unittest.TestCase):
    SCHEMA = {
        "name": fields.TEXT,
        "kind": fields.one_of("residential", "commercial"),
        "tags": fields.list_of(fields.TEXT),
        "latitude": fields.NUMBER,
        "primary": fields.BOOLEAN,
        "address": fields.struct("Address", {"city": fields.TEXT}),
    }

    def error(self, body):
        problem = refusal(lambda: fields.parse(self.SCHEMA, body))
        self.assertEqual(problem.code, "validation_failed")
        return (problem.errors[0].field, problem.errors[0].message)

    def test_refuses_the_first_field_in_key_order_as_serde_does(self):
        self.assertEqual(self.error({"zz": 1, "name": 5}), ("name", "invalid type: integer `5`, expected a string"))
        self.assertEqual(self.error({"nick": "x"}), ("nick", "is not a known field"))
        self.assertEqual(
            self.error({"kind": "alien"}),
            ("kind", "unknown variant `alien`, expected `residential` or `commercial`"),
        )
        self.assertEqual(self.error({"tags": ["a", 7]}), ("tags[1]", "invalid type: integer `7`, expected a string"))
        self.assertEqual(self.error({"latitude": True}), ("latitude", "invalid type: boolean `true`, expected f64"))
        self.assertEqual(self.error({"address": {"zip": "1"}}), ("address.zip", "is not a known field"))
        self.assertEqual(self.error({"address": "x"}), ("address", 'invalid type: string "x", expected struct Address'))

    def test_keeps_absent_null_and_values_apart(self):
        body = fields.parse(self.SCHEMA, {"name": None, "latitude": 3, "address": {"city": None}})
        self.assertEqual(body, {"name": None, "latitude": 3, "address": {"city": None}})


class ValidatorTests(unittest.TestCase):
    def fields_of(self, check):
        problem = refusal(check.finish)
        return [error.field for error in problem.errors]

    def test_collects_every_invalid_field_with_rusts_messages(self):
        check = Validator()
        check.required({}, "kind", True).required({"name": None}, "name", False).required({}, "status", False)
        check.length("name", "x" * 201, 1, 200).length("label", "", 0, 200)
        check.email("email", "a@b").phone("phone", "+1 (555) 010-2030").within("latitude", 91.0, -90.0, 90.0)
        self.assertEqual(self.fields_of(check), ["kind", "name", "name", "email", "latitude"])
        self.assertEqual(check.errors[-1].message, "must be between -90 and 90")
        self.assertEqual(check.errors[2].message, "must be 1 to 200 characters")

    def test_emails_phones_and_whitespace(self):
        def ok(method, value):
            check = Validator()
            getattr(check, method)("f", value)
            return not check.errors

        self.assertTrue(ok("email", "ann@example.com"))
        for bad in ("ann", "@example.com", "ann@example", "a b@example.com", "a@b@c.com", "a@.com"):
            self.assertFalse(ok("email", bad), bad)
        self.assertTrue(ok("phone", "+44 20 7946 0958"))
        self.assertFalse(ok("phone", "1234"))
        self.assertFalse(ok("phone", "call me"))
        self.assertEqual(trim("\u3000 x\x1c "), "x\x1c")

    def test_rfc3339(self):
        for good in ("2026-11-27T21:45:00Z", "2026-11-27T21:45:00.123Z", "2026-11-27T21:45:00+01:00"):
            self.assertTrue(is_rfc3339(good), good)
        for bad in ("2026-11-27", "2026-13-27T21:45:00Z", "2026-11-27T21:45:00", "2026-11-27T21:45:00.Z",
                    "2026-11-27 21:45:00Z", "2026-11-27T21:45:00+0100", "2026-11-27T21:45:00+24:00"):
            self.assertFalse(is_rfc3339(bad), bad)


class StoreTests(unittest.TestCase):
    def test_filters_render_the_grammar(self):
        tree = Filter.all([
            Filter.any([Filter.contains("name", "50%_off"), Filter.eq("status", "active")]),
            Filter.negate(Filter.is_null("email", True)),
            Filter.one_of("tags", ["vip", "gold"]),
            Filter.ge("latitude", 1.5),
        ])
        self.assertEqual(json.loads(tree.to_json()), {"and": [
            {"or": [
                {"column": "name", "op": "like", "value": "%50\\%\\_off%"},
                {"column": "status", "op": "eq", "value": "active"},
            ]},
            {"not": {"column": "email", "op": "is-null", "value": True}},
            {"column": "tags", "op": "in", "value": ["vip", "gold"]},
            {"column": "latitude", "op": "ge", "value": 1.5},
        ]})

    def test_store_errors_become_problems(self):
        status = lambda kind, value=None: StoreError(kind, value).problem().status
        self.assertEqual(
            [status("not-found"), status("conflict", 4), status("duplicate", "email"), status("invalid", "bad"),
             status("unavailable", "down"), status("limit-exceeded", "rows")],
            [404, 409, 409, 422, 503, 400],
        )
        problem = StoreError("invalid", "column `name`: may not contain the NUL character").problem()
        self.assertEqual(problem.errors, [FieldError("name", "may not contain the NUL character")])

    def test_outbound_errors_become_problems(self):
        status = lambda variant: outbound.outbound_problem(variant, "why").status
        self.assertEqual(
            [status("HttpError_Timeout"), status("HttpError_TooLarge"), status("HttpError_Failed"),
             status("HttpError_HostNotAllowed"), status("HttpError_NotGranted")],
            [504, 502, 502, 500, 500],
        )

    def test_if_match_names_the_version(self):
        with_if_match = lambda value: Request(headers=[("If-Match", value)])
        self.assertIsNone(etag.check_if_match(Request(), 3))
        for ok in ('"3"', "*", 'W/"3"', '"2", "3"'):
            self.assertIsNone(etag.check_if_match(with_if_match(ok), 3), ok)
        self.assertEqual(refusal(lambda: etag.check_if_match(with_if_match('"2"'), 3)).status, 412)
        lost_race = StoreError("conflict", 5)
        self.assertEqual(etag.write_problem(with_if_match('"4"'), lost_race, "x").status, 412)
        self.assertEqual(etag.write_problem(Request(), lost_race, "x").status, 409)


class RouterTests(unittest.TestCase):
    MANIFEST = Manifest(
        name="notes",
        version="1.0.0",
        slot="notes",
        routes=[
            Route.get("/notes/{id}", "notes.read", lambda request: Response.json(200, request.params)),
            Route.post("/notes", "notes.write", lambda request: 1 / 0),
            Route.put("/notes", "notes.write", lambda request: (_ for _ in ()).throw(StoreError("duplicate", "title"))),
        ],
        tables={"read": [], "write": ["notes"]},
    )

    def routed(self, method, route, params=()):
        return dispatch(self.MANIFEST, Request(method, route=route, params=list(params)))

    def test_renders_the_hosts_manifest(self):
        self.assertEqual(json.loads(self.MANIFEST.to_json())["routes"][0],
                         {"method": "GET", "path": "/notes/{id}", "permission": "notes.read"})
        self.assertEqual(
            sorted(json.loads(self.MANIFEST.to_json())),
            ["capabilities", "events", "name", "routes", "slot", "tables", "version"],
        )

    def test_dispatches_on_the_hosts_route_and_renders_failures(self):
        self.assertEqual(self.routed("GET", "/notes/{id}", [("id", "7")]).json_body(), [["id", "7"]])
        self.assertEqual(self.routed("PATCH", "/notes/{id}").status, 404)
        crashed = self.routed("POST", "/notes")
        self.assertEqual((crashed.status, crashed.json_body()["code"]), (500, "internal_error"))
        duplicate = self.routed("PUT", "/notes")
        self.assertEqual((duplicate.status, duplicate.json_body()["code"]), (409, "duplicate"))


if __name__ == "__main__":
    unittest.main()
