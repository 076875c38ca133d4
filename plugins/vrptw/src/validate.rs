//! Field-level validation of a [`Problem`] before any work is done.
//!
//! The host answers 422 with these errors, so each one names the offending field by a
//! JSON-path-like string (`jobs[3].time_windows[0]`) and all errors are collected, not
//! just the first. The search relies on what is checked here (indices in range, finite
//! non-negative times, windows well formed) and does not re-check it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{Location, Problem, TimeWindow, TravelModel};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Size caps: the search is roughly quadratic in jobs per iteration, so a caller must not
/// be able to hand it an arbitrarily large problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_jobs: usize,
    pub max_vehicles: usize,
    pub max_locations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_jobs: 2_000,
            max_vehicles: 200,
            max_locations: 2_400,
        }
    }
}

impl Problem {
    /// Validates with the default [`Limits`].
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.validate_with(&Limits::default())
    }

    pub fn validate_with(&self, limits: &Limits) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        let n_loc = self.locations.len();

        if self.vehicles.is_empty() {
            errors.push("vehicles", "the fleet is empty");
        }
        if self.vehicles.len() > limits.max_vehicles {
            errors.push(
                "vehicles",
                format!(
                    "{} vehicles exceed the limit of {}",
                    self.vehicles.len(),
                    limits.max_vehicles
                ),
            );
        }
        if self.jobs.len() > limits.max_jobs {
            errors.push(
                "jobs",
                format!(
                    "{} jobs exceed the limit of {}",
                    self.jobs.len(),
                    limits.max_jobs
                ),
            );
        }
        if n_loc > limits.max_locations {
            errors.push(
                "locations",
                format!(
                    "{n_loc} locations exceed the limit of {}",
                    limits.max_locations
                ),
            );
        }

        for (i, location) in self.locations.iter().enumerate() {
            let field = format!("locations[{i}]");
            match *location {
                Location::Geo { lat, lon } => {
                    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                        errors.push(format!("{field}.lat"), "latitude must be within [-90, 90]");
                    }
                    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                        errors.push(
                            format!("{field}.lon"),
                            "longitude must be within [-180, 180]",
                        );
                    }
                }
                Location::Plane { x, y } => {
                    if !x.is_finite() || !y.is_finite() {
                        errors.push(field, "coordinates must be finite");
                    }
                }
            }
        }

        match &self.travel {
            TravelModel::Haversine { speed_mps } => {
                positive(&mut errors, "travel.speed_mps", *speed_mps)
            }
            TravelModel::Euclidean { speed } => positive(&mut errors, "travel.speed", *speed),
            TravelModel::Matrix {
                distances,
                durations,
            } => {
                check_matrix(&mut errors, "travel.distances", distances, n_loc);
                check_matrix(&mut errors, "travel.durations", durations, n_loc);
            }
        }

        let mut vehicle_ids = BTreeSet::new();
        for (i, vehicle) in self.vehicles.iter().enumerate() {
            let field = format!("vehicles[{i}]");
            if !vehicle_ids.insert(vehicle.id.as_str()) {
                errors.push(
                    format!("{field}.id"),
                    format!("duplicate vehicle id {:?}", vehicle.id),
                );
            }
            location_index(
                &mut errors,
                format!("{field}.start_location"),
                vehicle.start_location,
                n_loc,
            );
            if let Some(end) = vehicle.end_location {
                location_index(&mut errors, format!("{field}.end_location"), end, n_loc);
            }
            window(&mut errors, format!("{field}.shift"), vehicle.shift);
            if let Some(rest) = &vehicle.break_ {
                window(&mut errors, format!("{field}.break.window"), rest.window);
                non_negative(
                    &mut errors,
                    format!("{field}.break.duration"),
                    rest.duration,
                );
                if rest.window.start < vehicle.shift.start || rest.window.end > vehicle.shift.end {
                    errors.push(
                        format!("{field}.break.window"),
                        "the break window must lie within the shift",
                    );
                }
            }
            non_negative(
                &mut errors,
                format!("{field}.fixed_cost"),
                vehicle.fixed_cost,
            );
        }

        let mut job_ids = BTreeSet::new();
        // A route's load is a sum of demands: if the sum of all of them fits, no load
        // overflows, and the search adds loads unchecked.
        let mut total_demand = Some(0u64);
        for (i, job) in self.jobs.iter().enumerate() {
            let field = format!("jobs[{i}]");
            if !job_ids.insert(job.id.as_str()) {
                errors.push(
                    format!("{field}.id"),
                    format!("duplicate job id {:?}", job.id),
                );
            }
            location_index(
                &mut errors,
                format!("{field}.location"),
                job.location,
                n_loc,
            );
            non_negative(&mut errors, format!("{field}.service"), job.service);
            non_negative(&mut errors, format!("{field}.priority"), job.priority);
            if let Some(total) = total_demand {
                total_demand = total.checked_add(job.demand);
                if total_demand.is_none() {
                    errors.push(
                        format!("{field}.demand"),
                        "makes the jobs' total demand too large",
                    );
                }
            }
            for (k, w) in job.time_windows.iter().enumerate() {
                window(&mut errors, format!("{field}.time_windows[{k}]"), *w);
            }
            for (k, vehicle_id) in job.allowed_vehicles.iter().enumerate() {
                if !vehicle_ids.contains(vehicle_id.as_str()) {
                    errors.push(
                        format!("{field}.allowed_vehicles[{k}]"),
                        format!("unknown vehicle id {vehicle_id:?}"),
                    );
                }
            }
        }

        errors.into_result()
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn positive(errors: &mut Errors, field: &str, value: f64) {
    if !(value.is_finite() && value > 0.0) {
        errors.push(field, "must be a positive finite number");
    }
}

fn non_negative(errors: &mut Errors, field: String, value: f64) {
    if !(value.is_finite() && value >= 0.0) {
        errors.push(field, "must be a non-negative finite number");
    }
}

fn location_index(errors: &mut Errors, field: String, index: usize, n_loc: usize) {
    if index >= n_loc {
        errors.push(
            field,
            format!("unknown location {index} (there are {n_loc})"),
        );
    }
}

fn window(errors: &mut Errors, field: String, w: TimeWindow) {
    if !w.start.is_finite() || !w.end.is_finite() {
        errors.push(field, "window bounds must be finite");
    } else if w.end < w.start {
        errors.push(
            field,
            format!("window ends ({}) before it starts ({})", w.end, w.start),
        );
    }
}

fn check_matrix(errors: &mut Errors, field: &str, matrix: &[Vec<f64>], n_loc: usize) {
    if matrix.len() != n_loc {
        errors.push(
            field,
            format!("has {} rows, expected {n_loc}", matrix.len()),
        );
        return;
    }
    for (r, row) in matrix.iter().enumerate() {
        if row.len() != n_loc {
            errors.push(
                format!("{field}[{r}]"),
                format!("has {} columns, expected {n_loc}", row.len()),
            );
        } else if row.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            errors.push(
                format!("{field}[{r}]"),
                "entries must be non-negative finite numbers",
            );
        }
    }
}
