//! One vehicle's route and the cached quantities that make insertion checks O(1).
//!
//! A route is the node sequence start, jobs..., end. For every node it caches the earliest
//! departure (forward pass: arrive, wait for the first open window, serve) and the latest
//! service start that keeps the rest of the route feasible (backward pass). Inserting job
//! j between nodes p and p+1 is then feasible iff service at j can start in a window after
//! leaving p at its earliest departure, and j can be left early enough to reach p+1 by
//! p+1's latest start: two lookups and a window scan, no re-simulation.
//!
//! A break makes that summary inexact (where to rest depends on the whole sequence), so
//! for vehicles with a break the O(1) test is used only as a necessary condition (the
//! break can only delay things); then one O(n) pass over the candidate sequence decides:
//! resting at a gap works iff the break fits its window there and the next node is still
//! reached by its latest start. The benchmark instances (no breaks) stay on the O(1) path.

use crate::instance::{Instance, TIME_EPS, later};
use crate::rng::{Chance, Rng};

#[derive(Debug)]
pub struct Route {
    pub vehicle: usize,
    pub jobs: Vec<u32>,
    /// Location of each node: start, jobs..., end.
    locations: Vec<u32>,
    /// Earliest departure from each node (for the end node: earliest arrival).
    departure: Vec<f64>,
    /// Latest service start at each node that keeps the remainder feasible.
    latest_start: Vec<f64>,
    pub load: u64,
    pub distance: f64,
    pub feasible: bool,
}

impl Clone for Route {
    fn clone(&self) -> Self {
        let mut route = Route::empty(self.vehicle);
        route.clone_from(self);
        route
    }

    /// Reuses the vectors' buffers: the search copies routes every iteration.
    fn clone_from(&mut self, source: &Self) {
        self.vehicle = source.vehicle;
        self.jobs.clone_from(&source.jobs);
        self.locations.clone_from(&source.locations);
        self.departure.clone_from(&source.departure);
        self.latest_start.clone_from(&source.latest_start);
        self.load = source.load;
        self.distance = source.distance;
        self.feasible = source.feasible;
    }
}

/// Reusable buffers for checking a candidate sequence of a vehicle with a break.
#[derive(Debug, Default)]
pub struct Scratch {
    jobs: Vec<u32>,
    latest: Vec<f64>,
}

impl Route {
    fn empty(vehicle: usize) -> Self {
        Self {
            vehicle,
            jobs: Vec::new(),
            locations: Vec::new(),
            departure: Vec::new(),
            latest_start: Vec::new(),
            load: 0,
            distance: 0.0,
            feasible: true,
        }
    }

