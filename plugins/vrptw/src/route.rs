//! One vehicle's route and the cached quantities that make insertion checks O(1).
//!
//! A route is the node sequence start, jobs..., end. For every node it caches the earliest
//! departure (forward pass: arrive, wait for the first open window, serve) and the latest
//! service start that keeps the rest of the route feasible (backward pass). Inserting job
//! j between nodes p and p+1 is then feasible iff service at j can start in a window after
//! leaving p at its earliest departure, and j can be left early enough to reach p+1 by
//! p+1's latest start: two lookups and a window scan, no re-simulation.
//!
//! A vehicle with a break caches the same two times once more with the break in them
//! ([`RestNode`]): the earliest departure having rested already, and the latest service
//! start with the break still to take. Both are exact for the same reason the plain ones
//! are (earlier is better before, later is allowed after, in either state), so inserting
//! j stays O(1): rest before j (arrive at j rested, then reach p+1 by its plain latest
//! start) or after it (leave j unrested by the latest departure that still rests, at the
//! gap after j or further on). The O(1) test without the break is run first; it is a
//! necessary condition, since a break only delays.

use crate::instance::{Instance, TIME_EPS, earlier, earliest_start_in, later, latest_start_in};
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
    /// The vehicle's break, if it has one to place (the [`RestNode`] test applies).
    rest: Option<Rest>,
    /// For a vehicle with a break, one record per node (empty otherwise, so that routes
    /// without breaks carry and copy nothing more).
    rest_nodes: Vec<RestNode>,
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

/// What a vehicle with a break caches per node besides its [`Node`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct RestNode {
    /// Earliest departure having rested at a gap before this node (+inf at the start, or
    /// where no such rest keeps the windows).
    rested_departure: f64,
    /// Latest service start (at the start node: departure) such that the rest of the route,
    /// with the break taken at the gap after this node or a later one, stays feasible
    /// (-inf at the end, or where the break no longer fits).
    latest_start_to_rest: f64,
}

impl RestNode {
    /// Before its times are computed: no rest reaches it, and none leaves from it.
    const UNREACHABLE: Self = Self {
        rested_departure: f64::INFINITY,
        latest_start_to_rest: f64::NEG_INFINITY,
    };
}

/// A vehicle's break: window and duration.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rest {
    window_start: f64,
    window_end: f64,
    duration: f64,
}

impl Rest {
    fn new((window_start, window_end, duration): (f64, f64, f64)) -> Self {
        Self {
            window_start,
            window_end,
            duration,
        }
    }

    /// End of the break taken as early as its window allows after leaving a node at
    /// `departure`; +inf once the window has closed.
    #[inline]
    fn end_after(self, departure: f64) -> f64 {
        let start = later(departure, self.window_start);
        if start > self.window_end + TIME_EPS {
            f64::INFINITY
        } else {
            start + self.duration
        }
    }

    /// Latest departure from a node that rests at the gap after it and still reaches the
    /// next node, `travel` away, by `next_latest_start`; -inf if none does. The break is a
    /// stop with one window and no travel to it, so this is [`Instance::latest_start`]'s
    /// rule.
    #[inline]
    fn latest_departure_before(self, travel: f64, next_latest_start: f64) -> f64 {
        let bound = next_latest_start - travel - self.duration;
        if self.window_start <= bound + TIME_EPS {
            earlier(bound, self.window_end)
        } else {
            f64::NEG_INFINITY
        }
    }

    /// Earliest arrival at the next node, `travel` away, having rested: at an earlier gap
    /// (departing at `rested_departure`) or at this one (departing unrested at `departure`).
    #[inline]
    fn rested_arrival(self, departure: f64, rested_departure: f64, travel: f64) -> f64 {
        earlier(rested_departure, self.end_after(departure)) + travel
    }

