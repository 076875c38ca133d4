//! The search: Slack Induction by String Removals (SISR, Christiaens & Vanden Berghe, 2020)
//! under simulated annealing.
//!
//! Why this method: it is one loop of ruin (remove a few strings of consecutive jobs from
//! routes near a random job) and recreate (greedy cheapest insertion with "blinks", i.e.
//! randomly skipped positions), so it is compact, allocation-free once warmed up,
//! deterministic for a seed, and anytime. With O(1) insertion checks (see `route`) it reaches
//! about 1% from the best known Solomon solutions in seconds. It also handles every side
//! constraint of the model without special operators: anything the insertion check accepts
//! is feasible, so the current plan is always feasible and the best plan can be returned at
//! any moment.
//!
//! Objective: lexicographic (unserved priority, distance, fixed cost). Annealing needs a
//! scalar, so it sees `penalty * unserved priority + distance + FIXED_COST_WEIGHT * fixed`,
//! where the penalty exceeds any distance an insertion can add; the best plan is kept by
//! the exact lexicographic order.

use crate::clock::{Clock, PacedClock};
use crate::instance::Instance;
use crate::route::{Probe, Route, RouteFilter, Workspace};

/// Fixed cost is the last tie-breaker: weighted so that it never outweighs distance in
/// practice but still separates equal-distance plans.
const FIXED_COST_WEIGHT: f64 = 1e-6;
const NOT_ROUTED: u32 = u32::MAX;
/// From this many jobs on, a removed job is only offered to routes that already serve
/// one of its nearest neighbours (plus one empty vehicle per profile): a granular
/// neighbourhood. Scanning every position of every route is fine at Solomon size but at
/// 2,000 jobs it is memory-bound on the travel matrix and starves the search.
const GRANULAR_FROM_JOBS: usize = 300;
const GRANULAR_NEIGHBOURS: usize = 40;
/// How far apart the search's reads of the clock fall (see [`PacedClock`]): a budget ends
/// at most about this late.
const CLOCK_READ_INTERVAL_SECS: f64 = 0.001;

/// Tuning of the ruin-and-recreate loop; the defaults follow the SISR paper except the
/// temperatures, which are relative to the mean cost per job of the first plan so that
/// they do not depend on the distance unit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SearchParams {
    /// Average number of jobs removed per ruin (c̄).
    pub average_removed: f64,
    /// Longest string removed from one route (L_max).
    pub max_string_length: f64,
    /// Probability that a ruined string keeps a preserved middle part (split string).
    pub split_rate: f64,
    /// Probability of stopping growth of the preserved part at each step (α in the paper).
    pub split_depth: f64,
    /// Probability that a candidate insertion position is skipped (β, "blink").
    pub blink_rate: f64,
    /// Probability that a ruin empties the seed job's whole route instead of removing
    /// strings: the move that lets the search drop a vehicle when its jobs fit elsewhere
    /// (strings of at most `max_string_length` cannot empty a long route at once).
    pub route_removal_rate: f64,
    pub start_temperature: f64,
    pub end_temperature: f64,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            average_removed: 10.0,
            max_string_length: 10.0,
            split_rate: 0.5,
            split_depth: 0.01,
            blink_rate: 0.01,
            route_removal_rate: 0.0,
            start_temperature: 5.0,
            end_temperature: 0.05,
        }
    }
}

/// Lexicographic objective of a plan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    pub unserved_priority: f64,
    pub distance: f64,
    pub fixed_cost: f64,
}

impl Objective {
    const TOLERANCE: f64 = 1e-9;

    pub fn is_better_than(&self, other: &Objective) -> bool {
        let tol = Self::TOLERANCE;
        if (self.unserved_priority - other.unserved_priority).abs() > tol {
            return self.unserved_priority < other.unserved_priority;
        }
        if (self.distance - other.distance).abs() > tol * (1.0 + other.distance.abs()) {
            return self.distance < other.distance;
        }
        self.fixed_cost < other.fixed_cost - tol
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub routes: Vec<Route>,
    pub unserved: Vec<u32>,
    /// Index of the route serving each job, or NOT_ROUTED.
    route_of: Vec<u32>,
}

impl Plan {
    fn empty(instance: &Instance) -> Self {
        Self {
            routes: (0..instance.vehicles.len())
                .map(|v| Route::new(instance, v))
                .collect(),
            unserved: Vec::new(),
            route_of: vec![NOT_ROUTED; instance.jobs.len()],
        }
    }

