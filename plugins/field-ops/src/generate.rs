//! A recurring work order's jobs over a rolling horizon. Each occurrence date gets at most
//! one job (`occurrence_date`, unique per work order in the schema too), so running the
//! generation again creates nothing new. Generated jobs are `unscheduled` proposals with the
//! local date and window and the UTC instants computed in the work order's zone; a dispatcher
//! schedules (confirms) them. Editing the rule retracts only future unscheduled jobs and
//! regenerates.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use serde::Deserialize;
use serde_json::json;
use verofield_sdk::store::{self, Direction, Filter, Record};
use verofield_sdk::{Deadline, Problem, events};

use crate::rrule::Rule;
use crate::{Columns, HISTORY, JOB_STATUS_CHANGED, JOBS, WORK_ORDERS, select_all, status, time};

/// Most jobs one generation creates: a call has a deadline and a host-call budget, so a long
/// horizon is filled over several calls (each continues where the last stopped). A call
/// also stops early when its deadline draws near (a loaded host answers each insert more
/// slowly), so under load a call may create fewer.
pub const MAX_CREATED: usize = 200;
/// Most occurrences one horizon may hold.
pub const MAX_OCCURRENCES: usize = 4_000;

/// The columns of a work order generation reads.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkOrder {
    pub customer_id: String,
    pub location_id: String,
    #[serde(default)]
    pub agreement_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub recurrence: Option<String>,
    #[serde(default)]
    pub starts_on: Option<String>,
    #[serde(default)]
    pub ends_on: Option<String>,
    pub start_time: String,
    pub end_time: String,
    pub time_zone: String,
    pub duration_minutes: i64,
    pub priority: i64,
    pub horizon_days: i64,
    #[serde(default)]
    pub generated_until: Option<String>,
    #[serde(default)]
    pub service_type_ids: Vec<String>,
    #[serde(default)]
    pub required_skills: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

/// What a generation did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Generated {
    /// Ids of the jobs created.
    pub created: Vec<String>,
    /// Occurrence dates that already had a job.
    pub existing: usize,
    /// The last date the generation reached.
    pub generated_until: Option<String>,
    /// False when the horizon holds more than one call creates: call again to go on.
    pub complete: bool,
    /// Why an incomplete generation stopped: `batch_limit` (it created [`MAX_CREATED`]) or
    /// `deadline` (the call's time ran short).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
}

impl Generated {
    fn done() -> Self {
        Self {
            complete: true,
            ..Self::default()
        }
    }
}

