//! An independent feasibility checker for a [`Solution`] against its [`Problem`].
//!
//! It shares nothing with the search but the travel matrix (input data): it works on ids
//! and the caller's structs, re-simulates every route from scratch, and trusts none of the
//! reported numbers, only compares them. Tests and the benchmark run every returned plan
//! through it, so a bug in the solver's incremental bookkeeping shows up as a violation
//! here rather than as a too-good score.

use std::collections::{BTreeMap, BTreeSet};

use crate::matrix::TravelMatrix;
use crate::model::{Problem, Solution, StopKind};

/// Looser than the solver's own tolerance, so rounding never raises false alarms, yet far
/// below any real violation.
const EPS: f64 = 1e-6;

/// Every violation found; empty means the plan is feasible and its report consistent.
pub fn check(problem: &Problem, solution: &Solution) -> Vec<String> {
    let mut violations = Vec::new();
    let matrix = TravelMatrix::build(&problem.locations, &problem.travel);
    let jobs: BTreeMap<&str, usize> = problem
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    let vehicles: BTreeMap<&str, usize> = problem
        .vehicles
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let mut seen_jobs = BTreeSet::new();
    let mut seen_vehicles = BTreeSet::new();
    let mut total_distance = 0.0;
    let mut fixed_cost = 0.0;

    for route in &solution.routes {
        let Some(&v) = vehicles.get(route.vehicle_id.as_str()) else {
            violations.push(format!("route for unknown vehicle {:?}", route.vehicle_id));
            continue;
        };
        if !seen_vehicles.insert(v) {
            violations.push(format!("vehicle {:?} has two routes", route.vehicle_id));
        }
        let vehicle = &problem.vehicles[v];
        fixed_cost += vehicle.fixed_cost;
        let name = &route.vehicle_id;
        let stops = &route.stops;
        if stops.len() < 2
            || stops[0].kind != StopKind::Start
            || stops[stops.len() - 1].kind != StopKind::End
        {
            violations.push(format!(
                "{name}: route must begin with a start and finish with an end stop"
            ));
            continue;
        }

        let mut time = vehicle.shift.start;
        let mut at = vehicle.start_location;
        if stops[0].location != at || (stops[0].departure - time).abs() > EPS {
            violations.push(format!(
                "{name}: must leave its start location at the shift start"
            ));
        }
        let mut distance = 0.0;
        let mut load = 0u64;
        let mut breaks = 0;
        let mut served = 0;
        for (k, stop) in stops.iter().enumerate().skip(1) {
            let here = format!("{name} stop {k}");
            match stop.kind {
                StopKind::Start => violations.push(format!("{here}: second start")),
                StopKind::Break => {
                    breaks += 1;
                    let Some(rest) = &vehicle.break_ else {
                        violations.push(format!("{here}: break for a vehicle without one"));
                        continue;
                    };
                    if stop.location != at || stop.travel_distance != 0.0 {
                        violations.push(format!("{here}: a break is taken where the vehicle is"));
                    }
                    if stop.start < time - EPS {
                        violations.push(format!("{here}: break starts before the vehicle is free"));
                    }
                    if stop.start < rest.window.start - EPS || stop.start > rest.window.end + EPS {
                        violations.push(format!("{here}: break starts outside its window"));
                    }
                    if (stop.departure - stop.start - rest.duration).abs() > EPS {
                        violations.push(format!("{here}: break has the wrong duration"));
                    }
                    time = stop.start.max(time) + rest.duration;
                }
                StopKind::Job | StopKind::End => {
                    let location = if stop.kind == StopKind::End {
                        vehicle.end_location.unwrap_or(vehicle.start_location)
                    } else {
                        let Some(&j) = stop.job_id.as_deref().and_then(|id| jobs.get(id)) else {
                            violations.push(format!("{here}: unknown job {:?}", stop.job_id));
                            continue;
                        };
                        problem.jobs[j].location
                    };
                    if stop.location != location {
                        violations.push(format!(
                            "{here}: reported location {} is not {location}",
                            stop.location
                        ));
                    }
                    let leg_distance = matrix.distance(at, location);
                    let arrival = time + matrix.duration(at, location);
                    distance += leg_distance;
                    if (stop.travel_distance - leg_distance).abs() > EPS {
                        violations.push(format!(
                            "{here}: reported leg distance {} is not {leg_distance}",
                            stop.travel_distance
                        ));
                    }
                    if (stop.arrival - arrival).abs() > EPS * (1.0 + arrival.abs()) {
                        violations.push(format!(
                            "{here}: reported arrival {} is not {arrival}",
                            stop.arrival
                        ));
                    }
                    at = location;
                    if stop.kind == StopKind::End {
                        if arrival > vehicle.shift.end + EPS {
                            violations.push(format!(
                                "{here}: returns at {arrival}, after the shift ends at {}",
                                vehicle.shift.end
                            ));
                        }
                        time = arrival;
                        continue;
                    }
                    let j = jobs[stop.job_id.as_deref().unwrap_or_default()];
                    let job = &problem.jobs[j];
                    served += 1;
                    if !seen_jobs.insert(j) {
                        violations.push(format!("{here}: job {:?} served twice", job.id));
                    }
                    if !job.skills.iter().all(|s| vehicle.skills.contains(s)) {
                        violations.push(format!(
                            "{here}: vehicle lacks a skill job {:?} requires",
                            job.id
                        ));
                    }
                    if !job.allowed_vehicles.is_empty()
                        && !job.allowed_vehicles.contains(&vehicle.id)
                    {
                        violations.push(format!(
                            "{here}: job {:?} does not allow this vehicle",
                            job.id
                        ));
                    }
                    if stop.start < arrival - EPS {
                        violations.push(format!("{here}: service starts before arrival"));
                    }
                    let in_window = job.time_windows.is_empty()
                        || job
                            .time_windows
                            .iter()
                            .any(|w| stop.start >= w.start - EPS && stop.start <= w.end + EPS);
                    if !in_window {
                        violations.push(format!(
                            "{here}: job {:?} starts at {} outside its windows",
                            job.id, stop.start
                        ));
                    }
                    if (stop.departure - stop.start - job.service).abs() > EPS {
                        violations.push(format!("{here}: departure is not start plus service"));
                    }
                    load += job.demand;
                    time = stop.start.max(arrival) + job.service;
                }
            }
        }
        if served == 0 {
            violations.push(format!("{name}: route serves no job"));
        }
        if vehicle.break_.is_some() && breaks != 1 {
            violations.push(format!("{name}: takes {breaks} breaks, expected 1"));
        }
        if let Some(capacity) = vehicle.capacity
            && load > capacity
        {
            violations.push(format!("{name}: load {load} exceeds capacity {capacity}"));
        }
        if load != route.load {
            violations.push(format!(
                "{name}: reported load {} is not {load}",
                route.load
            ));
        }
        if (distance - route.distance).abs() > EPS * (1.0 + distance) {
            violations.push(format!(
                "{name}: reported distance {} is not {distance}",
                route.distance
            ));
        }
        total_distance += distance;
    }

    let unassigned: BTreeSet<&str> = solution
        .unassigned
        .iter()
        .map(|u| u.job_id.as_str())
        .collect();
    for (i, job) in problem.jobs.iter().enumerate() {
        let served = seen_jobs.contains(&i);
        let listed = unassigned.contains(job.id.as_str());
        if served == listed {
            violations.push(format!(
                "job {:?} must be either served or listed unassigned, exactly once",
                job.id
            ));
        }
    }
    if unassigned.len() != solution.unassigned.len() {
        violations.push("a job is listed unassigned twice".into());
    }
    if (total_distance - solution.total_distance).abs() > EPS * (1.0 + total_distance) {
        violations.push(format!(
            "reported total {} is not {total_distance}",
            solution.total_distance
        ));
    }
    if (fixed_cost - solution.total_fixed_cost).abs() > EPS * (1.0 + fixed_cost) {
        violations.push(format!(
            "reported fixed cost {} is not {fixed_cost}",
            solution.total_fixed_cost
        ));
    }
    violations
}