    fn clone_from_plan(&mut self, other: &Plan) {
        self.routes.clone_from(&other.routes);
        self.unserved.clone_from(&other.unserved);
        self.route_of.clone_from(&other.route_of);
    }

    /// Makes this plan equal to `other` when the two differ at most in `routes` (and in
    /// which jobs are unserved): copies those routes only.
    fn copy_changes_from(&mut self, other: &Plan, routes: &[usize]) {
        for &r in routes {
            self.routes[r].clone_from(&other.routes[r]);
        }
        self.unserved.clone_from(&other.unserved);
        self.route_of.clone_from(&other.route_of);
    }

    /// Whether both plans serve the same jobs in the same order (debug checks).
    fn same_sequences_as(&self, other: &Plan) -> bool {
        self.unserved == other.unserved
            && self.route_of == other.route_of
            && self
                .routes
                .iter()
                .zip(&other.routes)
                .all(|(a, b)| a.jobs == b.jobs)
    }

    pub fn objective(&self, instance: &Instance) -> Objective {
        Objective {
            unserved_priority: self
                .unserved
                .iter()
                .map(|&j| instance.jobs[j as usize].priority)
                .sum(),
            distance: self.routes.iter().map(|r| r.distance).sum(),
            fixed_cost: self
                .routes
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| instance.vehicles[r.vehicle].fixed_cost)
                .sum(),
        }
    }
}

pub struct Outcome {
    pub best: Plan,
    pub iterations: u64,
    pub best_iteration: u64,
    pub elapsed_secs: f64,
}

pub struct Search<'a> {
    instance: &'a Instance,
    params: SearchParams,
    /// The random stream (`work.rng`) and the insertion tests' buffers.
    work: Workspace,
    /// Scalar cost of leaving one unit of priority unserved.
    unserved_penalty: f64,
    /// Routes the current iteration changed in the candidate plan, each once (flagged in
    /// `route_changed`): the candidate and the current plan differ only there, so only
    /// they are copied between the two, in whichever direction the acceptance decides.
    /// Copying every route every iteration cost more than the ruin itself on small
    /// instances, and in the module each copy is a call out of the sandbox (`memory.copy`).
    changed_routes: Vec<usize>,
    /// Membership in `changed_routes` per route: one load per test, where a `contains` on
    /// the list would walk it.
    route_changed: Vec<bool>,
    // Reused buffers: the loop allocates nothing once they have grown.
    removed: Vec<u32>,
    ruined_routes: Vec<usize>,
    /// The routes an insertion tries, by index: on small instances every route with jobs
    /// and the first empty route of each vehicle profile (vehicles of a profile are
    /// interchangeable: skills, capacity and allow-lists are part of it), kept from one
    /// insertion to the next; on large ones the routes near the job and those empty routes,
    /// listed per job. Fleets are often mostly idle vehicles (Solomon: 25 for about 10
    /// routes), and on a large day most routes are far from the job, so listing them once
    /// costs less than passing over them at every insertion.
    routes_to_try: Vec<u32>,
    /// The first empty route of each vehicle profile, by index.
    idle_routes: Vec<u32>,
    /// Per vehicle profile, whether `idle_routes` has one of its routes (a reused buffer).
    profile_listed: Vec<bool>,
    sort_keys: Vec<(f64, u32)>,
    /// Per route, the last `stamp` at which it held a neighbour of the job being inserted.
    route_stamps: Vec<u64>,
    /// Counts the granular insertions (one stamp per job whose near routes are listed).
    stamp: u64,
}

