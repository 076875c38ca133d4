//! The public problem and solution types, exactly as a caller (the host, through the WIT
//! boundary, or the benchmark) sends and receives them as JSON.
//!
//! They are shaped for the caller, not for the search: ids are strings, skills are names,
//! times are plain numbers in the caller's unit (seconds for field service, minutes in the
//! Solomon files). Locations are listed once and referenced by index so a travel matrix can
//! be given explicitly when a routing engine supplies one. The search works on a dense,
//! index-based copy (`instance`), so nothing here needs to be fast.

use serde::{Deserialize, Serialize};

/// A closed interval `[start, end]` of times.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: f64,
    pub end: f64,
}

impl TimeWindow {
    pub fn new(start: f64, end: f64) -> Self {
        Self { start, end }
    }
}

/// A point: geographic (`lat`/`lon` in degrees) or planar (`x`/`y`, benchmark files).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Location {
    Geo { lat: f64, lon: f64 },
    Plane { x: f64, y: f64 },
}

/// How distances and durations between locations are obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TravelModel {
    /// Great-circle distance in metres; duration = distance / speed (m/s).
    Haversine { speed_mps: f64 },
    /// Straight-line distance in the coordinates' unit; duration = distance / speed.
    Euclidean {
        #[serde(default = "one")]
        speed: f64,
    },
    /// Given square matrices, indexed by location.
    Matrix {
        distances: Vec<Vec<f64>>,
        durations: Vec<Vec<f64>>,
    },
}

fn one() -> f64 {
    1.0
}

fn unit_priority() -> f64 {
    1.0
}

/// A rest the technician must take once during a used shift, starting inside `window`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub window: TimeWindow,
    pub duration: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub id: String,
    pub start_location: usize,
    /// Where the shift ends; the start location when absent.
    #[serde(default)]
    pub end_location: Option<usize>,
    /// Leave the start no earlier than `shift.start`, reach the end no later than `shift.end`.
    pub shift: TimeWindow,
    #[serde(default, rename = "break")]
    pub break_: Option<Break>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Total demand the vehicle can carry; unlimited when absent.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// Cost of using the vehicle at all (the last tie-breaker of the objective).
    #[serde(default)]
    pub fixed_cost: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub location: usize,
    /// Service may start inside any of these; anytime when empty.
    #[serde(default)]
    pub time_windows: Vec<TimeWindow>,
    #[serde(default)]
    pub service: f64,
    /// Every one of these must be among the vehicle's skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Weight of serving this job; serving more weight beats any distance saving.
    #[serde(default = "unit_priority")]
    pub priority: f64,
    #[serde(default)]
    pub demand: u64,
    /// When not empty, only these vehicle ids may serve the job.
    #[serde(default)]
    pub allowed_vehicles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub locations: Vec<Location>,
    pub travel: TravelModel,
    pub vehicles: Vec<Vehicle>,
    pub jobs: Vec<Job>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Start,
    Job,
    Break,
    End,
}

/// One timed event of a route. For a break, `location` is where the technician rests (the
/// place just left) and the travel fields are zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub kind: StopKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub location: usize,
    pub arrival: f64,
    pub start: f64,
    pub departure: f64,
    /// Travel from the previous stop to this one.
    pub travel_distance: f64,
    pub travel_duration: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    pub vehicle_id: String,
    pub stops: Vec<Stop>,
    pub distance: f64,
    pub travel_duration: f64,
    pub load: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnassignedReason {
    NoSkilledVehicle,
    Capacity,
    WindowUnreachable,
    ShiftTooShort,
    NotInserted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    pub job_id: String,
    pub reason: UnassignedReason,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchStats {
    pub iterations: u64,
    pub elapsed_secs: f64,
    /// Iteration at which the returned plan was found.
    pub best_iteration: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// Only vehicles that serve at least one job.
    pub routes: Vec<RoutePlan>,
    pub unassigned: Vec<Unassigned>,
    pub served_priority: f64,
    pub unassigned_priority: f64,
    pub total_distance: f64,
    pub total_fixed_cost: f64,
    pub stats: SearchStats,
}
