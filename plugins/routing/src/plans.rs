//! Stored plans: `GET /plans` (newest first, without their routes), `GET /plans/{id}` and
//! `POST /plans/{id}/apply`.
//!
//! Applying runs in the request's one transaction (an error answer rolls everything back):
//! every job the plan covers must still be at the version recorded when the plan was made,
//! else 409 `plan_stale` listing the changed job ids and nothing is written. Then each routed
//! job gets the route's technician as its only assignment, its planned service interval
//! (`planned_start` = service start, `planned_end` = service end) and the travel that reached
//! it (`planned_travel_meters`; the route's last job also carries the way home), and status
//! `scheduled` if it was `unscheduled` (through the field-operations transition: a history
//! row and `job.status_changed`, as when a dispatcher schedules it); `job.scheduled` (the
//! planned times) and `job.assigned` are emitted per job; the plan becomes `applied`. The
//! window promised to the customer (`window_start`/`window_end`) is never written here: it is
//! what on-time arrival is measured against and what the next optimisation must honour.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::events::{emit_job_scheduled, job_payload};
use verofield_field_ops::generate::transition;
use verofield_field_ops::{Columns, status, text};
use verofield_sdk::store::{Filter, Select, StoreError};
use verofield_sdk::{Problem, Request, Resource, Response, context, etag, events, store};

use crate::optimize::{PlanColumns, PlanRoute};
use crate::{ASSIGNMENTS, JOB_ASSIGNED, JOBS, PLANS};

const PLAN: Resource<PlanColumns> = Resource::new(PLANS, "plan");

/// A plan in a listing: everything but the routes, unassigned jobs and job versions, which
/// can run to megabytes for a large day (`GET /plans/{id}` has them).
#[derive(Debug, Serialize)]
struct PlanListed {
    id: String,
    version: u64,
    source: String,
    plan_date: Option<String>,
    status: String,
    summary: crate::optimize::Summary,
    search: crate::optimize::SearchInfo,
    created_by: Option<String>,
    applied_at: Option<String>,
    applied_by: Option<String>,
    created_at: Option<String>,
}

/// Plans are large rows: a page holds at most this many.
const MAX_LISTED: u32 = 20;

/// `GET /plans?date=YYYY-MM-DD&status=proposed|applied&limit=&cursor=`: newest first.
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    if let Some(date) = request.query("date") {
        if crate::time::parse_date(date).is_none() {
            return Err(Problem::invalid_query("date", "a date, YYYY-MM-DD"));
        }
        filters.push(Filter::eq("plan_date", date));
    }
    if let Some(status) = request.query("status") {
        if !matches!(status, "proposed" | "applied") {
            return Err(Problem::invalid_query("status", "proposed or applied"));
        }
        filters.push(Filter::eq("status", status));
    }
    let mut paging = request.paging()?;
    paging.limit = paging.limit.min(MAX_LISTED);
    let page = Select::from(PLANS)
        .filter(Filter::and(filters))
        .order_by("created_at", store::Direction::Desc)
        .page(paging)
        .fetch::<PlanColumns>()?;
    let items: Vec<PlanListed> = page
        .items
        .into_iter()
        .map(|plan| PlanListed {
            id: plan.id,
            version: plan.version,
            source: plan.values.source,
            plan_date: plan.values.plan_date,
            status: plan.values.status,
            summary: plan.values.summary,
            search: plan.values.search,
            created_by: plan.values.created_by,
            applied_at: plan.values.applied_at,
            applied_by: plan.values.applied_by,
            created_at: plan.values.created_at,
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /plans/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(
        200,
        &PLAN.existing(request.id_param("id")?)?,
    ))
}

#[derive(Debug, Deserialize)]
struct AssignmentColumns {}