impl<'a> Search<'a> {
    pub fn new(instance: &'a Instance, params: SearchParams, seed: u64) -> Self {
        let max_fixed = instance
            .vehicles
            .iter()
            .map(|v| v.fixed_cost)
            .fold(0.0, f64::max);
        let min_priority = instance
            .jobs
            .iter()
            .map(|j| j.priority)
            .filter(|&p| p > 0.0)
            .fold(f64::INFINITY, f64::min);
        let min_priority = if min_priority.is_finite() {
            min_priority
        } else {
            1.0
        };
        // Any single insertion adds at most two legs and one vehicle's fixed cost.
        let unserved_penalty = 10.0
            * (2.0 * instance.matrix.max_distance() + FIXED_COST_WEIGHT * max_fixed + 1.0)
            / min_priority;
        Self {
            instance,
            work: Workspace::new(seed, params.blink_rate),
            params,
            unserved_penalty,
            changed_routes: Vec::new(),
            route_changed: vec![false; instance.vehicles.len()],
            removed: Vec::new(),
            ruined_routes: Vec::new(),
            routes_to_try: Vec::new(),
            idle_routes: Vec::new(),
            profile_listed: vec![false; instance.vehicles.len()],
            sort_keys: Vec::new(),
            route_stamps: vec![0; instance.vehicles.len()],
            stamp: 0,
        }
    }

    /// Records that the candidate's route `r` differs from the current plan's.
    fn mark_changed(&mut self, r: usize) {
        if !self.route_changed[r] {
            self.route_changed[r] = true;
            self.changed_routes.push(r);
        }
    }

    /// Forgets the changes once both plans are equal again.
    fn clear_changed(&mut self) {
        for &r in &self.changed_routes {
            self.route_changed[r] = false;
        }
        self.changed_routes.clear();
    }

    fn scalar_cost(&self, plan: &Plan) -> f64 {
        let o = plan.objective(self.instance);
        self.unserved_penalty * o.unserved_priority + o.distance + FIXED_COST_WEIGHT * o.fixed_cost
    }

    /// Runs until `time_limit_secs` (read from `clock`) or `max_iterations`, whichever
    /// comes first, and returns the best plan seen.
    pub fn run(&mut self, clock: &dyn Clock, time_limit_secs: f64, max_iterations: u64) -> Outcome {
        let mut clock = PacedClock::new(clock, CLOCK_READ_INTERVAL_SECS);
        let started = clock.now_secs();
        let instance = self.instance;

        let mut current = Plan::empty(instance);
        self.removed.clear();
        self.removed.extend(0..instance.jobs.len() as u32);
        self.recreate(&mut current);
        let mut current_cost = self.scalar_cost(&current);
        let mut best = current.clone();
        let mut best_objective = best.objective(instance);
        let mut best_iteration = 0;
        let mut candidate = current.clone();
        self.clear_changed();

        let per_job = current.objective(instance).distance / instance.jobs.len().max(1) as f64;
        let scale = if per_job > 0.0 { per_job } else { 1.0 };
        let t_start = self.params.start_temperature * scale;
        let t_end = self.params.end_temperature * scale;

        let mut iterations = 0;
        let mut elapsed;
        loop {
            elapsed = clock.now_secs() - started;
            if elapsed >= time_limit_secs
                || iterations >= max_iterations
                || instance.jobs.is_empty()
            {
                break;
            }
            let progress = (elapsed / time_limit_secs)
                .max(iterations as f64 / max_iterations as f64)
                .min(1.0);
            let temperature = t_start * libm::pow(t_end / t_start, progress);

            // Here the candidate equals the current plan.
            self.ruin(&mut candidate);
            self.recreate(&mut candidate);
            let cost = self.scalar_cost(&candidate);
            iterations += 1;

            // Accept if better than current minus a random threshold (SISR's SA rule).
            let threshold = -temperature * libm::log(1.0 - self.work.rng.unit());
            let accepted = cost < current_cost + threshold;
            if accepted {
                current.copy_changes_from(&candidate, &self.changed_routes);
            } else {
                candidate.copy_changes_from(&current, &self.changed_routes);
            }
            self.clear_changed();
            debug_assert!(candidate.same_sequences_as(&current));
            if accepted {
                current_cost = cost;
                let objective = current.objective(instance);
                if objective.is_better_than(&best_objective) {
                    best.clone_from_plan(&current);
                    best_objective = objective;
                    best_iteration = iterations;
                }
            }
        }
        Outcome {
            best,
            iterations,
            best_iteration,
            elapsed_secs: elapsed,
        }
    }

