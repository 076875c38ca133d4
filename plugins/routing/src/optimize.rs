//! `POST /optimize`: solve one problem and store the plan.
//!
//! The body names either a `date` (the tenant's active technicians and that day's open jobs,
//! narrowed by `technician_ids` / `job_ids`; see [`crate::day`]) or an inline `problem` in the
//! solver's own JSON (`vrptw::Problem`: locations, travel model, vehicles, jobs). Either way
//! the search runs for `time_budget_ms` (default 2 s), capped by the call's deadline, or
//! `max_iterations`, with a fixed `seed`: the same body gives the same plan.
//!
//! A bad problem is 422 naming every offending field (`problem.jobs[3].time_windows[0]`,
//! `job_ids[1]`); nothing is stored then.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use verofield_sdk::{FieldError, Problem, Request, Response, Validator, context, store};

use crate::budget::{self, Budget};
use crate::time::format_rfc3339;
use crate::{PLANS, day, public_path};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizeBody {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub technician_ids: Option<Vec<String>>,
    #[serde(default)]
    pub job_ids: Option<Vec<String>>,
    /// Travel speed for the date path (straight-line distance), km/h.
    #[serde(default)]
    pub speed_kmh: Option<f64>,
    #[serde(default)]
    pub problem: Option<vrptw::Problem>,
    #[serde(default)]
    pub time_budget_ms: Option<u64>,
    #[serde(default)]
    pub max_iterations: Option<u64>,
    #[serde(default)]
    pub seed: Option<u64>,
}

/// One stop of a route. Times are in the problem's unit (seconds on the date path, with the
/// instants also given as RFC 3339 UTC in the `*_at` fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanStop {
    pub kind: vrptw::StopKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<usize>,
    pub arrival: f64,
    pub start: f64,
    pub departure: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure_at: Option<String>,
    /// Travel from the previous stop to this one.
    pub travel_distance: f64,
    pub travel_duration: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRoute {
    pub technician_id: String,
    pub jobs: usize,
    pub distance: f64,
    pub travel_duration: f64,
    pub stops: Vec<PlanStop>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanUnassigned {
    pub job_id: String,
    /// `no_skilled_technician`, `window_unreachable`, `shift_too_short`, `capacity`,
    /// `no_room` (it could be served alone, not beside the others), `no_location`,
    /// `invalid_window`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub jobs: usize,
    pub assigned: usize,
    pub unassigned: usize,
    pub routes: usize,
    pub total_distance: f64,
    pub total_travel_duration: f64,
    /// `m` and `s` on the date path; the caller's units for an inline problem.
    pub units: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchInfo {
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u64>,
    pub requested_budget_ms: u64,
    pub budget_ms: u64,
    /// The call's deadline was closer than the requested budget.
    pub capped_by_deadline: bool,
    pub iterations: u64,
    pub best_iteration: u64,
    pub elapsed_ms: u64,
}

/// The columns of a `routing_plans` row, which are also the plan as answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanColumns {
    /// `date` or `inline`.
    pub source: String,
    pub plan_date: Option<String>,
    /// `proposed` or `applied`.
    pub status: String,
    pub routes: Vec<PlanRoute>,
    pub unassigned: Vec<PlanUnassigned>,
    pub summary: Summary,
    pub search: SearchInfo,
    /// Job id -> the job row's version when the plan was made (date path).
    pub job_versions: serde_json::Map<String, Value>,
    pub created_by: Option<String>,
    #[serde(default)]
    pub applied_at: Option<String>,
    #[serde(default)]
    pub applied_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A problem ready to solve, with what the plan needs to remember about it.
pub struct Prepared {
    pub problem: vrptw::Problem,
    /// Unix seconds of time 0 on the date path (to render instants); none inline.
    pub epoch: Option<f64>,
    /// Jobs left out before solving, with why.
    pub excluded: Vec<PlanUnassigned>,
    pub job_versions: serde_json::Map<String, Value>,
    pub units: &'static str,
}

/// `POST /optimize`
pub fn optimize(request: &Request) -> Result<Response, Problem> {
    let deadline = verofield_sdk::Deadline::of(request);
    let body: OptimizeBody = request.json()?;
    let mut check = Validator::default();
    check.check(
        body.date.is_some() != body.problem.is_some(),
        if body.date.is_some() {
            "problem"
        } else {
            "date"
        },
        "give exactly one of `date` and `problem`",
    );
    if let Some(budget) = body.time_budget_ms {
        check.check(
            (1..=budget::MAX_BUDGET_MS).contains(&budget),
            "time_budget_ms",
            &format!("must be from 1 to {}", budget::MAX_BUDGET_MS),
        );
    }
    check.check(
        body.max_iterations != Some(0),
        "max_iterations",
        "must be positive",
    );
    if body.problem.is_some() {
        for (field, given) in [
            ("technician_ids", body.technician_ids.is_some()),
            ("job_ids", body.job_ids.is_some()),
            ("speed_kmh", body.speed_kmh.is_some()),
        ] {
            check.check(!given, field, "applies to a `date` only");
        }
    }
    check.finish()?;

    let prepared = match &body.problem {
        Some(problem) => Prepared {
            problem: problem.clone(),
            epoch: None,
            excluded: Vec::new(),
            job_versions: serde_json::Map::new(),
            units: "as given",
        },
        None => day::prepare(&body)?,
    };
    let budget = Budget::within(
        &deadline,
        body.time_budget_ms.unwrap_or(budget::DEFAULT_BUDGET_MS),
    );
    let seed = body.seed.unwrap_or(1);
    let solution =
        solve(&prepared.problem, budget, seed, body.max_iterations).map_err(|errors| {
            let prefix = if body.problem.is_some() {
                "problem."
            } else {
                ""
            };
            Problem::validation(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(format!("{prefix}{}", e.field), e.message))
                    .collect(),
            )
        })?;
    let columns = plan_columns(&body, &prepared, &solution, budget, seed);
    let plan = store::insert::<PlanColumns>(PLANS, &columns)?;
    Ok(Response::created(
        &public_path(&format!("/plans/{}", plan.id)),
        &plan,
    ))
}

pub fn solve(
    problem: &vrptw::Problem,
    budget: Budget,
    seed: u64,
    max_iterations: Option<u64>,
) -> Result<vrptw::Solution, Vec<vrptw::FieldError>> {
    let options = vrptw::SolveOptions {
        seed,
        time_limit_secs: budget.duration().as_secs_f64(),
        max_iterations: max_iterations.unwrap_or(u64::MAX),
        ..vrptw::SolveOptions::default()
    };
    vrptw::solve(problem, &options)
}

fn reason(reason: vrptw::UnassignedReason) -> &'static str {
    match reason {
        vrptw::UnassignedReason::NoSkilledVehicle => "no_skilled_technician",
        vrptw::UnassignedReason::Capacity => "capacity",
        vrptw::UnassignedReason::WindowUnreachable => "window_unreachable",
        vrptw::UnassignedReason::ShiftTooShort => "shift_too_short",
        vrptw::UnassignedReason::NotInserted => "no_room",
    }
}

