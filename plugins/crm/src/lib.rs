//! The CRM domain module (slot `crm`): customers, their service locations and their
//! contacts, stored in the host's `crm_*` tables through the store capability.
//!
//! Each resource lives in its own module: a body struct (one for create and update, with
//! [`Patch`](verofield_sdk::Patch) fields, so that PATCH can tell absent from null), its
//! validation, and plain handler functions. The route table below is both the manifest the
//! host reads and the dispatch table. Every route needs `crm.customers.read` (GET) or
//! `crm.customers.write` (writes); the host checks it before calling us.

mod address;
mod contacts;
mod customers;
mod defaults;
mod geo;
mod locations;
mod records;

use contacts::ContactFields;
use customers::CustomerFields;
use locations::LocationFields;
use records::{Contact, Customer, Location};
use verofield_field_ops::{CUSTOMERS, LOCATIONS};
use verofield_sdk::{Events, Manifest, Module, Page, Record, Resource, Route, Tables};

const READ: &str = "crm.customers.read";
const WRITE: &str = "crm.customers.write";

/// This module's own table; customers and locations, which the field-operations modules
/// read too, are named in field-ops.
const CONTACTS: &str = "crm_contacts";

/// The tables read by id, with the noun their 404 names.
const CUSTOMER: Resource = Resource::new(CUSTOMERS, "customer");
const LOCATION: Resource = Resource::new(LOCATIONS, "location");
const CONTACT: Resource = Resource::new(CONTACTS, "contact");

/// A stored row's columns, answered as they are (all columns and the timestamps).
type Columns = serde_json::Map<String, serde_json::Value>;

/// The public path of a resource, for `Location` headers.
fn public_path(path: &str) -> String {
    format!("/v1/crm{path}")
}

struct Crm;

impl Module for Crm {
    const MANIFEST: Manifest = Manifest {
        name: "crm",
        version: env!("CARGO_PKG_VERSION"),
        slot: "crm",
        routes: &[
            Route::post("/customers", WRITE, customers::create)
                .summary("Create a customer (name required)")
                .request::<CustomerFields>()
                .responds::<Record<Customer>>(201),
            Route::get("/customers", READ, customers::list)
                .summary("List customers (q, status, tag, created_after, created_before, custom.<key>, sort, cursor, limit)")
                .responds::<Page<Customer>>(200),
            Route::get("/customers/{id}", READ, customers::show)
                .summary("A customer (ETag)")
                .responds::<Record<Customer>>(200),
            Route::patch("/customers/{id}", WRITE, customers::update)
                .summary("Change a customer (If-Match; null clears a field)")
                .request::<CustomerFields>()
                .responds::<Record<Customer>>(200),
            Route::delete("/customers/{id}", WRITE, customers::delete)
                .summary("Delete a customer, its locations and contacts"),
            Route::post("/customers/{id}/locations", WRITE, locations::create)
                .summary("Add a service location to a customer")
                .request::<LocationFields>()
                .responds::<Record<Location>>(201),
            Route::get(
                "/customers/{id}/locations",
                READ,
                locations::list_for_customer,
            )
            .summary("A customer's locations (cursor, limit)")
            .responds::<Page<Location>>(200),
            Route::get("/locations", READ, locations::list)
                .summary("List locations; near=lat,lon and radius_km find them by distance")
                .responds::<Page<Location>>(200),
            Route::get("/locations/{id}", READ, locations::show)
                .summary("A location (ETag)")
                .responds::<Record<Location>>(200),
            Route::patch("/locations/{id}", WRITE, locations::update)
                .summary("Change a location (If-Match)")
                .request::<LocationFields>()
                .responds::<Record<Location>>(200),
            Route::delete("/locations/{id}", WRITE, locations::delete)
                .summary("Delete a location"),
            Route::post("/customers/{id}/contacts", WRITE, contacts::create)
                .summary("Add a contact to a customer (name required)")
                .request::<ContactFields>()
                .responds::<Record<Contact>>(201),
            Route::get(
                "/customers/{id}/contacts",
                READ,
                contacts::list_for_customer,
            )
            .summary("A customer's contacts (cursor, limit)")
            .responds::<Page<Contact>>(200),
            Route::get("/contacts/{id}", READ, contacts::show)
                .summary("A contact (ETag)")
                .responds::<Record<Contact>>(200),
            Route::patch("/contacts/{id}", WRITE, contacts::update)
                .summary("Change a contact (If-Match)")
                .request::<ContactFields>()
                .responds::<Record<Contact>>(200),
            Route::delete("/contacts/{id}", WRITE, contacts::delete)
                .summary("Delete a contact"),
        ],
        tables: Tables {
            read: &[],
            write: &[CUSTOMERS, LOCATIONS, CONTACTS],
        },
        events: Events::emitting(&[customers::CREATED, customers::UPDATED, customers::DELETED]),
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Crm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_has_what_the_host_requires() {
        let manifest: serde_json::Value = serde_json::from_str(&Crm::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["name"], "crm");
        assert_eq!(manifest["slot"], "crm");
        assert_eq!(manifest["version"], "1.0.0");
        let keys: Vec<&String> = manifest.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "capabilities",
                "events",
                "name",
                "routes",
                "slot",
                "tables",
                "version"
            ]
        );
        for route in manifest["routes"].as_array().unwrap() {
            let permission = if route["method"] == "GET" {
                READ
            } else {
                WRITE
            };
            assert_eq!(route["permission"], permission, "{route}");
        }
    }

    #[test]
    fn every_route_documents_its_body_and_answer() {
        let manifest: serde_json::Value = serde_json::from_str(&Crm::MANIFEST.to_json()).unwrap();
        for route in manifest["routes"].as_array().unwrap() {
            let (method, path) = (route["method"].as_str().unwrap(), &route["path"]);
            assert!(route["summary"].is_string(), "{method} {path}");
            if method == "POST" || method == "PATCH" {
                assert_eq!(route["request"]["type"], "object", "{method} {path}");
            }
            if method != "DELETE" {
                let (_, schema) = route["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .next()
                    .unwrap();
                assert_eq!(schema["type"], "object", "{method} {path}: {schema}");
            }
        }
        let create = &manifest["routes"][0];
        assert_eq!(
            create["request"]["properties"]["billing_address"]["anyOf"][0]["$ref"],
            "#/$defs/Address"
        );
    }
}
