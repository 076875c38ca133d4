//! What the jobs module answers, as the API reference shows it. Answers are the stored columns
//! as they are, so these structs exist for their schemas only (`Route::responds`); the
//! schemathesis run (tests/testsuite/api_schemas.rs) checks real answers against them.

#![allow(dead_code)]

use schemars::JsonSchema;
use verofield_sdk::Record;

/// A job's status; `POST /{id}/status` moves it along `field_ops::status`'s transitions.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Unscheduled,
    Scheduled,
    Dispatched,
    EnRoute,
    InProgress,
    Completed,
    OnHold,
    Canceled,
}

/// A visit to a customer's location.
#[derive(JsonSchema)]
pub struct Job {
    customer_id: String,
    location_id: String,
    work_order_id: Option<String>,
    service_type_ids: Vec<String>,
    /// The union of its service types' skills.
    required_skills: Vec<String>,
    /// The local date (`YYYY-MM-DD`) once scheduled.
    scheduled_date: Option<String>,
    /// The arrival window promised to the customer, in UTC.
    window_start: Option<String>,
    window_end: Option<String>,
    /// The service interval an applied routing plan planned (inside the promised window when
    /// it has one); cleared when the job is rescheduled.
    planned_start: Option<String>,
    planned_end: Option<String>,
    /// The estimated arrival, when one is known.
    eta: Option<String>,
    /// Metres travelled to reach the job in the applied plan (the route's last job also
    /// carries the way back).
    planned_travel_meters: Option<i64>,
    /// How many times the promised window was changed after it was first set (kept by the
    /// database).
    reschedules: i64,
    /// Whether work started (`in_progress`) inside the promised window; null until both exist
    /// (kept by the database).
    arrived_on_time: Option<bool>,
    /// The arrival window as given, `HH:MM` in `time_zone`.
    window_start_local: Option<String>,
    window_end_local: Option<String>,
    /// An IANA zone.
    time_zone: String,
    duration_minutes: i64,
    /// 1 (highest) to 5.
    priority: i64,
    status: Status,
    notes: Option<String>,
    /// What the technician recorded on completion.
    completion: Option<serde_json::Value>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A job with the technicians assigned to it.
#[derive(JsonSchema)]
pub struct AssignedJob {
    #[serde(flatten)]
    job: Record<Job>,
    technician_ids: Vec<String>,
}

/// One technician's jobs on one local date, by arrival window.
#[derive(JsonSchema)]
pub struct Day {
    technician_id: String,
    date: String,
    items: Vec<Record<Job>>,
}

/// A status change of a job.
#[derive(JsonSchema)]
pub struct StatusChange {
    job_id: String,
    from_status: Option<String>,
    to_status: String,
    #[schemars(extend("format" = "date-time"))]
    changed_at: String,
    changed_by: Option<String>,
    note: Option<String>,
}

/// A job's status changes, oldest first.
#[derive(JsonSchema)]
pub struct History {
    items: Vec<Record<StatusChange>>,
}

/// Why a technician cannot take a job (`type`: overlap, time_off, skills, ...).
#[derive(JsonSchema)]
pub struct Conflict {
    technician_id: String,
    #[serde(rename = "type")]
    kind: String,
    detail: String,
    job_id: Option<String>,
    time_off_id: Option<String>,
    skills: Option<Vec<String>>,
}

/// The outcome of an assignment.
#[derive(JsonSchema)]
pub struct Assignment {
    job_id: String,
    /// Every technician on the job now.
    technician_ids: Vec<String>,
    /// Those this call added.
    added: Vec<String>,
    /// Conflicts assigned through (`/assignments/override` only).
    overridden_conflicts: Vec<Conflict>,
}

/// A kind of visit: its default duration and price, and the skills it needs.
#[derive(JsonSchema)]
pub struct ServiceType {
    name: String,
    description: String,
    default_duration_minutes: i64,
    default_price_minor: i64,
    currency: String,
    required_skills: Vec<String>,
    active: bool,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}
