//! Shared code of the field-operations modules (`technicians`, `jobs`, `work-orders`,
//! `agreements`, `routing`; `crm` for its table names): the names of the tables more than
//! one module touches, defined here once (a table only its own module touches is named
//! there), event names, local time in IANA zones ([`time`]), working hours ([`hours`]), the
//! RRULE subset ([`rrule`]),
//! job statuses ([`status`]), the company account as other modules read it ([`account`]), the KPI metric names ([`kpi_metrics`]), and generating a recurring work order's jobs ([`generate`]),
//! which both the work-orders and the agreements modules run (an agreement's activation
//! creates its work orders and their first jobs in the same transaction).

pub mod account;
pub mod events;
pub mod generate;
pub mod hours;
pub mod kpi_metrics;
pub mod plan;
pub mod rrule;
pub mod status;
pub mod time;

use verofield_sdk::{Problem, Resource};

pub const TECHNICIANS: &str = "technicians";
pub const TIME_OFF: &str = "technician_time_off";
pub const SERVICE_TYPES: &str = "service_types";
pub const JOBS: &str = "jobs";
pub const ASSIGNMENTS: &str = "job_assignments";
pub const HISTORY: &str = "job_status_history";
pub const WORK_ORDERS: &str = "work_orders";
pub const AGREEMENTS: &str = "service_agreements";
pub const CUSTOMERS: &str = "crm_customers";
pub const LOCATIONS: &str = "crm_locations";

/// The tables read by id, with the noun their 404 names (`JOB.existing(id)`).
/// Under the technician scope the host's row-level security hides other technicians' jobs,
/// so `JOB.existing` answers 404 for them too.
pub const JOB: Resource = Resource::new(JOBS, "job");
pub const TECHNICIAN: Resource = Resource::new(TECHNICIANS, "technician");
pub const TECHNICIAN_TIME_OFF: Resource = Resource::new(TIME_OFF, "time off");
pub const SERVICE_TYPE: Resource = Resource::new(SERVICE_TYPES, "service type");
pub const WORK_ORDER: Resource = Resource::new(WORK_ORDERS, "work order");
pub const AGREEMENT: Resource = Resource::new(AGREEMENTS, "agreement");

pub const JOB_SCHEDULED: &str = "job.scheduled";
pub const JOB_ASSIGNED: &str = "job.assigned";
pub const JOB_STATUS_CHANGED: &str = "job.status_changed";
pub const JOB_COMPLETED: &str = "job.completed";
pub const AGREEMENT_ACTIVATED: &str = "agreement.activated";
pub const AGREEMENT_CANCELED: &str = "agreement.canceled";

/// A stored row's columns, answered as they are.
pub type Columns = serde_json::Map<String, serde_json::Value>;

/// The calling user's id.
pub fn caller_user_id() -> String {
    verofield_sdk::context::caller().user_id
}

/// The host's clock as UTC.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let now = verofield_sdk::context::now();
    chrono::DateTime::from_timestamp_millis(now.unix_ms).unwrap_or_default()
}

/// A text column of a row, or "".
pub fn text<'a>(row: &'a Columns, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_str()).unwrap_or("")
}

/// A text-array column of a row.
pub fn texts(row: &Columns, column: &str) -> Vec<String> {
    row.get(column)
        .and_then(|v| v.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Skills (a technician's, those a service type requires) are lower-case tokens,
/// de-duplicated, in order.
pub fn normalize_skills(skills: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(skills.len());
    for skill in skills.iter().map(|s| s.trim().to_lowercase()) {
        if !unique.contains(&skill) {
            unique.push(skill);
        }
    }
    unique
}

/// At most 50 skills of 1 to 50 characters each.
pub fn check_skills(check: &mut verofield_sdk::Validator, field: &str, skills: &[String]) {
    check.check(skills.len() <= 50, field, "may hold at most 50 skills");
    for skill in skills {
        check.length(field, Some(skill), 1..=50);
    }
}

/// Reads every row matching `filter` (paging through the store), up to `max` rows; more is a
/// 400 `limit_exceeded` naming `what`.
pub fn select_all(
    table: &str,
    filter: verofield_sdk::Filter,
    order: &[(&str, verofield_sdk::store::Direction)],
    max: usize,
    what: &str,
) -> Result<Vec<verofield_sdk::Record<Columns>>, Problem> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let mut select = verofield_sdk::store::Select::from(table)
            .filter(filter.clone())
            .limit(200)
            .cursor(cursor);
        for (column, direction) in order {
            select = select.order_by(column, *direction);
        }
        let page = select.fetch::<Columns>()?;
        rows.extend(page.items);
        if rows.len() > max {
            return Err(Problem::new(
                400,
                "limit_exceeded",
                format!("more than {max} {what}; narrow the request"),
            ));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}
