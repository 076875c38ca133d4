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

use crate::instance::{Instance, TIME_EPS, earliest_start_in, later};
use crate::matrix::Leg;
use crate::rng::{Geometric, Rng};

#[derive(Debug)]
pub struct Route {
    pub vehicle: usize,
    pub jobs: Vec<u32>,
    /// The nodes start, jobs..., end with their cached quantities. One vector of records
    /// rather than one per quantity: the scan then walks one array, and inserting a job
    /// or copying a route moves one block of memory here instead of four (in the module
    /// build each move is a call out of the sandbox).
    nodes: Vec<Node>,
    /// Whether the vehicle has a break to place (the O(n) check applies).
    rests: bool,
    /// Size of the travel matrix every node's location was checked to be below.
    matrix_size: usize,
    pub load: u64,
    pub distance: f64,
    pub feasible: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    /// Earliest departure (for the end node: earliest arrival).
    departure: f64,
    /// Latest service start that keeps the remainder feasible.
    latest_start: f64,
    /// Distance of the leg to the next node (0 for the end node).
    next_distance: f64,
    location: u32,
}

impl Node {
    fn at(location: usize) -> Self {
        Self {
            departure: 0.0,
            latest_start: f64::NEG_INFINITY,
            next_distance: 0.0,
            location: location as u32,
        }
    }
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
        self.nodes.clone_from(&source.nodes);
        self.rests = source.rests;
        self.matrix_size = source.matrix_size;
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

/// The search's random stream, its blinks and the buffers insertion tests reuse.
#[derive(Debug)]
pub struct Workspace {
    pub rng: Rng,
    /// SISR's blink: every gap scanned is skipped with this chance.
    blink: Geometric,
    /// Gaps still to scan before the next blink; scans continue the count from one route
    /// to the next.
    until_blink: usize,
    scratch: Scratch,
}

impl Workspace {
    pub fn new(seed: u64, blink_rate: f64) -> Self {
        let mut rng = Rng::new(seed);
        let blink = Geometric::new(blink_rate);
        let until_blink = rng.misses(blink);
        Self {
            rng,
            blink,
            until_blink,
            scratch: Scratch::default(),
        }
    }

    /// The cheapest feasible insertion of the probed job into the routes `admit` lets in,
    /// as (cost, route, gap): `admit(r, route)` is `None` for a route not to try, else the
    /// fixed cost inserting into it adds. Gap g of a route is between node g and node
    /// g + 1 (gap 0 is right after the start); gaps hit by a blink are skipped (SISR: each
    /// with the blink chance, drawn as the distance to the next blink, a count that goes
    /// on from route to route and from job to job).
    ///
    /// Runs [`scan_insertions`], which calls nothing, and does for it what needs a call or
    /// a loop: the next blink's draw, the exact test of a job with several windows, and a
    /// break's O(n) check.
    pub fn cheapest_insertion(
        &mut self,
        routes: &[Route],
        probe: &Probe,
        mut admit: impl FnMut(usize, &Route) -> Option<f64>,
    ) -> Option<(f64, usize, usize)> {
        let mut scan = InsertionScan::new(self.until_blink);
        loop {
            match scan_insertions(routes, probe, &mut admit, &mut scan) {
                ScanStop::Done => break,
                ScanStop::Blink => {
                    scan.next_blink = scan.gap.saturating_add(self.rng.misses(self.blink));
                }
                ScanStop::Check { gap, delta } => {
                    let route = &routes[scan.route];
                    if (probe.one_window || route.fits_windows(probe, gap))
                        && (!route.rests || route.rest_fits_with(probe, gap, &mut self.scratch))
                    {
                        scan.accept(gap, delta);
                    }
                }
            }
        }
        self.until_blink = scan.next_blink;
        scan.best
    }
}

/// Why [`scan_insertions`] returned.
enum ScanStop {
    /// Every route was scanned.
    Done,
    /// The gap before `scan.gap` is a blink's: draw the next one and call again.
    Blink,
    /// This gap, at this added distance, passed the O(1) test, which is not exact for a job
    /// with several windows or a vehicle with a break: test those, [`InsertionScan::accept`]
    /// the gap if it fits, and call again.
    Check { gap: usize, delta: f64 },
}

/// Where a scan of one job's insertions stands between calls of [`scan_insertions`].
struct InsertionScan {
    route: usize,
    /// Whether `route` passed `admit` (its scan has begun).
    entered: bool,
    /// The next gap of `route` to scan.
    gap: usize,
    /// The gap of `route` the next blink falls on (past the route's gaps: a later route's).
    next_blink: usize,
    /// The fixed cost inserting into `route` adds.
    opening_cost: f64,
    /// Added distance an insertion into `route` must beat.
    bound: f64,
    best: Option<(f64, usize, usize)>,
}

impl InsertionScan {
    fn new(next_blink: usize) -> Self {
        Self {
            route: 0,
            entered: false,
            gap: 0,
            next_blink,
            opening_cost: 0.0,
            bound: f64::INFINITY,
            best: None,
        }
    }