/// `POST /plans/{id}/apply`
pub fn apply(request: &Request) -> Result<Response, Problem> {
    let plan = PLAN.existing(request.id_param("id")?)?;
    etag::check_if_match(request, plan.version)?;
    if plan.values.status == "applied" {
        return Err(Problem::new(
            409,
            "plan_already_applied",
            "this plan has been applied already",
        ));
    }
    if plan.values.source != "date" {
        return Err(Problem::new(
            409,
            "plan_not_applicable",
            "a plan of an inline problem has no jobs of this tenant to apply",
        ));
    }

    // Every job the plan saw must be unchanged.
    let mut changed = Vec::new();
    let mut jobs = std::collections::BTreeMap::new();
    for (job_id, recorded) in &plan.values.job_versions {
        match store::get::<Columns>(JOBS, job_id)? {
            Some(job) if Some(job.version) == recorded.as_u64() => {
                jobs.insert(job_id.clone(), job);
            }
            _ => changed.push(job_id.clone()),
        }
    }
    if !changed.is_empty() {
        return Err(stale(&changed));
    }

    let caller = context::caller().user_id;
    let mut applied = Vec::new();
    for route in &plan.values.routes {
        let travel = travel_per_job(route);
        for stop in &route.stops {
            let (Some(job_id), Some(start), Some(end)) =
                (&stop.job_id, &stop.start_at, &stop.departure_at)
            else {
                continue;
            };
            let Some(job) = jobs.get(job_id) else {
                return Err(Problem::internal(&format!(
                    "plan {} routes job {job_id} it has no version of",
                    plan.id
                )));
            };
            replace_assignments(job_id, &route.technician_id)?;
            let planned = json!({
                "planned_start": start,
                "planned_end": end,
                "planned_travel_meters": travel.get(job_id.as_str()),
            });
            let written = if text(&job.values, "status") == status::UNSCHEDULED {
                transition(
                    job,
                    status::SCHEDULED,
                    Some(&format!("routing plan {}", plan.id)),
                    &planned,
                )
            } else {
                store::update::<Columns>(JOBS, job_id, job.version, &planned).map_err(Problem::from)
            };
            let job = match written {
                Ok(job) => job,
                // Changed since it was read above (a concurrent write): the plan is stale.
                Err(problem) if matches!(problem.code, "conflict" | "not_found") => {
                    return Err(stale(std::slice::from_ref(job_id)));
                }
                Err(problem) => return Err(problem),
            };
            let technician_ids = [route.technician_id.clone()];
            emit_job_scheduled(&job, &technician_ids)?;
            emit_assigned(&job, &technician_ids, &plan.id, &caller)?;
            applied.push(json!({
                "job_id": job_id,
                "technician_id": route.technician_id,
                "planned_start": start,
                "planned_end": end,
            }));
        }
    }

    let now = context::now().rfc3339;
    let updated = store::update::<PlanColumns>(
        PLANS,
        &plan.id,
        plan.version,
        &json!({"status": "applied", "applied_at": now, "applied_by": caller}),
    )
    .map_err(|error| match error {
        StoreError::Conflict(_) => Problem::new(
            409,
            "conflict",
            "the plan was changed concurrently; fetch it again",
        ),
        other => other.into(),
    })?;
    let mut response = Response::json(200, &json!({"plan": updated, "applied": applied}));
    response.set_header("etag", &etag::etag(updated.version));
    Ok(response)
}

/// Each routed job's share of the route's distance in whole metres: the leg that reached it,
/// and for the last job also the legs after it (the way back to the depot), so the shares add
/// up to the route's distance.
fn travel_per_job(route: &PlanRoute) -> std::collections::HashMap<&str, i64> {
    let mut shares = std::collections::HashMap::new();
    let mut last_job = None;
    let mut pending = 0.0;
    for stop in &route.stops {
        pending += stop.travel_distance;
        if let Some(job_id) = &stop.job_id {
            shares.insert(job_id.as_str(), pending);
            last_job = Some(job_id.as_str());
            pending = 0.0;
        }
    }
    if let Some(share) = last_job.and_then(|job| shares.get_mut(job)) {
        *share += pending;
    }
    shares
        .into_iter()
        .map(|(job, metres)| (job, metres.max(0.0).round() as i64))
        .collect()
}

/// The job's assignments become exactly one: `technician_id`.
fn replace_assignments(job_id: &str, technician_id: &str) -> Result<(), Problem> {
    let mut cursor = None;
    let mut current = Vec::new();
    loop {
        let page = Select::from(ASSIGNMENTS)
            .filter(Filter::eq("job_id", job_id))
            .cursor(cursor)
            .limit(200)
            .fetch::<AssignmentColumns>()?;
        current.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for assignment in current {
        store::delete(ASSIGNMENTS, &assignment.id, Some(assignment.version))?;
    }
    store::insert::<Value>(
        ASSIGNMENTS,
        &json!({"job_id": job_id, "technician_id": technician_id}),
    )?;
    Ok(())
}

/// `job.assigned` for a job the plan gave to `technician_ids` (its only technicians now), with
/// the same fields the jobs module's assignment carries, plus the plan's id.
fn emit_assigned(
    job: &store::Record<Columns>,
    technician_ids: &[String],
    plan_id: &str,
    caller: &str,
) -> Result<(), Problem> {
    let more = json!({
        "technician_id": technician_ids.first(),
        "added_technician_ids": technician_ids,
        "technician_ids": technician_ids,
        "overridden_conflicts": [],
        "override_reason": null,
        "plan_id": plan_id,
        "by": caller,
        "assigned_at": context::now().rfc3339,
    });
    events::emit(JOB_ASSIGNED, &job_payload(job, more))
}

/// 409 `plan_stale` with the ids of the jobs that changed since the plan was made.
fn stale(job_ids: &[String]) -> Problem {
    Problem::new(
        409,
        "plan_stale",
        "jobs changed since the plan was made; optimise again",
    )
    .with("changed_job_ids", job_ids)
}