    /// Whether a job inserted between two nodes (`here` and `next`, each with its rest
    /// record), `legs` away in time (to it, from it), leaves a place for the break: rest
    /// before the job (arrive at it rested, then reach the next node by its latest start)
    /// or after it (leave it by the latest departure that still rests).
    /// `departure_from(arrival)` is the job's departure when arriving at `arrival`, if a
    /// window is still open. O(1), and no call once inlined (the scan tests it per gap).
    #[inline(always)]
    fn fits_around(
        self,
        (here, here_rest): (&Node, &RestNode),
        (next, next_rest): (&Node, &RestNode),
        (to_job, from_job): (f64, f64),
        departure_from: impl Fn(f64) -> Option<f64>,
    ) -> bool {
        let rested_first =
            departure_from(self.rested_arrival(here.departure, here_rest.rested_departure, to_job))
                .is_some_and(|departure| departure + from_job <= next.latest_start + TIME_EPS);
        rested_first
            || departure_from(here.departure + to_job).is_some_and(|departure| {
                departure
                    <= self.latest_departure_to_rest(
                        from_job,
                        next.latest_start,
                        next_rest.latest_start_to_rest,
                    ) + TIME_EPS
            })
    }

    /// Latest departure from a node with the break still to take: at the gap after it, or
    /// at a later gap (the next node's `latest_start_to_rest`).
    #[inline]
    fn latest_departure_to_rest(
        self,
        travel: f64,
        next_latest_start: f64,
        next_latest_start_to_rest: f64,
    ) -> f64 {
        later(
            self.latest_departure_before(travel, next_latest_start),
            next_latest_start_to_rest - travel,
        )
    }
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
        self.rest = source.rest;
        self.rest_nodes.clone_from(&source.rest_nodes);
        self.matrix_size = source.matrix_size;
        self.load = source.load;
        self.distance = source.distance;
        self.feasible = source.feasible;
    }
}

