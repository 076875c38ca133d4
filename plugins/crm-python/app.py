"""The CRM domain module in Python (slot `crm`): the twin of the Rust `plugins/crm`, route
for route, status for status, event for event, on the same `crm_*` tables, so that either
can serve a tenant's `crm` slot and pass the same conformance pack.

The route table below is both the manifest the host reads and the dispatch table. Every
route needs `crm.customers.read` (GET) or `crm.customers.write` (writes); the host checks it
before calling us. Built with componentize-py (`scripts/build-python-module.sh`).
"""

from crm import CONTACTS, CUSTOMERS, LOCATIONS, READ, WRITE, contacts, customers, locations
from verofield_sdk import Manifest, Route, export

MANIFEST = Manifest(
    # The built-in Rust CRM is `crm` 1.0.0: a version is unique by name and number.
    name="crm-python",
    version="1.0.0",
    slot="crm",
    routes=[
        Route.post("/customers", WRITE, customers.create),
        Route.get("/customers", READ, customers.list_customers),
        Route.get("/customers/{id}", READ, customers.show),
        Route.patch("/customers/{id}", WRITE, customers.update),
        Route.delete("/customers/{id}", WRITE, customers.delete),
        Route.post("/customers/{id}/locations", WRITE, locations.create),
        Route.get("/customers/{id}/locations", READ, locations.list_for_customer),
        Route.get("/locations", READ, locations.list_locations),
        Route.get("/locations/{id}", READ, locations.show),
        Route.patch("/locations/{id}", WRITE, locations.update),
        Route.delete("/locations/{id}", WRITE, locations.delete),
        Route.post("/customers/{id}/contacts", WRITE, contacts.create),
        Route.get("/customers/{id}/contacts", READ, contacts.list_for_customer),
        Route.get("/contacts/{id}", READ, contacts.show),
        Route.patch("/contacts/{id}", WRITE, contacts.update),
        Route.delete("/contacts/{id}", WRITE, contacts.delete),
    ],
    tables={"read": [], "write": [CUSTOMERS, LOCATIONS, CONTACTS]},
    events={"emit": [customers.CREATED, customers.UPDATED, customers.DELETED]},
)

Module = export(MANIFEST)