    /// Removes strings of consecutive jobs from routes around a random seed job.
    fn ruin(&mut self, plan: &mut Plan) {
        let instance = self.instance;
        self.removed.clear();
        self.removed.extend_from_slice(&plan.unserved);
        plan.unserved.clear();

        let (served, used) = plan
            .routes
            .iter()
            .filter(|r| !r.is_empty())
            .fold((0usize, 0usize), |(s, u), r| (s + r.len(), u + 1));
        if served == 0 {
            return;
        }
        let average_length = served as f64 / used as f64;
        let max_string = self.params.max_string_length.min(average_length);
        let max_strings = 4.0 * self.params.average_removed / (1.0 + max_string) - 1.0;
        let strings = (self.work.rng.unit() * max_strings).floor() as usize + 1;

        let seed = loop {
            let j = self.work.rng.below(instance.jobs.len());
            if plan.route_of[j] != NOT_ROUTED {
                break j;
            }
        };
        if self.params.route_removal_rate > 0.0
            && self.work.rng.unit() < self.params.route_removal_rate
        {
            let r = plan.route_of[seed] as usize;
            let route_len = plan.routes[r].len();
            self.remove_string(plan, r, 0, route_len, 0);
            return;
        }
        self.ruined_routes.clear();
        let neighbours = &instance.neighbours[seed];
        for &job in std::iter::once(&(seed as u32)).chain(neighbours.iter()) {
            if self.ruined_routes.len() >= strings {
                break;
            }
            let r = plan.route_of[job as usize];
            if r == NOT_ROUTED || self.ruined_routes.contains(&(r as usize)) {
                continue;
            }
            let r = r as usize;
            self.ruined_routes.push(r);
            let route_len = plan.routes[r].len();
            let max_len = (route_len as f64).min(max_string);
            let length = ((self.work.rng.unit() * max_len).floor() as usize + 1).min(route_len);
            let position = plan.routes[r]
                .jobs
                .iter()
                .position(|&j| j == job)
                .expect("route_of is consistent");
            if length < route_len && self.work.rng.unit() < self.params.split_rate {
                self.remove_split_string(plan, r, position, length);
            } else {
                self.remove_string(plan, r, position, length, 0);
            }
        }
    }

    /// Removes `length` consecutive jobs including `position`, optionally keeping
    /// `kept` jobs in the middle (split string).
    fn remove_string(
        &mut self,
        plan: &mut Plan,
        r: usize,
        position: usize,
        length: usize,
        kept: usize,
    ) {
        let instance = self.instance;
        let total = length + kept;
        let route_len = plan.routes[r].len();
        let first = self.work.rng.between(
            position.saturating_sub(total - 1),
            position.min(route_len - total),
        );
        let kept_from = if kept > 0 {
            first + self.work.rng.between(0, length)
        } else {
            usize::MAX
        };
        self.mark_changed(r);
        let route = &mut plan.routes[r];
        let mut k = 0;
        let mut index = 0;
        route.jobs.retain(|&job| {
            let here = index;
            index += 1;
            let inside = here >= first && here < first + total;
            let preserved = here >= kept_from && here < kept_from.saturating_add(kept);
            if inside && !preserved {
                k += 1;
                self.removed.push(job);
                plan.route_of[job as usize] = NOT_ROUTED;
                false
            } else {
                true
            }
        });
        debug_assert_eq!(k, length);
        route.update(instance);
        if !route.feasible {
            // Only possible with a matrix that breaks the triangle inequality: give the
            // whole route back to recreate rather than keep an infeasible plan.
            for job in route.jobs.drain(..) {
                self.removed.push(job);
                plan.route_of[job as usize] = NOT_ROUTED;
            }
            route.update(instance);
        }
    }

    fn remove_split_string(&mut self, plan: &mut Plan, r: usize, position: usize, length: usize) {
        let route_len = plan.routes[r].len();
        let mut kept = 1;
        while length + kept < route_len && self.work.rng.unit() >= self.params.split_depth {
            kept += 1;
        }
        self.remove_string(plan, r, position, length, kept);
    }

    /// Inserts every job in `self.removed` at its cheapest feasible position (with blinks),
    /// in one of SISR's orders; jobs that fit nowhere stay unserved.
    fn recreate(&mut self, plan: &mut Plan) {
        let instance = self.instance;
        self.order_removed();
        self.index_routes(plan);
        for index in 0..self.removed.len() {
            let job = self.removed[index] as usize;
            let demand = instance.jobs[job].demand;
            let probe = Probe::new(instance, job);
            let best = self.best_insertion(plan, &probe, demand);
            match best {
                Some((_, r, gap)) => {
                    self.mark_changed(r);
                    plan.routes[r].insert(instance, job, gap);
                    plan.route_of[job] = r as u32;
                    if plan.routes[r].len() == 1 {
                        // Opened: it has jobs now, and its profile may have another idle route.
                        self.index_routes(plan);
                    }
                }
                None => plan.unserved.push(job as u32),
            }
        }
        self.removed.clear();
    }

