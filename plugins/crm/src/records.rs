//! The records the CRM answers, as the API reference shows them. Answers are the stored
//! columns as they are (`Columns`), so these structs exist for their schemas only
//! (`Route::responds`); the schemathesis run (tests/testsuite/api_schemas.rs) checks real
//! answers against them, so they cannot drift unnoticed.

#![allow(dead_code)]

use schemars::JsonSchema;

use crate::address::Address;

/// Timestamps as the host stores and answers them.
#[derive(JsonSchema)]
struct Timestamps {
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Residential,
    Commercial,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
    Inactive,
    Lead,
}

/// A customer: who is served, and the balance billing keeps for them.
#[derive(JsonSchema)]
pub struct Customer {
    kind: Kind,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    status: Status,
    tags: Vec<String>,
    notes: String,
    billing_address: Option<Address>,
    /// Kept by billing, in the currency's minor unit; read-only here.
    balance_minor: i64,
    currency: String,
    /// The tenant's custom fields (`/v1/tenant/custom-fields`), checked by the host.
    custom: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    timestamps: Timestamps,
}

/// A place the customer is served at.
#[derive(JsonSchema)]
pub struct Location {
    customer_id: String,
    label: String,
    address: Address,
    /// The address on one line, what text search runs on.
    address_text: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    access_notes: String,
    property: serde_json::Map<String, serde_json::Value>,
    /// The tenant's custom fields (`/v1/tenant/custom-fields`), checked by the host.
    custom: serde_json::Map<String, serde_json::Value>,
    /// Only in a `near` search: the distance from its centre.
    #[serde(default)]
    distance_km: Option<f64>,
    #[serde(flatten)]
    timestamps: Timestamps,
}

/// A person to talk to at a customer.
#[derive(JsonSchema)]
pub struct Contact {
    customer_id: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    role: String,
    is_primary: bool,
    #[serde(flatten)]
    timestamps: Timestamps,
}
