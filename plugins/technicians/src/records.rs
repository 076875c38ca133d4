//! What the technicians module answers, as the API reference shows it. Answers are the stored
//! columns as they are, so these structs exist for their schemas only (`Route::responds`); the
//! schemathesis run (tests/testsuite/api_schemas.rs) checks real answers against them.

#![allow(dead_code)]

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::technicians::Interval;

/// A technician: who, which skills, when they work (local `HH:MM` intervals by weekday in
/// `time_zone`), and where they start from.
#[derive(JsonSchema)]
pub struct Technician {
    /// The user who logs in as this technician, if any.
    user_id: Option<String>,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    skills: Vec<String>,
    /// `mon` ... `sun` -> intervals.
    working_hours: BTreeMap<String, Vec<Interval>>,
    time_zone: String,
    home_latitude: Option<f64>,
    home_longitude: Option<f64>,
    active: bool,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// An absence: no job is assigned to the technician across it.
#[derive(JsonSchema)]
pub struct TimeOff {
    technician_id: String,
    #[schemars(extend("format" = "date-time"))]
    starts_at: String,
    #[schemars(extend("format" = "date-time"))]
    ends_at: String,
    reason: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}