/// Extends the rolling horizon of every open recurring work order to today plus its
/// `horizon_days` (the work-orders module's daily `extend-horizon` task). Generation skips
/// dates that have a job, so running it twice creates nothing the second time. Shares
/// [`MAX_CREATED`] among the work orders and stops when `deadline` draws near: whatever is
/// left is created at the next run (or by `POST /v1/work-orders/{id}/generate`). Returns the
/// jobs created and whether every horizon is complete.
pub fn extend_horizons(deadline: &Deadline) -> Result<(usize, bool), Problem> {
    let filter = Filter::and([
        Filter::eq("status", "open"),
        Filter::is_null("recurrence", false),
    ]);
    let (mut created, mut cursor) = (0, None);
    loop {
        let page = store::Select::from(WORK_ORDERS)
            .filter(filter.clone())
            .order_by("id", Direction::Asc)
            .limit(100)
            .cursor(cursor)
            .fetch::<WorkOrder>()?;
        for work_order in &page.items {
            let budget = MAX_CREATED.saturating_sub(created);
            if budget == 0 || deadline.exhausted() {
                return Ok((created, false));
            }
            let today = crate::plan::today(&work_order.values.time_zone);
            let generated = generate_up_to(work_order, today, budget, deadline)?;
            created += generated.created.len();
            if !generated.complete {
                return Ok((created, false));
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((created, true)),
        }
    }
}

/// Creates the missing jobs of a recurring, open work order from `today` (or its first date,
/// if later) to the end of its horizon (or its last date, if sooner), and records how far it
/// got. A work order that is not open or not recurring generates nothing. Stops early,
/// incomplete, when `deadline` is near.
pub fn generate(
    work_order: &Record<WorkOrder>,
    today: NaiveDate,
    deadline: &Deadline,
) -> Result<Generated, Problem> {
    generate_up_to(work_order, today, MAX_CREATED, deadline)
}

/// [`generate`], creating at most `budget` jobs (callers that generate several work orders in
/// one call share [`MAX_CREATED`] among them).
pub fn generate_up_to(
    work_order: &Record<WorkOrder>,
    today: NaiveDate,
    budget: usize,
    deadline: &Deadline,
) -> Result<Generated, Problem> {
    let wo = &work_order.values;
    let (Some(rule), Some(start)) = (wo.recurrence.as_deref(), wo.starts_on.as_deref()) else {
        return Ok(Generated::done());
    };
    if wo.status != "open" {
        return Ok(Generated::done());
    }
    let rule = Rule::parse(rule).map_err(|e| Problem::internal(&format!("stored rule: {e}")))?;
    let start = time::parse_date(start).ok_or_else(|| Problem::internal("stored starts_on"))?;
    let zone = time::zone(&wo.time_zone).ok_or_else(|| Problem::internal("stored time_zone"))?;
    let (Some(start_time), Some(end_time)) = (
        time::parse_hhmm(&wo.start_time),
        time::parse_hhmm(&wo.end_time),
    ) else {
        return Err(Problem::internal("stored window times"));
    };
    let from = start.max(today);
    let mut to = today
        .checked_add_days(Days::new(wo.horizon_days.max(1) as u64))
        .unwrap_or(today);
    if let Some(ends_on) = wo.ends_on.as_deref().and_then(time::parse_date) {
        to = to.min(ends_on);
    }
    let mut generated = Generated::done();
    if to < from {
        return Ok(generated);
    }
    let dates = rule.occurrences(start, from, to);
    if dates.len() > MAX_OCCURRENCES {
        return Err(Problem::new(
            422,
            "horizon_too_large",
            format!("the horizon holds more than {MAX_OCCURRENCES} visits; shorten it"),
        ));
    }
    let existing: BTreeSet<String> = select_all(
        JOBS,
        Filter::and([
            Filter::eq("work_order_id", work_order.id.as_str()),
            Filter::ge("occurrence_date", from.to_string()),
            Filter::le("occurrence_date", to.to_string()),
        ]),
        &[],
        MAX_OCCURRENCES,
        "jobs",
    )?
    .into_iter()
    .map(|job| crate::text(&job.values, "occurrence_date").to_owned())
    .collect();
    let mut reached = to;
    generated.complete = true;
    for date in dates {
        let key = date.to_string();
        if existing.contains(&key) {
            generated.existing += 1;
            continue;
        }
        let stopped = if generated.created.len() >= budget {
            Some("batch_limit")
        } else if deadline.exhausted() {
            Some("deadline")
        } else {
            None
        };
        if stopped.is_some() {
            generated.stopped = stopped;
            generated.complete = false;
            reached = date.pred_opt().unwrap_or(date);
            break;
        }
        let (window_start, window_end) = time::window(date, start_time, end_time, zone);
        let job: Record<serde::de::IgnoredAny> = store::insert(
            JOBS,
            &json!({
                "customer_id": wo.customer_id,
                "location_id": wo.location_id,
                "work_order_id": work_order.id,
                "service_type_ids": wo.service_type_ids,
                "required_skills": wo.required_skills,
                "scheduled_date": key,
                "occurrence_date": key,
                "window_start": time::rfc3339(window_start),
                "window_end": time::rfc3339(window_end),
                "window_start_local": wo.start_time,
                "window_end_local": wo.end_time,
                "time_zone": wo.time_zone,
                "duration_minutes": wo.duration_minutes,
                "priority": wo.priority,
                "status": status::UNSCHEDULED,
                "notes": if wo.notes.is_empty() { None } else { Some(&wo.notes) },
            }),
        )?;
        record_created(&job.id, "generated")?;
        generated.created.push(job.id);
    }
    let until = reached.to_string();
    generated.generated_until = Some(until.clone());
    if wo.generated_until.as_deref() != Some(until.as_str()) {
        store::update::<serde::de::IgnoredAny>(
            WORK_ORDERS,
            &work_order.id,
            work_order.version,
            &json!({"generated_until": until}),
        )?;
    }
    Ok(generated)
}

/// Deletes the work order's unscheduled jobs dated `from` or later (they are proposals
/// nobody has confirmed); returns how many.
pub fn retract_unscheduled(work_order_id: &str, from: NaiveDate) -> Result<usize, Problem> {
    let jobs = select_all(
        JOBS,
        Filter::and([
            Filter::eq("work_order_id", work_order_id),
            Filter::eq("status", status::UNSCHEDULED),
            Filter::ge("scheduled_date", from.to_string()),
        ]),
        &[("scheduled_date", Direction::Asc)],
        MAX_OCCURRENCES,
        "jobs",
    )?;
    for job in &jobs {
        store::delete(JOBS, &job.id, Some(job.version))?;
    }
    Ok(jobs.len())
}

/// Stops a work order's future: retracts its unscheduled jobs from `from` on and cancels the
/// confirmed ones that have not started (scheduled, dispatched, on hold), recording each
/// cancellation in the job's history and as `job.status_changed`. Started and completed jobs
/// stay as they are. Returns (retracted, canceled).
pub fn stop_future(
    work_order_id: &str,
    from: NaiveDate,
    note: &str,
) -> Result<(usize, usize), Problem> {
    let retracted = retract_unscheduled(work_order_id, from)?;
    let jobs = select_all(
        JOBS,
        Filter::and([
            Filter::eq("work_order_id", work_order_id),
            Filter::one_of(
                "status",
                [status::SCHEDULED, status::DISPATCHED, status::ON_HOLD],
            ),
            Filter::ge("scheduled_date", from.to_string()),
        ]),
        &[("scheduled_date", Direction::Asc)],
        MAX_OCCURRENCES,
        "jobs",
    )?;
    for job in &jobs {
        transition(job, status::CANCELED, Some(note), &json!({}))?;
    }
    Ok((retracted, jobs.len()))
}

/// The first history row of a new job (unscheduled), with `note` saying how it came to be.
pub fn record_created(job_id: &str, note: &str) -> Result<(), Problem> {
    store::insert::<serde::de::IgnoredAny>(
        HISTORY,
        &json!({
            "job_id": job_id,
            "from_status": null,
            "to_status": status::UNSCHEDULED,
            "changed_at": time::stamp(crate::now()),
            "changed_by": caller(),
            "note": note,
        }),
    )?;
    Ok(())
}

/// Moves a job to `to` (the caller has checked the transition is legal): sets the status, its
/// timestamp and `extra` columns, appends the history row and emits `job.status_changed`.
pub fn transition(
    job: &Record<Columns>,
    to: &str,
    note: Option<&str>,
    extra: &serde_json::Value,
) -> Result<Record<Columns>, Problem> {
    let from = crate::text(&job.values, "status").to_owned();
    let at = time::stamp(crate::now());
    let mut values = json!({"status": to, "status_changed_at": at});
    if let Some(column) = status::timestamp_column(to) {
        values[column] = json!(at);
    }
    if let Some(extra) = extra.as_object() {
        for (key, value) in extra {
            values[key] = value.clone();
        }
    }
    let updated: Record<Columns> = store::update(JOBS, &job.id, job.version, &values)?;
    let user = caller();
    store::insert::<serde::de::IgnoredAny>(
        HISTORY,
        &json!({
            "job_id": job.id,
            "from_status": from,
            "to_status": to,
            "changed_at": at,
            "changed_by": user,
            "note": note,
        }),
    )?;
    events::emit(
        JOB_STATUS_CHANGED,
        &json!({
            "job_id": job.id,
            "version": updated.version,
            "customer_id": updated.values.get("customer_id"),
            "location_id": updated.values.get("location_id"),
            "work_order_id": updated.values.get("work_order_id"),
            "service_type_ids": updated.values.get("service_type_ids"),
            "scheduled_date": updated.values.get("scheduled_date"),
            "custom": updated.values.get("custom"),
            "from": from,
            "to": to,
            "at": at,
            "by": user,
            "note": note,
        }),
    )?;
    Ok(updated)
}

/// The calling user, if the call has one (`changed_by` of history rows).
fn caller() -> Option<String> {
    Some(crate::caller_user_id()).filter(|user| !user.is_empty())
}
