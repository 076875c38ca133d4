//! Turns the search's best plan back into the caller's [`Solution`]: ids instead of
//! indices, a timed stop list per used vehicle, and a reason for every unserved job.
//!
//! Times come from one replay of each route (`route::walk`), the same rules the insertion
//! checks summarise. The reasons are diagnostics for a dispatcher, computed by trying the
//! job alone on each vehicle: if it cannot be served even then, say which constraint is in
//! the way; otherwise it simply did not fit next to the other jobs.

use crate::instance::{Instance, TIME_EPS};
use crate::model::{
    Problem, RoutePlan, SearchStats, Solution, Stop, StopKind, Unassigned, UnassignedReason,
};
use crate::route::{Event, break_gap, walk};
use crate::search::Outcome;

pub fn build(problem: &Problem, instance: &Instance, outcome: &Outcome) -> Solution {
    let plan = &outcome.best;
    let objective = plan.objective(instance);
    let mut routes = Vec::new();
    for route in plan.routes.iter().filter(|r| !r.is_empty()) {
        routes.push(route_plan(problem, instance, route.vehicle, &route.jobs));
    }
    let mut unserved: Vec<u32> = plan.unserved.clone();
    unserved.sort_unstable();
    let unassigned = unserved
        .iter()
        .map(|&j| Unassigned {
            job_id: problem.jobs[j as usize].id.clone(),
            reason: reason(instance, j as usize),
        })
        .collect();
    let total_priority: f64 = instance.jobs.iter().map(|j| j.priority).sum();
    Solution {
        total_distance: routes.iter().map(|r| r.distance).sum(),
        routes,
        unassigned,
        served_priority: total_priority - objective.unserved_priority,
        unassigned_priority: objective.unserved_priority,
        total_fixed_cost: objective.fixed_cost,
        stats: SearchStats {
            iterations: outcome.iterations,
            elapsed_secs: outcome.elapsed_secs,
            best_iteration: outcome.best_iteration,
        },
    }
}

fn route_plan(problem: &Problem, instance: &Instance, vehicle: usize, jobs: &[u32]) -> RoutePlan {
    let rest_gap =
        break_gap(instance, vehicle, jobs).expect("the search keeps every route feasible");
    let matrix = &instance.matrix;
    let mut stops = Vec::with_capacity(jobs.len() + 3);
    let mut previous = instance.vehicles[vehicle].start;
    walk(instance, vehicle, jobs, rest_gap, |event| {
        let leg = |to: usize| (matrix.distance(previous, to), matrix.duration(previous, to));
        let stop = match event {
            Event::Start {
                location,
                departure,
            } => Stop {
                kind: StopKind::Start,
                job_id: None,
                location,
                arrival: departure,
                start: departure,
                departure,
                travel_distance: 0.0,
                travel_duration: 0.0,
            },
            Event::Job {
                job,
                arrival,
                start,
                departure,
            } => {
                let location = instance.jobs[job].location;
                let (travel_distance, travel_duration) = leg(location);
                previous = location;
                Stop {
                    kind: StopKind::Job,
                    job_id: Some(problem.jobs[job].id.clone()),
                    location,
                    arrival,
                    start,
                    departure,
                    travel_distance,
                    travel_duration,
                }
            }
            Event::Break {
                location,
                start,
                end,
            } => Stop {
                kind: StopKind::Break,
                job_id: None,
                location,
                arrival: start,
                start,
                departure: end,
                travel_distance: 0.0,
                travel_duration: 0.0,
            },
            Event::End { location, arrival } => {
                let (travel_distance, travel_duration) = leg(location);
                Stop {
                    kind: StopKind::End,
                    job_id: None,
                    location,
                    arrival,
                    start: arrival,
                    departure: arrival,
                    travel_distance,
                    travel_duration,
                }
            }
            Event::BreakMissed => unreachable!("break_gap found a feasible gap"),
        };
        stops.push(stop);
    });
    RoutePlan {
        vehicle_id: problem.vehicles[vehicle].id.clone(),
        distance: stops.iter().map(|s| s.travel_distance).sum(),
        travel_duration: stops.iter().map(|s| s.travel_duration).sum(),
        load: jobs.iter().map(|&j| instance.jobs[j as usize].demand).sum(),
        stops,
    }
}

fn reason(instance: &Instance, job: usize) -> UnassignedReason {
    let skilled: Vec<usize> = (0..instance.vehicles.len())
        .filter(|&v| instance.can_serve(v, job))
        .collect();
    if skilled.is_empty() {
        return UnassignedReason::NoSkilledVehicle;
    }
    let data = &instance.jobs[job];
    let roomy: Vec<usize> = skilled
        .into_iter()
        .filter(|&v| data.demand <= instance.vehicles[v].capacity)
        .collect();
    if roomy.is_empty() {
        return UnassignedReason::Capacity;
    }
    let mut window_reachable = false;
    for &v in &roomy {
        let vehicle = &instance.vehicles[v];
        let arrival = vehicle.shift_start + instance.matrix.duration(vehicle.start, data.location);
        let Some(start) = instance.earliest_start(job, arrival) else {
            continue;
        };
        window_reachable = true;
        let back = start + data.service + instance.matrix.duration(data.location, vehicle.end);
        if back <= vehicle.shift_end + TIME_EPS && break_gap(instance, v, &[job as u32]).is_some() {
            return UnassignedReason::NotInserted;
        }
    }
    if window_reachable {
        UnassignedReason::ShiftTooShort
    } else {
        UnassignedReason::WindowUnreachable
    }
}