    pub fn new(instance: &Instance, vehicle: usize) -> Self {
        let mut route = Self::empty(vehicle);
        route.update(instance);
        route
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Recomputes every cached quantity after the job sequence changed.
    pub fn update(&mut self, instance: &Instance) {
        let vehicle = &instance.vehicles[self.vehicle];
        let matrix = &instance.matrix;
        let n = self.jobs.len();

        self.locations.clear();
        self.locations.push(vehicle.start as u32);
        self.locations.extend(
            self.jobs
                .iter()
                .map(|&j| instance.jobs[j as usize].location as u32),
        );
        self.locations.push(vehicle.end as u32);

        self.load = self
            .jobs
            .iter()
            .map(|&j| instance.jobs[j as usize].demand)
            .sum();
        self.distance = self
            .locations
            .windows(2)
            .map(|w| matrix.distance(w[0] as usize, w[1] as usize))
            .sum();

        let mut feasible = self.load <= vehicle.capacity;

        self.departure.clear();
        self.departure.push(vehicle.shift_start);
        for k in 0..n {
            let job = self.jobs[k] as usize;
            let arrival = self.departure[k]
                + matrix.duration(self.locations[k] as usize, self.locations[k + 1] as usize);
            let departure = match instance.earliest_start(job, arrival) {
                Some(start) => start + instance.jobs[job].service,
                None => {
                    feasible = false;
                    f64::INFINITY
                }
            };
            self.departure.push(departure);
        }
        let end_arrival = self.departure[n]
            + matrix.duration(self.locations[n] as usize, self.locations[n + 1] as usize);
        self.departure.push(end_arrival);
        feasible &= end_arrival <= vehicle.shift_end + TIME_EPS;

        self.latest_start.clear();
        self.latest_start.resize(n + 2, f64::NEG_INFINITY);
        self.latest_start[n + 1] = vehicle.shift_end;
        for k in (1..=n).rev() {
            let job = self.jobs[k - 1] as usize;
            let bound = self.latest_start[k + 1]
                - matrix.duration(self.locations[k] as usize, self.locations[k + 1] as usize)
                - instance.jobs[job].service;
            self.latest_start[k] = instance
                .latest_start(job, bound)
                .unwrap_or(f64::NEG_INFINITY);
        }
        self.latest_start[0] = self.latest_start[1]
            - matrix.duration(self.locations[0] as usize, self.locations[1] as usize);

        if feasible && vehicle.rest.is_some() && n > 0 {
            feasible = rest_gap_from_latest(instance, self.vehicle, &self.jobs, &self.latest_start)
                .is_some();
        }
        self.feasible = feasible;
    }

    /// The cheapest position for `job` in this route whose added distance is below `bound`
    /// and that keeps every time constraint, as (added distance, gap); gap g is between
    /// node g and node g + 1 (gap 0 is right after the start). Each gap is first skipped
    /// when `rng` hits `blink` (SISR's blinks: one draw per gap, in order).
    ///
    /// This is the search's hot loop, shaped for the module build as much as for the
    /// native one: Cranelift (wasmtime's compiler) allocates registers less well than LLVM,
    /// and spilled and reloaded this loop's state on every gap when it was inlined into
    /// `recreate` with the time checks in it. So the loop keeps only what the distance test
    /// needs (the random state in locals, not behind the `&mut`), and the time checks,
    /// reached by the few gaps that pass the distance test, are a call to
    /// [`Route::time_fits`]. Distance is tested first: it is cheaper and rejects most gaps.
    #[inline(never)]
    pub fn cheapest_insertion(
        &self,
        instance: &Instance,
        job: usize,
        mut bound: f64,
        blink: Chance,
        rng: &mut Rng,
        scratch: &mut Scratch,
    ) -> Option<(f64, usize)> {
        let location = instance.jobs[job].location;
        let matrix = &instance.matrix;
        let n = self.jobs.len();
        let locations = &self.locations[..n + 2];
        let mut draws = rng.clone();
        let mut best = None;
        for gap in 0..=n {
            if draws.hit(blink) {
                continue;
            }
            let (before, after) = (locations[gap] as usize, locations[gap + 1] as usize);
            let delta = matrix.distance(before, location) + matrix.distance(location, after)
                - matrix.distance(before, after);
            if delta < bound && self.time_fits(instance, job, gap, scratch) {
                bound = delta;
                best = Some((delta, gap));
            }
        }
        *rng = draws;
        best
    }

    /// Whether `job` inserted at `gap` keeps every time constraint: service can start in
    /// one of its windows after leaving node `gap` at its earliest departure, and node
    /// `gap + 1` is still reached by its latest start (O(1)); with a break, also an O(n)
    /// pass. `scratch` is only used with a break.
    #[inline(never)]
    fn time_fits(
        &self,
        instance: &Instance,
        job: usize,
        gap: usize,
        scratch: &mut Scratch,
    ) -> bool {
        let data = &instance.jobs[job];
        let matrix = &instance.matrix;
        let (before, after) = (
            self.locations[gap] as usize,
            self.locations[gap + 1] as usize,
        );
        let arrival = self.departure[gap] + matrix.duration(before, data.location);
        let Some(start) = instance.earliest_start(job, arrival) else {
            return false;
        };
        if start + data.service + matrix.duration(data.location, after)
            > self.latest_start[gap + 1] + TIME_EPS
        {
            return false;
        }
        instance.vehicles[self.vehicle].rest.is_none()
            || self.rest_fits_with(instance, job, gap, scratch)
    }

    /// For a vehicle with a break: whether the route with `job` inserted at `gap` still
    /// has a place for the break (an O(n) pass; the O(1) test above is only necessary).
    #[inline(never)]
    fn rest_fits_with(
        &self,
        instance: &Instance,
        job: usize,
        gap: usize,
        scratch: &mut Scratch,
    ) -> bool {
        let sequence = &mut scratch.jobs;
        sequence.clear();
        sequence.extend_from_slice(&self.jobs[..gap]);
        sequence.push(job as u32);
        sequence.extend_from_slice(&self.jobs[gap..]);
        break_gap_in(instance, self.vehicle, sequence, &mut scratch.latest).is_some()
    }

    /// Whether the route can take `demand` more without exceeding capacity.
    #[inline]
    pub fn has_room_for(&self, instance: &Instance, demand: u64) -> bool {
        self.load.saturating_add(demand) <= instance.vehicles[self.vehicle].capacity
    }

    /// Inserts a job at a position `cheapest_insertion` found, updating the caches
    /// incrementally: times are recomputed outward from the new node only until they
    /// coincide with the old ones (everything beyond is then unchanged).
    pub fn insert(&mut self, instance: &Instance, job: usize, gap: usize) {
        let matrix = &instance.matrix;
        let data = &instance.jobs[job];
        let (before, after) = (
            self.locations[gap] as usize,
            self.locations[gap + 1] as usize,
        );
        self.distance += matrix.distance(before, data.location)
            + matrix.distance(data.location, after)
            - matrix.distance(before, after);
        self.load += data.demand;
        self.jobs.insert(gap, job as u32);
        self.locations.insert(gap + 1, data.location as u32);
        let node = gap + 1;
        let n = self.jobs.len();

        self.departure.insert(node, 0.0);
        for k in node..=n + 1 {
            let arrival = self.departure[k - 1]
                + matrix.duration(self.locations[k - 1] as usize, self.locations[k] as usize);
            let departure = if k == n + 1 {
                arrival
            } else {
                let j = self.jobs[k - 1] as usize;
                instance
                    .earliest_start(j, arrival)
                    .map_or(f64::INFINITY, |s| s + instance.jobs[j].service)
            };
            if k > node && departure == self.departure[k] {
                break;
            }
            self.departure[k] = departure;
        }

        self.latest_start.insert(node, 0.0);
        for k in (1..=node).rev() {
            let j = self.jobs[k - 1] as usize;
            let bound = self.latest_start[k + 1]
                - matrix.duration(self.locations[k] as usize, self.locations[k + 1] as usize)
                - instance.jobs[j].service;
            let latest = instance.latest_start(j, bound).unwrap_or(f64::NEG_INFINITY);
            if k < node && latest == self.latest_start[k] {
                break;
            }
            self.latest_start[k] = latest;
        }
        self.latest_start[0] = self.latest_start[1]
            - matrix.duration(self.locations[0] as usize, self.locations[1] as usize);
        debug_assert!(self.feasible);
        debug_assert!({
            let mut fresh = self.clone();
            fresh.update(instance);
            fresh.departure == self.departure
                && fresh.latest_start == self.latest_start
                && fresh.load == self.load
        });
    }
}

/// The gap after which the vehicle rests (0 = before the first job), if the sequence is
/// feasible with its break; `Some(None)` when there is no break to take. The break starts
/// as early as possible at that gap; distance does not depend on the gap, so the first gap
/// that works is as good as any. Allocates; the search uses [`break_gap_in`].
pub fn break_gap(instance: &Instance, vehicle: usize, jobs: &[u32]) -> Option<Option<usize>> {
    break_gap_in(instance, vehicle, jobs, &mut Vec::new())
}

/// [`break_gap`] with a reusable buffer for the latest service starts.
pub fn break_gap_in(
    instance: &Instance,
    vehicle: usize,
    jobs: &[u32],
    latest: &mut Vec<f64>,
) -> Option<Option<usize>> {
    if instance.vehicles[vehicle].rest.is_none() || jobs.is_empty() {
        return walk(instance, vehicle, jobs, None, |_| {}).then_some(None);
    }
    fill_latest_starts(instance, vehicle, jobs, latest);
    rest_gap_from_latest(instance, vehicle, jobs, latest)
}

/// Latest service start at every node (index k = node k; node 0 unused) such that the
/// rest of the route, without a break, stays feasible. Same quantity as
/// `Route::latest_start`, for a sequence that is not a route yet.
fn fill_latest_starts(instance: &Instance, vehicle: usize, jobs: &[u32], latest: &mut Vec<f64>) {
    let v = &instance.vehicles[vehicle];
    let n = jobs.len();
    latest.clear();
    latest.resize(n + 2, f64::NEG_INFINITY);
    latest[n + 1] = v.shift_end;
    let mut next_location = v.end;
    for k in (1..=n).rev() {
        let job = jobs[k - 1] as usize;
        let data = &instance.jobs[job];
        let bound =
            latest[k + 1] - instance.matrix.duration(data.location, next_location) - data.service;
        latest[k] = instance
            .latest_start(job, bound)
            .unwrap_or(f64::NEG_INFINITY);
        next_location = data.location;
    }
}

/// One forward pass: at each gap, resting as early as the window allows is feasible iff
/// the next node can still be reached by its latest start. Departures only grow along
/// the route, so once the break window has closed no later gap can work. O(n).
fn rest_gap_from_latest(
    instance: &Instance,
    vehicle: usize,
    jobs: &[u32],
    latest: &[f64],
) -> Option<Option<usize>> {
    let v = &instance.vehicles[vehicle];
    let (window_start, window_end, duration) = v.rest?;
    let mut time = v.shift_start;
    let mut at = v.start;
    for gap in 0..=jobs.len() {
        let rest_start = later(time, window_start);
        if rest_start > window_end + TIME_EPS {
            return None;
        }
        let next_location = jobs
            .get(gap)
            .map_or(v.end, |&j| instance.jobs[j as usize].location);
        if rest_start + duration + instance.matrix.duration(at, next_location)
            <= latest[gap + 1] + TIME_EPS
        {
            return Some(Some(gap));
        }
        let Some(&job) = jobs.get(gap) else { break };
        let job = job as usize;
        let arrival = time + instance.matrix.duration(at, next_location);
        time = instance.earliest_start(job, arrival)? + instance.jobs[job].service;
        at = next_location;
    }
    None
}

/// One step of a route's timeline, as produced by [`walk`].
#[derive(Clone, Copy, Debug)]
pub enum Event {
    Start {
        location: usize,
        departure: f64,
    },
    Job {
        job: usize,
        arrival: f64,
        start: f64,
        departure: f64,
    },
    Break {
        location: usize,
        start: f64,
        end: f64,
    },
    End {
        location: usize,
        arrival: f64,
    },
    BreakMissed,
}

/// Replays the route from the shift start, waiting for windows and resting at `rest_gap`,
/// reporting each event. Returns whether it finished within every window and the shift.
pub fn walk(
    instance: &Instance,
    vehicle: usize,
    jobs: &[u32],
    rest_gap: Option<usize>,
    mut on: impl FnMut(Event),
) -> bool {
    let v = &instance.vehicles[vehicle];
    let mut time = v.shift_start;
    let mut at = v.start;
    on(Event::Start {
        location: at,
        departure: time,
    });
    for gap in 0..=jobs.len() {
        if rest_gap == Some(gap)
            && let Some((window_start, window_end, duration)) = v.rest
        {
            let start = later(time, window_start);
            if start > window_end + TIME_EPS {
                on(Event::BreakMissed);
                return false;
            }
            time = start + duration;
            on(Event::Break {
                location: at,
                start,
                end: time,
            });
        }
        let Some(&job) = jobs.get(gap) else { break };
        let job = job as usize;
        let data = &instance.jobs[job];
        let arrival = time + instance.matrix.duration(at, data.location);
        let Some(start) = instance.earliest_start(job, arrival) else {
            return false;
        };
        time = start + data.service;
        at = data.location;
        on(Event::Job {
            job,
            arrival,
            start,
            departure: time,
        });
    }
    let arrival = time + instance.matrix.duration(at, v.end);
    on(Event::End {
        location: v.end,
        arrival,
    });
    arrival <= v.shift_end + TIME_EPS
}