fn plan_columns(
    body: &OptimizeBody,
    prepared: &Prepared,
    solution: &vrptw::Solution,
    budget: Budget,
    seed: u64,
) -> PlanColumns {
    let at = |t: f64| prepared.epoch.map(|epoch| format_rfc3339(epoch + t));
    let inline = prepared.epoch.is_none();
    let routes: Vec<PlanRoute> = solution
        .routes
        .iter()
        .map(|route| PlanRoute {
            technician_id: route.vehicle_id.clone(),
            jobs: route
                .stops
                .iter()
                .filter(|s| s.kind == vrptw::StopKind::Job)
                .count(),
            distance: route.distance,
            travel_duration: route.travel_duration,
            stops: route
                .stops
                .iter()
                .map(|stop| PlanStop {
                    kind: stop.kind,
                    job_id: stop.job_id.clone(),
                    location: inline.then_some(stop.location),
                    arrival: stop.arrival,
                    start: stop.start,
                    departure: stop.departure,
                    arrival_at: at(stop.arrival),
                    start_at: at(stop.start),
                    departure_at: at(stop.departure),
                    travel_distance: stop.travel_distance,
                    travel_duration: stop.travel_duration,
                })
                .collect(),
        })
        .collect();
    let mut unassigned: Vec<PlanUnassigned> = solution
        .unassigned
        .iter()
        .map(|u| PlanUnassigned {
            job_id: u.job_id.clone(),
            reason: reason(u.reason).to_owned(),
        })
        .collect();
    unassigned.extend(prepared.excluded.iter().cloned());
    let assigned: usize = routes.iter().map(|r| r.jobs).sum();
    let summary = Summary {
        jobs: assigned + unassigned.len(),
        assigned,
        unassigned: unassigned.len(),
        routes: routes.len(),
        total_distance: solution.total_distance,
        total_travel_duration: routes.iter().map(|r| r.travel_duration).sum(),
        units: prepared.units.to_owned(),
    };
    PlanColumns {
        source: if inline { "inline" } else { "date" }.to_owned(),
        plan_date: body.date.clone(),
        status: "proposed".to_owned(),
        routes,
        unassigned,
        summary,
        search: SearchInfo {
            seed,
            max_iterations: body.max_iterations,
            requested_budget_ms: budget.requested_ms,
            budget_ms: budget.effective_ms,
            capped_by_deadline: budget.capped_by_deadline,
            iterations: solution.stats.iterations,
            best_iteration: solution.stats.best_iteration,
            elapsed_ms: (solution.stats.elapsed_secs * 1000.0).round() as u64,
        },
        job_versions: prepared.job_versions.clone(),
        created_by: Some(context::caller().user_id),
        applied_at: None,
        applied_by: None,
        created_at: None,
        updated_at: None,
    }
}
