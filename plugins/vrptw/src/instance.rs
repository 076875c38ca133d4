//! The search's own view of a validated problem: dense indices, flat arrays, precomputed
//! compatibility and neighbour lists.
//!
//! Everything the inner loops ask ("can vehicle v serve job j?", "when can service start
//! at j if we arrive at t?", "which jobs are close to j?") is answered here by a lookup,
//! so the search never touches strings, skill sets or the caller's structs.

use std::collections::BTreeMap;

use crate::matrix::TravelMatrix;
use crate::model::Problem;

/// Tolerance on time comparisons: times are sums of doubles, and a plan exactly on a
/// window bound must not be rejected because of rounding.
pub const TIME_EPS: f64 = 1e-7;

/// The later of two times, which are never NaN. Not `f64::max`: on wasm32 that is a call
/// to `fmax` (its NaN rules differ from the wasm instruction's), in the module's hottest
/// loop; this is a compare and a select on every target.
#[inline(always)]
pub fn later(a: f64, b: f64) -> f64 {
    if a < b { b } else { a }
}

/// The earlier of two times; see [`later`].
#[inline(always)]
pub fn earlier(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// [`Instance::earliest_start`] over a job's windows already looked up.
#[inline]
pub fn earliest_start_in(windows: &[(f64, f64)], arrival: f64) -> Option<f64> {
    // Most jobs have one window: no loop (in wasm every loop iteration also checks the
    // module's deadline).
    if let [(open, close)] = *windows {
        return (arrival <= close + TIME_EPS).then(|| later(arrival, open));
    }
    windows
        .iter()
        .find(|w| arrival <= w.1 + TIME_EPS)
        .map(|w| later(arrival, w.0))
}

/// [`Instance::latest_start`] over a job's windows already looked up.
#[inline]
pub fn latest_start_in(windows: &[(f64, f64)], bound: f64) -> Option<f64> {
    if let [(open, close)] = *windows {
        return (open <= bound + TIME_EPS).then(|| earlier(bound, close));
    }
    windows
        .iter()
        .rev()
        .find(|w| w.0 <= bound + TIME_EPS)
        .map(|w| earlier(bound, w.1))
}

#[derive(Clone, Debug)]
pub struct JobData {
    pub location: usize,
    pub service: f64,
    pub demand: u64,
    pub priority: f64,
    /// Range into `Instance::windows`; sorted by start, never empty.
    windows: (u32, u32),
}

#[derive(Clone, Debug)]
pub struct VehicleData {
    pub start: usize,
    pub end: usize,
    pub shift_start: f64,
    pub shift_end: f64,
    /// (window start, window end, duration)
    pub rest: Option<(f64, f64, f64)>,
    pub capacity: u64,
    pub fixed_cost: f64,
    /// Vehicles with the same profile are interchangeable, so only one empty vehicle of a
    /// profile needs to be tried when inserting.
    pub profile: usize,
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub matrix: TravelMatrix,
    pub jobs: Vec<JobData>,
    pub vehicles: Vec<VehicleData>,
    windows: Vec<(f64, f64)>,
    can_serve: Vec<bool>,
    /// For each job, other jobs by increasing symmetric distance (capped length).
    pub neighbours: Vec<Vec<u32>>,
}

const MAX_NEIGHBOURS: usize = 100;

impl Instance {
    pub fn new(problem: &Problem) -> Self {
        let matrix = TravelMatrix::build(&problem.locations, &problem.travel);
        let mut windows = Vec::new();
        let jobs: Vec<JobData> = problem
            .jobs
            .iter()
            .map(|job| {
                let first = windows.len() as u32;
                let mut own: Vec<(f64, f64)> =
                    job.time_windows.iter().map(|w| (w.start, w.end)).collect();
                if own.is_empty() {
                    own.push((f64::NEG_INFINITY, f64::INFINITY));
                }
                own.sort_by(|a, b| a.0.total_cmp(&b.0));
                windows.extend(own);
                JobData {
                    location: job.location,
                    service: job.service,
                    demand: job.demand,
                    priority: job.priority,
                    windows: (first, windows.len() as u32),
                }
            })
            .collect();

        // A profile is everything that makes two vehicles differ for the search. A vehicle
        // named in some job's allow-list is not interchangeable with any other: it gets a key
        // of its own.
        let mut profiles: BTreeMap<String, usize> = BTreeMap::new();
        let vehicles: Vec<VehicleData> = problem
            .vehicles
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let named = problem
                    .jobs
                    .iter()
                    .any(|j| j.allowed_vehicles.contains(&v.id));
                let key = if named {
                    format!("vehicle #{index}")
                } else {
                    let mut skills = v.skills.clone();
                    skills.sort();
                    skills.dedup();
                    format!(
                        "{}|{:?}|{}|{}|{:?}|{:?}|{:?}|{}",
                        v.start_location,
                        v.end_location,
                        v.shift.start,
                        v.shift.end,
                        v.break_
                            .as_ref()
                            .map(|b| (b.window.start, b.window.end, b.duration)),
                        skills,
                        v.capacity,
                        v.fixed_cost,
                    )
                };
                let next = profiles.len();
                let profile = *profiles.entry(key).or_insert(next);
                VehicleData {
                    start: v.start_location,
                    end: v.end_location.unwrap_or(v.start_location),
                    shift_start: v.shift.start,
                    shift_end: v.shift.end,
                    rest: v
                        .break_
                        .as_ref()
                        .map(|b| (b.window.start, b.window.end, b.duration)),
                    capacity: v.capacity.unwrap_or(u64::MAX),
                    fixed_cost: v.fixed_cost,
                    profile,
                }
            })
            .collect();

        let mut can_serve = vec![false; problem.vehicles.len() * problem.jobs.len()];
        for (vi, v) in problem.vehicles.iter().enumerate() {
            for (ji, j) in problem.jobs.iter().enumerate() {
                let skilled = j.skills.iter().all(|s| v.skills.contains(s));
                let allowed = j.allowed_vehicles.is_empty() || j.allowed_vehicles.contains(&v.id);
                can_serve[vi * problem.jobs.len() + ji] = skilled && allowed;
            }
        }

        let n = jobs.len();
        // Keyed by (symmetric distance, index) so ties are ordered deterministically; only
        // the nearest MAX_NEIGHBOURS are kept, so select them before sorting (O(n) per job).
        // Both directions are read from a job's own rows (contiguous), and one buffer
        // serves every job.
        let mut neighbours = Vec::with_capacity(n);
        let mut others: Vec<(f64, u32)> = Vec::with_capacity(n);
        for (a, job) in jobs.iter().enumerate() {
            let (from_a, to_a) = (matrix.legs_from(job.location), matrix.legs_to(job.location));
            others.clear();
            others.extend(
                jobs.iter()
                    .enumerate()
                    .filter(|&(b, _)| b != a)
                    .map(|(b, other)| {
                        let lb = other.location;
                        (from_a[lb].distance + to_a[lb].distance, b as u32)
                    }),
            );
            let order = |x: &(f64, u32), y: &(f64, u32)| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1));
            if others.len() > MAX_NEIGHBOURS {
                others.select_nth_unstable_by(MAX_NEIGHBOURS, order);
                others.truncate(MAX_NEIGHBOURS);
            }
            others.sort_unstable_by(order);
            neighbours.push(others.iter().map(|&(_, b)| b).collect());
        }

        Self {
            matrix,
            jobs,
            vehicles,
            windows,
            can_serve,
            neighbours,
        }
    }

    #[inline]
    pub fn can_serve(&self, vehicle: usize, job: usize) -> bool {
        self.can_serve[vehicle * self.jobs.len() + job]
    }

    #[inline]
    pub fn windows_of(&self, job: usize) -> &[(f64, f64)] {
        let (a, b) = self.jobs[job].windows;
        &self.windows[a as usize..b as usize]
    }

    /// Earliest service start at `job` when arriving at `arrival`, waiting for the first
    /// window still open; `None` when every window has closed.
    #[inline]
    pub fn earliest_start(&self, job: usize, arrival: f64) -> Option<f64> {
        earliest_start_in(self.windows_of(job), arrival)
    }

    /// Latest service start at `job` that is inside a window and not after `bound`.
    /// Starting earlier never hurts what follows (waiting is allowed), so this single
    /// number summarises the feasibility of the route's remainder.
    #[inline]
    pub fn latest_start(&self, job: usize, bound: f64) -> Option<f64> {
        latest_start_in(self.windows_of(job), bound)
    }
}
