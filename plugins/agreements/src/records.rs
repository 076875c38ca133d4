//! What the agreements module answers, as the API reference shows it. Answers are the stored
//! columns as they are (`store.service_agreements`), so these structs exist for their schemas
//! only (`Route::responds`); the schemathesis run (tests/testsuite/api_schemas.rs) checks real
//! answers against them.

#![allow(dead_code)]

use schemars::JsonSchema;
use verofield_sdk::Record;

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Active,
    Paused,
    Canceled,
    Expired,
}

/// A service agreement: recurring visits at a customer's locations, priced per visit or per
/// period, over a term.
#[derive(JsonSchema)]
pub struct Agreement {
    customer_id: String,
    name: String,
    location_ids: Vec<String>,
    service_type_ids: Vec<String>,
    /// An RRULE (RFC 5545 subset).
    recurrence: String,
    /// The arrival window, `HH:MM` in `time_zone`.
    start_time: String,
    end_time: String,
    time_zone: String,
    duration_minutes: Option<i64>,
    /// `per_visit` or `per_period`.
    pricing: String,
    price_minor: i64,
    currency: String,
    /// `per_visit`, `monthly`, `quarterly`, `semiannually` or `annually`.
    billing_frequency: String,
    /// Local dates, `YYYY-MM-DD`.
    starts_on: String,
    ends_on: Option<String>,
    auto_renew: bool,
    horizon_days: i64,
    status: Status,
    /// What a year of it is worth, in minor units.
    annual_value_minor: i64,
    /// The work orders activating it made, one per location.
    work_order_ids: Vec<String>,
    #[schemars(extend("format" = "date-time"))]
    activated_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    paused_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    canceled_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    expired_at: Option<String>,
    notes: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// An agreement activated or renewed, with the jobs that made.
#[derive(JsonSchema)]
pub struct Generated {
    #[serde(flatten)]
    agreement: Record<Agreement>,
    jobs_created: u64,
    /// False when more remain: `POST /v1/work-orders/{id}/generate` makes the rest.
    generation_complete: bool,
}

/// An agreement paused, canceled or expired, with what that stopped.
#[derive(JsonSchema)]
pub struct Stopped {
    #[serde(flatten)]
    agreement: Record<Agreement>,
    /// Future unscheduled jobs removed.
    jobs_retracted: u64,
    /// Confirmed jobs not started, canceled.
    jobs_canceled: u64,
}
