//! What the work-orders module answers, as the API reference shows it. Answers are the stored
//! columns as they are (`store.work_orders`), so these structs exist for their schemas only
//! (`Route::responds`); the schemathesis run (tests/testsuite/api_schemas.rs) checks real
//! answers against them.

#![allow(dead_code)]

use schemars::JsonSchema;
use verofield_sdk::Record;

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Paused,
    Closed,
    Canceled,
}

/// A line as priced when the work order was written.
#[derive(JsonSchema)]
pub struct PricedLine {
    service_type_id: String,
    /// The service type's name.
    name: String,
    description: Option<String>,
    quantity: i64,
    unit_price_minor: i64,
    currency: String,
    /// None when the line's total is no amount (too large).
    total_minor: Option<i64>,
}

/// A group of jobs for one customer and location, optionally recurring.
#[derive(JsonSchema)]
pub struct WorkOrder {
    customer_id: String,
    location_id: String,
    /// Set when an agreement made it.
    agreement_id: Option<String>,
    title: String,
    status: Status,
    line_items: Vec<PricedLine>,
    service_type_ids: Vec<String>,
    required_skills: Vec<String>,
    /// An RRULE (RFC 5545 subset).
    recurrence: Option<String>,
    /// Local dates, `YYYY-MM-DD`.
    starts_on: Option<String>,
    ends_on: Option<String>,
    /// The arrival window, `HH:MM` in `time_zone`.
    start_time: String,
    end_time: String,
    time_zone: String,
    duration_minutes: i64,
    priority: i64,
    horizon_days: i64,
    /// The last date generation reached.
    generated_until: Option<String>,
    notes: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// What a generation did (`field_ops::generate::Generated`).
#[derive(JsonSchema)]
pub struct Generation {
    /// Ids of the jobs created.
    created: Vec<String>,
    /// Occurrence dates that already had a job.
    existing: u64,
    generated_until: Option<String>,
    /// False when more remain: call `POST /{id}/generate` again.
    complete: bool,
    /// `batch_limit` or `deadline`, when incomplete.
    stopped: Option<String>,
    /// Future unscheduled jobs retracted first (a changed rule only).
    retracted: Option<u64>,
}

/// A work order, with what its generation did when the call generated.
#[derive(JsonSchema)]
pub struct Generated {
    #[serde(flatten)]
    work_order: Record<WorkOrder>,
    generation: Option<Generation>,
}

/// A closed work order and what closing it stopped.
#[derive(JsonSchema)]
pub struct Closed {
    #[serde(flatten)]
    work_order: Record<WorkOrder>,
    /// Future unscheduled jobs removed.
    retracted: u64,
    /// Confirmed jobs not started, canceled.
    canceled: u64,
}