/// The search's random stream and its blinks.
#[derive(Debug)]
pub struct Workspace {
    pub rng: Rng,
    /// SISR's blink: every gap scanned is skipped with this chance.
    blink: Geometric,
    /// Gaps still to scan before the next blink; scans continue the count from one route
    /// to the next.
    until_blink: usize,
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
        }
    }

    /// The cheapest feasible insertion of the probed job into the routes `filter` admits
    /// among those listed in `order` (by index, increasing: ties go to the first), as
    /// (cost, route, gap). Gap g of a route is between node g and node
    /// g + 1 (gap 0 is right after the start); gaps hit by a blink are skipped (SISR: each
    /// with the blink chance, drawn as the distance to the next blink, a count that goes
    /// on from route to route and from job to job).
    ///
    /// Runs [`scan_insertions`], which calls nothing, and does for it what needs a call or
    /// a loop: the next blink's draw and the exact test of a job with several windows.
    pub fn cheapest_insertion(
        &mut self,
        routes: &[Route],
        order: &[u32],
        probe: &Probe,
        filter: impl RouteFilter,
    ) -> Option<(f64, usize, usize)> {
        let mut scan = InsertionScan::new(self.until_blink);
        let mut rests = false;
        loop {
            let stop = if rests {
                scan_insertions::<true>(routes, order, probe, &filter, &mut scan)
            } else {
                scan_insertions::<false>(routes, order, probe, &filter, &mut scan)
            };
            match stop {
                ScanStop::Done => break,
                ScanStop::Switch => rests = !rests,
                ScanStop::Blink => {
                    scan.next_blink = scan.gap.saturating_add(self.rng.misses(self.blink));
                }
                ScanStop::Check { gap, delta } => {
                    let route = &routes[scan.route];
                    if (probe.one_window || route.fits_windows(probe, gap))
                        && route
                            .rest
                            .is_none_or(|rest| route.rest_fits_with(rest, probe, gap))
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

/// Which routes an insertion scan tries.
pub trait RouteFilter {
    /// `None` for a route not to try, else the fixed cost inserting into it adds. A
    /// trait rather than a closure so that its implementation can be `#[inline(always)]`:
    /// called from both compilations of [`scan_insertions`], a closure was not inlined
    /// (a call per route).
    fn admit(&self, route: &Route) -> Option<f64>;
}

/// Why [`scan_insertions`] returned.
enum ScanStop {
    /// Every route was scanned.
    Done,
    /// The next route's vehicle has a break and this scan's compilation is for vehicles
    /// without one, or the other way round: call the other.
    Switch,
    /// The gap before `scan.gap` is a blink's: draw the next one and call again.
    Blink,
    /// This gap, at this added distance, passed the O(1) test, which is not exact for a job
    /// with several windows: test those (and the break in them), [`InsertionScan::accept`]
    /// the gap if it fits, and call again.
    Check { gap: usize, delta: f64 },
}

/// Where a scan of one job's insertions stands between calls of [`scan_insertions`].
struct InsertionScan {
    /// Where the scan is in the order of routes, and that route's index once it is entered.
    position: usize,
    route: usize,
    /// Whether `route` passed the filter (its scan has begun).
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
            position: 0,
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
/// several windows (see [`ScanStop`]), and the loop over routes is in it
/// too (a call per route cost more than the scan of a short route). (The module's
/// deadline check at every loop header is such a call too, on a cold path; stock wasmtime
/// makes it with the wasm calling convention, see docs/upstream/README.md.) Everything per
/// job comes in one `Probe` whose rows are read without bounds checks; the time test (arrive after leaving
/// `gap` at its earliest departure, start within the windows' hull, reach `gap + 1` by its
/// latest start) is inline, and so is a break's, on the gaps that pass it (a return per
/// such gap cost more). Compiled twice, for routes with a break (`RESTS`) and without, so
/// that the loop of routes without a break carries neither the break's test nor its values;
/// it returns [`ScanStop::Switch`] when the kind changes.
#[inline(never)]
fn scan_insertions<const RESTS: bool>(
    routes: &[Route],
    order: &[u32],
    probe: &Probe,
    filter: &impl RouteFilter,
    scan: &mut InsertionScan,
) -> ScanStop {
    let mut best_cost = scan.best.map_or(f64::INFINITY, |(cost, _, _)| cost);
    while let Some(&r) = order.get(scan.position) {
        let route = &routes[r as usize];
        if route.rest.is_some() != RESTS {
            return ScanStop::Switch;
        }
        let gaps = route.jobs.len() + 1;
        if !scan.entered {
            let Some(opening_cost) = filter.admit(route) else {
                scan.position += 1;
                continue;
            };
            *scan = InsertionScan {
                route: r as usize,
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
        // (`first.add(gap)` below relies on it). The test build checks it; the release build
        // keeps the check off this path, which every resumed scan takes.
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
                    if !probe.one_window {
                        (scan.gap, scan.bound) = (this + 1, bound);
                        return ScanStop::Check { gap: this, delta };
                    }
                    if let Some(rest) = route.rest
                        && RESTS
                    {
                        debug_assert_eq!(route.rest_nodes.len(), route.nodes.len());
                        // SAFETY: a route with a break has a rest record per node (`update`,
                        // `insert`), and `this + 1` is a node.
                        let (here_rest, next_rest) = unsafe {
                            (
                                route.rest_nodes.get_unchecked(this),
                                route.rest_nodes.get_unchecked(this + 1),
                            )
                        };
                        let fits = rest.fits_around(
                            (here, here_rest),
                            (next, next_rest),
                            (to_job.duration, from_job.duration),
                            |arrival| probe.hull_start(arrival).map(|start| start + probe.service),
                        );
                        if !fits {
                            break 'test;
                        }
                    }
                    bound = delta;
                    best_cost = delta + scan.opening_cost;
                    scan.best = Some((best_cost, scan.route, this));
                }
            }};
        }
        // Four gaps per loop iteration: a quarter of the loop's own work, and in the module a
        // quarter of its deadline checks (one at every loop header); the plans do not depend
        // on it. The loop walks a node pointer rather than an index, so each gap's fields are
        // loads at fixed offsets from one pointer, with no index arithmetic per gap.
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
        scan.position += 1;
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
            rest: None,
            rest_nodes: Vec::new(),
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
        self.rest = vehicle.rest.map(Rest::new);

        self.rest_nodes.clear();
        if self.rest.is_some() {
            self.rest_nodes.resize(n + 2, RestNode::UNREACHABLE);
        }
        self.nodes[0].departure = vehicle.shift_start;
        self.nodes[n + 1].latest_start = vehicle.shift_end;
        self.propagate_times(instance, 1, n, false);
        // A job whose window was missed leaves +inf departures from there on. A technician
        // with no jobs takes no break: the route is not worked.
        let arrival = match self.rest_nodes.last() {
            Some(end) if n > 0 => end.rested_departure,
            _ => self.nodes[n + 1].departure,
        };
        self.feasible = self.load <= vehicle.capacity && arrival <= vehicle.shift_end + TIME_EPS;
    }

    /// Recomputes the departures from node `first` on and the latest starts from node
    /// `last` back, in both states for a vehicle with a break. With `settle`, each pass
    /// stops where the times are the old ones again (everything beyond is then unchanged,
    /// as after an insertion).
    fn propagate_times(&mut self, instance: &Instance, first: usize, last: usize, settle: bool) {
        // Compiled twice: a vehicle without a break pays nothing for the second state.
        if self.rest.is_some() {
            self.propagate_departures::<true>(instance, first, settle);
            self.propagate_latest_starts::<true>(instance, last, settle);
        } else {
            self.propagate_departures::<false>(instance, first, settle);
            self.propagate_latest_starts::<false>(instance, last, settle);
        }
    }

    /// Earliest departures (at the end node: arrivals) from node `first` to the end: arrive,
    /// wait for the first window still open, serve; with `RESTS`, also having taken the
    /// break. Both states in one pass, so each leg and job is looked up once.
    #[inline(always)]
    fn propagate_departures<const RESTS: bool>(
        &mut self,
        instance: &Instance,
        first: usize,
        settle: bool,
    ) {
        for k in first..self.nodes.len() {
            let before = &self.nodes[k - 1];
            let travel = instance
                .matrix
                .duration(before.location as usize, self.location(k));
            let arrival = before.departure + travel;
            let rested_arrival = match self.rest {
                Some(rest) if RESTS => rest.rested_arrival(
                    before.departure,
                    self.rest_nodes[k - 1].rested_departure,
                    travel,
                ),
                _ => f64::INFINITY,
            };
            let (departure, rested) = match self.jobs.get(k - 1) {
                Some(&job) => {
                    let (windows, service) = (
                        instance.windows_of(job as usize),
                        instance.jobs[job as usize].service,
                    );
                    let depart = |arrival| {
                        earliest_start_in(windows, arrival)
                            .map_or(f64::INFINITY, |start| start + service)
                    };
                    (
                        depart(arrival),
                        if RESTS { depart(rested_arrival) } else { 0.0 },
                    )
                }
                None => (arrival, rested_arrival),
            };
            if settle
                && k > first
                && departure == self.nodes[k].departure
                && (!RESTS || rested == self.rest_nodes[k].rested_departure)
            {
                break;
            }
            self.nodes[k].departure = departure;
            if RESTS {
                self.rest_nodes[k].rested_departure = rested;
            }
        }
    }

    /// Latest service starts (at the start node: departures) from node `last` back to the
    /// start: leave in time to reach the next node by its latest start, within a window;
    /// with `RESTS`, also with the break still to take.
    #[inline(always)]
    fn propagate_latest_starts<const RESTS: bool>(
        &mut self,
        instance: &Instance,
        last: usize,
        settle: bool,
    ) {
        for k in (0..=last).rev() {
            let after = &self.nodes[k + 1];
            let travel = instance
                .matrix
                .duration(self.location(k), after.location as usize);
            let departure = after.latest_start - travel;
            let departure_to_rest = match self.rest {
                Some(rest) if RESTS => rest.latest_departure_to_rest(
                    travel,
                    after.latest_start,
                    self.rest_nodes[k + 1].latest_start_to_rest,
                ),
                _ => f64::NEG_INFINITY,
            };
            let (latest, to_rest) = match k.checked_sub(1) {
                Some(index) => {
                    let job = self.jobs[index] as usize;
                    let (windows, service) = (instance.windows_of(job), instance.jobs[job].service);
                    let latest = |departure: f64| {
                        latest_start_in(windows, departure - service).unwrap_or(f64::NEG_INFINITY)
                    };
                    (
                        latest(departure),
                        if RESTS {
                            latest(departure_to_rest)
                        } else {
                            0.0
                        },
                    )
                }
                None => (departure, departure_to_rest),
            };
            if settle
                && k < last
                && latest == self.nodes[k].latest_start
                && (!RESTS || to_rest == self.rest_nodes[k].latest_start_to_rest)
            {
                break;
            }
            self.nodes[k].latest_start = latest;
            if RESTS {
                self.rest_nodes[k].latest_start_to_rest = to_rest;
            }
        }
    }

    /// The first gap where the break fits: taken as early as its window allows after
    /// leaving the gap's node, the next node is still reached by its latest start. Every
    /// gap is tested on its own (O(n)), without the [`RestNode`] summaries, which the
    /// search's test uses instead.
    fn first_rest_gap(&self, instance: &Instance) -> Option<usize> {
        let rest = self.rest?;
        (0..=self.jobs.len()).find(|&gap| {
            let (here, next) = (&self.nodes[gap], &self.nodes[gap + 1]);
            let travel = instance
                .matrix
                .duration(here.location as usize, next.location as usize);
            rest.end_after(here.departure) + travel <= next.latest_start + TIME_EPS
        })
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
    /// still has a place for the break (the test of [`scan_insertions`] leaves it out).
    /// Rest before the job (arrive at it rested, then reach the next node by its latest
    /// start) or after it (leave it by the latest departure that still rests). O(1).
    fn rest_fits_with(&self, rest: Rest, probe: &Probe, gap: usize) -> bool {
        let (here, next) = (&self.nodes[gap], &self.nodes[gap + 1]);
        rest.fits_around(
            (here, &self.rest_nodes[gap]),
            (next, &self.rest_nodes[gap + 1]),
            (
                probe.legs_to[here.location as usize].duration,
                probe.legs_from[next.location as usize].duration,
            ),
            |arrival| earliest_start_in(probe.windows, arrival).map(|start| start + probe.service),
        )
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
        if self.rest.is_some() {
            self.rest_nodes.insert(node, RestNode::UNREACHABLE);
        }
        // Outward from the new node, until the times are the old ones again.
        self.propagate_times(instance, node, node, true);
        debug_assert!(self.feasible);
        debug_assert!({
            let mut fresh = self.clone();
            fresh.update(instance);
            fresh.nodes == self.nodes
                && fresh.rest_nodes == self.rest_nodes
                && fresh.load == self.load
        });
    }
}

/// The gap after which the vehicle rests (0 = before the first job), if the sequence is
/// feasible with its break; `Some(None)` when there is no break to take. The break starts
/// as early as possible at that gap; distance does not depend on the gap, so the first gap
/// that works is as good as any. O(n), for the answer; the search tests insertions with
/// the cached [`RestNode`]s instead.
pub fn break_gap(instance: &Instance, vehicle: usize, jobs: &[u32]) -> Option<Option<usize>> {
    if instance.vehicles[vehicle].rest.is_none() || jobs.is_empty() {
        return walk(instance, vehicle, jobs, None, |_| {}).then_some(None);
    }
    let mut route = Route::empty(vehicle);
    route.jobs.extend_from_slice(jobs);
    route.update(instance);
    route.first_rest_gap(instance).map(Some)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Break, Job, Location, Problem, TimeWindow, TravelModel, Vehicle};

    /// A day on a 10-unit grid with integer windows, services and break: many times land
    /// exactly on window bounds, where an O(1) summary and a replay could part ways.
    fn grid_day(seed: u64) -> Problem {
        let mut rng = Rng::new(seed);
        let mut grid = || (rng.between(0, 10) * 10) as f64;
        let mut locations = vec![Location::Plane { x: 50.0, y: 50.0 }];
        let mut jobs = Vec::new();
        for i in 0..40 {
            locations.push(Location::Plane {
                x: grid(),
                y: grid(),
            });
            let open = grid() * 3.0;
            let mut time_windows = vec![TimeWindow::new(open, open + 30.0 + grid())];
            if i % 4 == 0 {
                time_windows.push(TimeWindow::new(open + 200.0, open + 240.0));
            }
            jobs.push(Job {
                id: format!("job{i}"),
                location: i + 1,
                time_windows,
                service: 10.0 + grid() / 5.0,
                skills: vec![],
                priority: 1.0,
                demand: 1,
                allowed_vehicles: vec![],
            });
        }
        let vehicles = (0..3)
            .map(|k| Vehicle {
                id: format!("tech{k}"),
                start_location: 0,
                end_location: None,
                shift: TimeWindow::new(0.0, 480.0),
                break_: Some(Break {
                    window: TimeWindow::new(180.0 + 20.0 * k as f64, 195.0 + 20.0 * k as f64),
                    duration: 20.0 + 10.0 * k as f64,
                }),
                skills: vec![],
                capacity: None,
                fixed_cost: 0.0,
            })
            .collect();
        Problem {
            locations,
            travel: TravelModel::Euclidean { speed: 1.0 },
            vehicles,
            jobs,
        }
    }

    /// Grows random routes one insertion at a time and, before each, compares the O(1)
    /// verdict on every job and gap with a replay of the candidate sequence that tries the
    /// break at every gap ([`break_gap`]). Returns how many verdicts were compared, how
    /// many were feasible, and how many the break alone made infeasible.
    fn compare_with_replay(problem: &Problem, seed: u64) -> (usize, usize, usize) {
        let instance = Instance::new(problem);
        let mut rng = Rng::new(seed);
        let (mut compared, mut feasible, mut break_only) = (0, 0, 0);
        for vehicle in 0..instance.vehicles.len() {
            let mut route = Route::new(&instance, vehicle);
            let mut unrouted: Vec<usize> = (0..instance.jobs.len()).collect();
            loop {
                let mut fits = Vec::new();
                for &job in &unrouted {
                    let probe = Probe::new(&instance, job);
                    for gap in 0..=route.len() {
                        let without_break = route.fits_windows(&probe, gap);
                        let summary = without_break
                            && route
                                .rest
                                .is_none_or(|rest| route.rest_fits_with(rest, &probe, gap));
                        let mut sequence = route.jobs.clone();
                        sequence.insert(gap, job as u32);
                        let replay = break_gap(&instance, vehicle, &sequence).is_some();
                        assert_eq!(
                            summary, replay,
                            "vehicle {vehicle}, job {job} at gap {gap} of {:?}",
                            route.jobs
                        );
                        compared += 1;
                        feasible += usize::from(replay);
                        break_only += usize::from(without_break && !replay);
                        if replay {
                            fits.push((job, gap));
                        }
                    }
                }
                if fits.is_empty() {
                    break;
                }
                let (job, gap) = fits[rng.between(0, fits.len() - 1)];
                route.insert(&instance, job, gap);
                unrouted.retain(|&j| j != job);
                let mut fresh = route.clone();
                fresh.update(&instance);
                assert!(fresh.feasible && fresh.rest_nodes == route.rest_nodes);
            }
        }
        (compared, feasible, break_only)
    }

    #[test]
    fn break_summary_agrees_with_replaying_every_gap() {
        for seed in 1..=4 {
            for problem in [grid_day(seed), crate::synthetic::city_day(40, 3)] {
                let (compared, feasible, break_only) = compare_with_replay(&problem, seed);
                // Enough of each verdict for the comparison to mean something.
                assert!(
                    feasible > 100 && compared - feasible > 100 && break_only > 10,
                    "seed {seed}: {compared} compared, {feasible} feasible, {break_only} for the break alone"
                );
            }
        }
    }
}