    fn accept(&mut self, gap: usize, delta: f64) {
        self.bound = delta;
        self.best = Some((delta + self.opening_cost, self.route, gap));
    }
}

/// Scans the probed job's insertions into every gap of the admitted routes, from where
/// `scan` stands, keeping the cheapest that keeps every time constraint (see
/// [`Workspace::cheapest_insertion`]).
///
/// This is the search's hot loop, shaped for the module build as much as for the native
/// one. In the code Cranelift (wasmtime's compiler) makes, no register survives a call
/// but five integer ones: one call in the loop, even on a rare path, had the loop reload
/// its state from the stack at every gap. So this function calls nothing and has no loop
/// but its own: it returns to its caller for a blink's draw and for the exact test of
/// several windows or a break (see [`ScanStop`]), and the loop over routes is in it
/// too (a call per route cost more than the scan of a short route). (The module's
/// deadline check at every loop header is such a call too; the host's wasmtime makes it
/// preserve every register, see vendor/README.md.) Everything per job comes in one
/// `Probe` whose rows are read without bounds checks; the time test (arrive after leaving
/// `gap` at its earliest departure, start within the windows' hull, reach `gap + 1` by its
/// latest start) is inline.
#[inline(never)]
fn scan_insertions(
    routes: &[Route],
    probe: &Probe,
    admit: &mut impl FnMut(usize, &Route) -> Option<f64>,
    scan: &mut InsertionScan,
) -> ScanStop {
    let mut best_cost = scan.best.map_or(f64::INFINITY, |(cost, _, _)| cost);
    while let Some(route) = routes.get(scan.route) {
        let gaps = route.jobs.len() + 1;
        if !scan.entered {
            let Some(opening_cost) = admit(scan.route, route) else {
                scan.route += 1;
                continue;
            };
            *scan = InsertionScan {
                entered: true,
                gap: 0,
                opening_cost,
                bound: best_cost - opening_cost,
                ..*scan
            };
        }
        assert_eq!(
            probe.matrix_size, route.matrix_size,
            "probe of another instance"
        );
        let nodes = &route.nodes[..gaps + 1];
        let (gap, mut bound, next_blink) = (scan.gap, scan.bound, scan.next_blink);
        // A scan resumes one past a blink or a checked gap, so never past the route's end
        // (`first.add(gap)` below relies on it). The test build checks it; an `assert!`
        // here cost the module 2.4 % of its instructions.
        debug_assert!(gap <= gaps, "scan resumed past the route's end");
        // Up to the next blink or the route's end, whichever comes first: one bound for the
        // loop to test, and one value fewer for it to keep in a register.
        let stop = next_blink.min(gaps);
        let first = nodes.as_ptr();
        // One gap's test; on a pass it either records the gap as the best so far or, when
        // the test is not exact, returns for the caller to check it.
        macro_rules! test_gap {
            ($here:expr) => {{
                let here_ptr: *const Node = $here;
                // SAFETY: the loop below only passes nodes before `stop`, and `stop` is at
                // most `gaps`, so `here_ptr` and the node after it are within `nodes`.
                let (here, next) = unsafe { (&*here_ptr, &*here_ptr.add(1)) };
                let (before, after) = (here.location as usize, next.location as usize);
                // SAFETY: a route's locations are below its matrix size (asserted in `update`
                // and `insert`), which is the probe's (asserted above).
                let (to_job, from_job) = unsafe { probe.legs_via(before, after) };
                let delta = to_job.distance + from_job.distance - here.next_distance;
                'test: {
                    if delta >= bound {
                        break 'test;
                    }
                    let Some(start) = probe.hull_start(here.departure + to_job.duration) else {
                        break 'test;
                    };
                    if start + probe.service + from_job.duration > next.latest_start + TIME_EPS {
                        break 'test;
                    }
                    // SAFETY: both point into `nodes`.
                    let this = unsafe { here_ptr.offset_from(first) } as usize;
                    if route.rests || !probe.one_window {
                        (scan.gap, scan.bound) = (this + 1, bound);
                        return ScanStop::Check { gap: this, delta };
                    }
                    bound = delta;
                    best_cost = delta + scan.opening_cost;
                    scan.best = Some((best_cost, scan.route, this));
                }
            }};
        }
        // Four gaps per loop iteration: a quarter of the loop's own work, and in the module a
        // quarter of its deadline checks (one at every loop header); the same plans, native
        // time unchanged, the module about 2 % faster than with two (BENCHMARKS.md). The loop
        // walks a node pointer rather than an index: 3.7 % fewer instructions natively, 2.2 %
        // in the module.
        // SAFETY: `gap` (see above) and `stop` are at most `gaps`, and `nodes` holds
        // `gaps + 1` nodes; `here_ptr` stays between them (four steps only while at least
        // four gaps are left), so `offset_from` compares two pointers into `nodes`.
        let (mut here_ptr, stop_ptr) = unsafe { (first.add(gap), first.add(stop)) };
        while unsafe { stop_ptr.offset_from(here_ptr) } >= 4 {
            test_gap!(here_ptr);
            test_gap!(unsafe { here_ptr.add(1) });
            test_gap!(unsafe { here_ptr.add(2) });
            test_gap!(unsafe { here_ptr.add(3) });
            here_ptr = unsafe { here_ptr.add(4) };
        }
        // The last one to three gaps without a loop (so without the module's deadline check
        // per gap): a Solomon route has about ten.
        // SAFETY: fewer than four gaps are left; each test below is of one of them.
        let left = unsafe { stop_ptr.offset_from(here_ptr) };
        if left > 0 {
            test_gap!(here_ptr);
            if left > 1 {
                test_gap!(unsafe { here_ptr.add(1) });
                if left > 2 {
                    test_gap!(unsafe { here_ptr.add(2) });
                }
            }
            here_ptr = unsafe { here_ptr.add(left as usize) };
        }
        // SAFETY: `here_ptr` is within `nodes`: it only moved up to `stop_ptr`, or not at all.
        let gap = unsafe { here_ptr.offset_from(first) } as usize;
        if gap < gaps {
            // Stopped at the blink.
            (scan.gap, scan.bound) = (gap + 1, bound);
            return ScanStop::Blink;
        }
        // The loop passed every gap up to next_blink - 1.
        scan.next_blink = next_blink - gaps;
        scan.route += 1;
        scan.entered = false;
    }
    ScanStop::Done
}

