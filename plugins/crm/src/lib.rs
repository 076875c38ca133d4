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
mod geo;
mod locations;

use verofield_field_ops::{CUSTOMERS, LOCATIONS};
use verofield_sdk::{Events, Manifest, Module, Resource, Route, Tables};

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
            Route::post("/customers", WRITE, customers::create),
            Route::get("/customers", READ, customers::list),
            Route::get("/customers/{id}", READ, customers::show),
            Route::patch("/customers/{id}", WRITE, customers::update),
            Route::delete("/customers/{id}", WRITE, customers::delete),
            Route::post("/customers/{id}/locations", WRITE, locations::create),
            Route::get(
                "/customers/{id}/locations",
                READ,
                locations::list_for_customer,
            ),
            Route::get("/locations", READ, locations::list),
            Route::get("/locations/{id}", READ, locations::show),
            Route::patch("/locations/{id}", WRITE, locations::update),
            Route::delete("/locations/{id}", WRITE, locations::delete),
            Route::post("/customers/{id}/contacts", WRITE, contacts::create),
            Route::get(
                "/customers/{id}/contacts",
                READ,
                contacts::list_for_customer,
            ),
            Route::get("/contacts/{id}", READ, contacts::show),
            Route::patch("/contacts/{id}", WRITE, contacts::update),
            Route::delete("/contacts/{id}", WRITE, contacts::delete),
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
}