    /// The cheapest feasible insertion of the probed job over every route that may take
    /// it, as (cost, route, gap): routes whose vehicle has the skills and the room, on
    /// large instances only those near the job (granular), and one empty route per
    /// vehicle profile (vehicles of a profile are interchangeable).
    fn best_insertion(
        &mut self,
        plan: &Plan,
        probe: &Probe,
        demand: u64,
    ) -> Option<(f64, usize, usize)> {
        let instance = self.instance;
        let job = probe.job();
        if self.granular() {
            self.stamp += 1;
            self.routes_to_try.clear();
            for &other in instance.neighbours[job].iter().take(GRANULAR_NEIGHBOURS) {
                let r = plan.route_of[other as usize];
                if r != NOT_ROUTED && self.route_stamps[r as usize] != self.stamp {
                    self.route_stamps[r as usize] = self.stamp;
                    self.routes_to_try.push(r);
                }
            }
            self.routes_to_try.extend_from_slice(&self.idle_routes);
            self.routes_to_try.sort_unstable();
        }
        self.work.cheapest_insertion(
            &plan.routes,
            &self.routes_to_try,
            probe,
            CanTake {
                instance,
                job,
                demand,
            },
        )
    }

    /// Whether insertions only try the routes near the job.
    fn granular(&self) -> bool {
        self.instance.jobs.len() >= GRANULAR_FROM_JOBS
    }

    /// Lists the first empty route of each vehicle profile in `idle_routes` and, on small
    /// instances, every route an insertion tries in `routes_to_try`. A recreate only adds
    /// jobs, so the lists hold until it opens a route.
    fn index_routes(&mut self, plan: &Plan) {
        let granular = self.granular();
        self.idle_routes.clear();
        self.routes_to_try.clear();
        self.profile_listed.fill(false);
        for (r, route) in plan.routes.iter().enumerate() {
            let listed = &mut self.profile_listed[self.instance.vehicles[route.vehicle].profile];
            let first_idle = route.is_empty() && !*listed;
            if first_idle {
                *listed = true;
                self.idle_routes.push(r as u32);
            }
            if !granular && (first_idle || !route.is_empty()) {
                self.routes_to_try.push(r as u32);
            }
        }
    }

    /// SISR's insertion orders: random, decreasing demand, far-from-depot first,
    /// close-to-depot first (weights 4, 4, 2, 1).
    fn order_removed(&mut self) {
        let instance = self.instance;
        self.work.rng.shuffle(&mut self.removed);
        let choice = self.work.rng.below(11);
        if choice < 4 {
            return;
        }
        let depot = instance.vehicles[0].start;
        self.sort_keys.clear();
        for &job in &self.removed {
            let data = &instance.jobs[job as usize];
            let key = match choice {
                4..=7 => -(data.demand as f64),
                8..=9 => -instance.matrix.distance(depot, data.location),
                _ => instance.matrix.distance(depot, data.location),
            };
            self.sort_keys.push((key, job));
        }
        // Stable: equal keys keep the shuffled order.
        self.sort_keys.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.removed.clear();
        self.removed
            .extend(self.sort_keys.iter().map(|&(_, job)| job));
    }
}

/// Which of the routes [`Search::best_insertion`] lists can take one job: skills, allow-list
/// and room; opening an empty one adds its fixed cost.
struct CanTake<'s> {
    instance: &'s Instance,
    job: usize,
    demand: u64,
}

impl RouteFilter for CanTake<'_> {
    #[inline(always)]
    fn admit(&self, route: &Route) -> Option<f64> {
        let instance = self.instance;
        let vehicle = &instance.vehicles[route.vehicle];
        let serves = instance.can_serve(route.vehicle, self.job)
            && route.has_room_for(instance, self.demand);
        let opening_cost = if route.is_empty() {
            FIXED_COST_WEIGHT * vehicle.fixed_cost
        } else {
            0.0
        };
        serves.then_some(opening_cost)
    }
}
