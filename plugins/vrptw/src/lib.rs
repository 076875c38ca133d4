//! Vehicle routing with time windows for field service: technicians with shifts, breaks,
//! skills and capacities; jobs with several windows, priorities and demands.
//!
//! One call: [`solve`] validates the [`Problem`], runs a seeded ruin-and-recreate search
//! (SISR) for a time budget read from an injected [`Clock`] or an iteration cap, and
//! returns the best [`Solution`] found. The core neither spawns threads nor reads the OS
//! clock, so it runs unchanged inside a wasm32-wasip2 component.
//!
//! Module map: `model` (caller-facing types), `validate` (422-style field errors),
//! `matrix` (travel data), `instance` (dense search view), `route` (O(1) insertion checks
//! and route replay), `search` (SISR), `solution` (building the answer), `check`
//! (independent feasibility checker), `solomon` (benchmark file reader), `synthetic` (a
//! generated product-size day for benchmarks).

pub mod check;
pub mod clock;
mod instance;
pub mod matrix;
pub mod model;
pub mod rng;
mod route;
pub mod search;
pub mod solomon;
mod solution;
pub mod synthetic;
pub mod validate;

pub use clock::{Clock, MonotonicClock, StepClock};
pub use model::*;
pub use search::SearchParams;
pub use validate::{FieldError, Limits};

/// How long and how to search.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SolveOptions {
    pub seed: u64,
    /// Wall-clock budget as measured by the clock passed to [`solve_with_clock`].
    pub time_limit_secs: f64,
    pub max_iterations: u64,
    pub limits: Limits,
    pub params: SearchParams,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            time_limit_secs: 1.0,
            max_iterations: u64::MAX,
            limits: Limits::default(),
            params: SearchParams::default(),
        }
    }
}

/// Solves with the process's monotonic clock.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<Solution, Vec<FieldError>> {
    solve_with_clock(problem, options, &MonotonicClock::new())
}

/// Solves reading time from `clock`; the budget covers preprocessing as well as search.
pub fn solve_with_clock(
    problem: &Problem,
    options: &SolveOptions,
    clock: &dyn Clock,
) -> Result<Solution, Vec<FieldError>> {
    let started = clock.now_secs();
    problem.validate_with(&options.limits)?;
    let instance = instance::Instance::new(problem);
    let spent = clock.now_secs() - started;
    let mut search = search::Search::new(&instance, options.params.clone(), options.seed);
    let mut outcome = search.run(
        clock,
        (options.time_limit_secs - spent).max(0.0),
        options.max_iterations,
    );
    outcome.elapsed_secs += spent;
    Ok(solution::build(problem, &instance, &outcome))
}