/// One job as every insertion test of it needs it, looked up once per job rather than
/// once per gap: its service time, windows and travel rows (the legs from every node to it
/// are a contiguous slice, see [`crate::matrix::TravelMatrix::legs_to`]).
///
/// The rows all have the matrix's length, and a route only holds locations below it (both
/// asserted where they are built), so the scan reads them without bounds checks: in the
/// module build each check is two more loads and a branch per gap.
pub struct Probe<'a> {
    instance: &'a Instance,
    job: usize,
    service: f64,
    windows: &'a [(f64, f64)],
    /// (first open, last close + TIME_EPS): the job's windows as the scan tests them, in
    /// O(1) and without a loop; exact when the job has one window (most jobs), else only a
    /// necessary test, completed by [`Route::fits_windows`].
    hull: (f64, f64),
    one_window: bool,
    matrix_size: usize,
    /// Legs from every location to the job, and from the job to every location.
    legs_to: &'a [Leg],
    legs_from: &'a [Leg],
}

impl<'a> Probe<'a> {
    pub fn new(instance: &'a Instance, job: usize) -> Self {
        let location = instance.jobs[job].location;
        let matrix = &instance.matrix;
        let windows = instance.windows_of(job);
        let probe = Self {
            instance,
            job,
            service: instance.jobs[job].service,
            windows,
            hull: (
                windows[0].0,
                windows.iter().map(|w| w.1).fold(f64::NEG_INFINITY, later) + TIME_EPS,
            ),
            one_window: windows.len() == 1,
            matrix_size: matrix.size(),
            legs_to: matrix.legs_to(location),
            legs_from: matrix.legs_from(location),
        };
        let size = probe.matrix_size;
        assert!(probe.legs_to.len() == size && probe.legs_from.len() == size);
        probe
    }

