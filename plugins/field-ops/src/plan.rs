//! The visit plan shared by work orders and agreements: service types (with their default
//! durations, prices and skills), the recurrence, and the local window and zone.

use serde_json::{Value, json};
use verofield_sdk::http::is_uuid;
use verofield_sdk::store::{self, Record};
use verofield_sdk::{Problem, Validator};

use crate::rrule::Rule;
use crate::{CUSTOMERS, Columns, LOCATIONS, SERVICE_TYPES, text, texts, time};

/// The bounds of a visit's numbers and its price's currency, checked alike by every module
/// that takes them (nothing to check when absent):
///
/// ```ignore
/// check.duration("duration_minutes", body.duration_minutes).priority(body.priority);
/// ```
pub trait VisitChecks {
    /// Minutes of service: from 1 to 1440.
    fn duration(&mut self, field: &str, minutes: Option<i64>) -> &mut Self;
    /// `priority`: from 1 (highest) to 5.
    fn priority(&mut self, priority: Option<i64>) -> &mut Self;
    /// `horizon_days` (how far ahead jobs are generated): from 1 to 3660.
    fn horizon_days(&mut self, days: Option<i64>) -> &mut Self;
    /// `currency`: an ISO 4217 code (three capital letters).
    fn currency(&mut self, code: Option<&String>) -> &mut Self;
}

impl VisitChecks for Validator {
    fn duration(&mut self, field: &str, minutes: Option<i64>) -> &mut Self {
        self.check(
            minutes.is_none_or(|m| (1..=1440).contains(&m)),
            field,
            "must be from 1 to 1440",
        )
    }

    fn priority(&mut self, priority: Option<i64>) -> &mut Self {
        self.check(
            priority.is_none_or(|p| (1..=5).contains(&p)),
            "priority",
            "must be from 1 (highest) to 5",
        )
    }

    fn horizon_days(&mut self, days: Option<i64>) -> &mut Self {
        self.check(
            days.is_none_or(|d| (1..=3660).contains(&d)),
            "horizon_days",
            "must be from 1 to 3660",
        )
    }

    fn currency(&mut self, code: Option<&String>) -> &mut Self {
        self.check(
            code.is_none_or(|code| code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())),
            "currency",
            "must be an ISO 4217 code such as USD",
        )
    }
}

/// The service types a plan names, validated (each exists and is active).
#[derive(Debug, Default)]
pub struct ServiceTypes {
    pub rows: Vec<Record<Columns>>,
    pub required_skills: Vec<String>,
    pub default_minutes: i64,
}

pub fn service_types(
    check: &mut Validator,
    field: &str,
    ids: &[String],
) -> Result<ServiceTypes, Problem> {
    let mut found = ServiceTypes::default();
    check.check(
        !ids.is_empty(),
        field,
        "must name at least one service type",
    );
    check.check(ids.len() <= 20, field, "may name at most 20 service types");
    for (i, id) in ids.iter().enumerate() {
        let item = format!("{field}[{i}]");
        if !is_uuid(id) {
            check.check(false, &item, "must be a UUID");
            continue;
        }
        match store::get::<Columns>(SERVICE_TYPES, id)? {
            None => {
                check.check(false, &item, "no service type with this id");
            }
            Some(row) if row.values.get("active") == Some(&json!(false)) => {
                check.check(false, &item, "the service type is not active");
            }
            Some(row) => {
                for skill in texts(&row.values, "required_skills") {
                    if !found.required_skills.contains(&skill) {
                        found.required_skills.push(skill);
                    }
                }
                // Saturating: callers clamp the sum to a day.
                found.default_minutes = found.default_minutes.saturating_add(
                    row.values
                        .get("default_duration_minutes")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                );
                found.rows.push(row);
            }
        }
    }
    Ok(found)
}

/// A reference to an existing row (a UUID naming one), or a field error.
pub fn reference(
    check: &mut Validator,
    table: &str,
    field: &str,
    id: &str,
    what: &str,
) -> Result<Option<Record<Columns>>, Problem> {
    if !is_uuid(id) {
        check.check(false, field, "must be a UUID");
        return Ok(None);
    }
    let row = store::get::<Columns>(table, id)?;
    check.check(row.is_some(), field, &format!("no {what} with this id"));
    Ok(row)
}

/// The customer and a location of theirs.
pub fn customer_location(
    check: &mut Validator,
    customer_id: &str,
    location_field: &str,
    location_id: &str,
) -> Result<(), Problem> {
    let customer = reference(check, CUSTOMERS, "customer_id", customer_id, "customer")?;
    let location = reference(check, LOCATIONS, location_field, location_id, "location")?;
    if let (Some(_), Some(location)) = (customer, location) {
        check.check(
            text(&location.values, "customer_id") == customer_id,
            location_field,
            "is not a location of this customer",
        );
    }
    Ok(())
}

/// A recurrence rule, canonicalized, or a field error.
pub fn recurrence(check: &mut Validator, field: &str, rule: &str) -> Option<String> {
    match Rule::parse(rule) {
        Ok(rule) => Some(rule.to_string()),
        Err(error) => {
            check.check(false, field, &error.0);
            None
        }
    }
}

/// Checks the local window (`HH:MM`, end after start), the zone and the first and last dates.
pub fn window(
    check: &mut Validator,
    start_time: &str,
    end_time: &str,
    zone: &str,
    starts_on: Option<&str>,
    ends_on: Option<&str>,
) {
    let start = time::parse_hhmm(start_time);
    let end = time::parse_hhmm(end_time);
    check
        .check(start.is_some(), "start_time", "must be HH:MM")
        .check(end.is_some(), "end_time", "must be HH:MM")
        .check(
            time::zone(zone).is_some(),
            "time_zone",
            "must be an IANA time zone",
        );
    if let (Some(start), Some(end)) = (start, end) {
        check.check(end > start, "end_time", "must be after start_time");
    }
    let first = starts_on.map(time::parse_date);
    let last = ends_on.map(time::parse_date);
    check
        .check(
            !matches!(first, Some(None)),
            "starts_on",
            "must be a date (YYYY-MM-DD)",
        )
        .check(
            !matches!(last, Some(None)),
            "ends_on",
            "must be a date (YYYY-MM-DD)",
        );
    if let (Some(Some(first)), Some(Some(last))) = (first, last) {
        check.check(last >= first, "ends_on", "may not be before starts_on");
    }
}

/// Today in `zone` (the host's clock).
pub fn today(zone: &str) -> chrono::NaiveDate {
    let zone = time::zone(zone).unwrap_or(chrono_tz::UTC);
    time::to_local(crate::now(), zone).date()
}