    /// The legs from location `before` to the job and from the job to `after`.
    ///
    /// # Safety
    /// `before` and `after` are below `self.matrix_size` (the rows' length).
    #[inline(always)]
    unsafe fn legs_via(&self, before: usize, after: usize) -> (Leg, Leg) {
        debug_assert!(before < self.matrix_size && after < self.matrix_size);
        // SAFETY: both rows are `matrix_size` long (asserted in `new`).
        unsafe {
            (
                *self.legs_to.get_unchecked(before),
                *self.legs_from.get_unchecked(after),
            )
        }
    }

    /// Earliest service start within the windows' hull when arriving at `arrival`.
    #[inline(always)]
    fn hull_start(&self, arrival: f64) -> Option<f64> {
        let (open, close) = self.hull;
        (arrival <= close).then(|| later(arrival, open))
    }

    pub fn job(&self) -> usize {
        self.job
    }
}

impl Route {
    fn empty(vehicle: usize) -> Self {
        Self {
            vehicle,
            jobs: Vec::new(),
            nodes: Vec::new(),
            rests: false,
            matrix_size: 0,
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

    fn location(&self, node: usize) -> usize {
        self.nodes[node].location as usize
    }

    /// Recomputes every cached quantity after the job sequence changed.
    pub fn update(&mut self, instance: &Instance) {
        let vehicle = &instance.vehicles[self.vehicle];
        let matrix = &instance.matrix;
        let n = self.jobs.len();

        self.nodes.clear();
        self.nodes.push(Node::at(vehicle.start));
        self.nodes.extend(
            self.jobs
                .iter()
                .map(|&j| Node::at(instance.jobs[j as usize].location)),
        );
        self.nodes.push(Node::at(vehicle.end));
        self.matrix_size = matrix.size();
        assert!(
            self.nodes
                .iter()
                .all(|node| (node.location as usize) < self.matrix_size),
            "route locations outside the travel matrix"
        );

        self.load = self
            .jobs
            .iter()
            .map(|&j| instance.jobs[j as usize].demand)
            .sum();
        for k in 0..=n {
            self.nodes[k].next_distance = matrix.distance(self.location(k), self.location(k + 1));
        }
        self.distance = self.nodes.iter().map(|node| node.next_distance).sum();
        self.rests = vehicle.rest.is_some();

        let mut feasible = self.load <= vehicle.capacity;

        self.nodes[0].departure = vehicle.shift_start;
        for k in 0..n {
            let job = self.jobs[k] as usize;
            let arrival =
                self.nodes[k].departure + matrix.duration(self.location(k), self.location(k + 1));
            self.nodes[k + 1].departure = match instance.earliest_start(job, arrival) {
                Some(start) => start + instance.jobs[job].service,
                None => {
                    feasible = false;
                    f64::INFINITY
                }
            };
        }
        let end_arrival =
            self.nodes[n].departure + matrix.duration(self.location(n), self.location(n + 1));
        self.nodes[n + 1].departure = end_arrival;
        feasible &= end_arrival <= vehicle.shift_end + TIME_EPS;

        self.nodes[n + 1].latest_start = vehicle.shift_end;
        for k in (1..=n).rev() {
            let job = self.jobs[k - 1] as usize;
            let bound = self.nodes[k + 1].latest_start
                - matrix.duration(self.location(k), self.location(k + 1))
                - instance.jobs[job].service;
            self.nodes[k].latest_start = instance
                .latest_start(job, bound)
                .unwrap_or(f64::NEG_INFINITY);
        }
        self.nodes[0].latest_start =
            self.nodes[1].latest_start - matrix.duration(self.location(0), self.location(1));

        if feasible && vehicle.rest.is_some() && n > 0 {
            let nodes = &self.nodes;
            feasible = rest_gap_from_latest(instance, self.vehicle, &self.jobs, |k| {
                nodes[k].latest_start
            })
            .is_some();
        }
        self.feasible = feasible;
    }

    /// For a job with several windows, whether inserting it at `gap` keeps every time
    /// constraint (the scan tested the windows' hull).
    fn fits_windows(&self, probe: &Probe, gap: usize) -> bool {
        let (here, next) = (&self.nodes[gap], &self.nodes[gap + 1]);
        let to_job = probe.legs_to[here.location as usize];
        let from_job = probe.legs_from[next.location as usize];
        earliest_start_in(probe.windows, here.departure + to_job.duration).is_some_and(|start| {
            start + probe.service + from_job.duration <= next.latest_start + TIME_EPS
        })
    }

    /// For a vehicle with a break: whether the route with the probed job inserted at `gap`
    /// still has a place for the break (an O(n) pass; the O(1) test of [`scan_insertions`]
    /// is only necessary).
    #[inline(never)]
    fn rest_fits_with(&self, probe: &Probe, gap: usize, scratch: &mut Scratch) -> bool {
        let sequence = &mut scratch.jobs;
        sequence.clear();
        sequence.extend_from_slice(&self.jobs[..gap]);
        sequence.push(probe.job as u32);
        sequence.extend_from_slice(&self.jobs[gap..]);
        break_gap_in(probe.instance, self.vehicle, sequence, &mut scratch.latest).is_some()
    }

    /// Whether the route can take `demand` more without exceeding capacity.
    #[inline]
    pub fn has_room_for(&self, instance: &Instance, demand: u64) -> bool {
        self.load.saturating_add(demand) <= instance.vehicles[self.vehicle].capacity
    }

    /// Inserts a job at a position `Workspace::cheapest_insertion` found, updating the caches
    /// incrementally: times are recomputed outward from the new node only until they
    /// coincide with the old ones (everything beyond is then unchanged).
    pub fn insert(&mut self, instance: &Instance, job: usize, gap: usize) {
        let matrix = &instance.matrix;
        let data = &instance.jobs[job];
        assert!(
            data.location < self.matrix_size && matrix.size() == self.matrix_size,
            "inserted job outside the route's travel matrix"
        );
        let (before, after) = (self.location(gap), self.location(gap + 1));
        let (leg_in, leg_out) = (
            matrix.distance(before, data.location),
            matrix.distance(data.location, after),
        );
        self.distance += leg_in + leg_out - self.nodes[gap].next_distance;
        self.load += data.demand;
        self.jobs.insert(gap, job as u32);
        self.nodes[gap].next_distance = leg_in;
        let node = gap + 1;
        self.nodes.insert(
            node,
            Node {
                next_distance: leg_out,
                ..Node::at(data.location)
            },
        );
        let n = self.jobs.len();

        for k in node..=n + 1 {
            let arrival = self.nodes[k - 1].departure
                + matrix.duration(self.location(k - 1), self.location(k));
            let departure = if k == n + 1 {
                arrival
            } else {
                let j = self.jobs[k - 1] as usize;
                instance
                    .earliest_start(j, arrival)
                    .map_or(f64::INFINITY, |s| s + instance.jobs[j].service)
            };
            if k > node && departure == self.nodes[k].departure {
                break;
            }
            self.nodes[k].departure = departure;
        }

        for k in (1..=node).rev() {
            let j = self.jobs[k - 1] as usize;
            let bound = self.nodes[k + 1].latest_start
                - matrix.duration(self.location(k), self.location(k + 1))
                - instance.jobs[j].service;
            let latest = instance.latest_start(j, bound).unwrap_or(f64::NEG_INFINITY);
            if k < node && latest == self.nodes[k].latest_start {
                break;
            }
            self.nodes[k].latest_start = latest;
        }
        self.nodes[0].latest_start =
            self.nodes[1].latest_start - matrix.duration(self.location(0), self.location(1));
        debug_assert!(self.feasible);
        debug_assert!({
            let mut fresh = self.clone();
            fresh.update(instance);
            fresh.nodes == self.nodes && fresh.load == self.load
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
    rest_gap_from_latest(instance, vehicle, jobs, |k| latest[k])
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
    latest: impl Fn(usize) -> f64,
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
            <= latest(gap + 1) + TIME_EPS
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
