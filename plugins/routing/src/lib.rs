//! The routing domain module (slot `routing`): optimises technicians' routes for a day with
//! the `vrptw` solver, keeps every plan in `routing_plans`, and applies a plan to the jobs
//! (assignments and scheduled windows) in one transaction.
//!
//! | route | what |
//! |---|---|
//! | `POST /optimize` | solve a date (technicians and jobs from the tenant's tables, optional subsets) or an inline problem; answers the stored plan (201) |
//! | `GET /plans` | stored plans, newest first, without their routes (`date`, `status`, paging; at most 20 a page) |
//! | `GET /plans/{id}` | a stored plan |
//! | `POST /plans/{id}/apply` | assign the planned jobs and set their windows; 409 if a job changed since the plan was made |
//!
//! Every route needs `routing.optimize` (owner, admin, dispatcher); the host checks it.
//!
//! The solve is anytime: the module reads the milliseconds left before its call deadline
//! from the `x-verofield-deadline-ms` header the host sets, and caps the search budget so
//! that the best plan found is stored and answered before the deadline (see [`budget`]).

mod budget;
mod day;
mod optimize;
mod plans;
mod time;

use verofield_sdk::{Events, Manifest, Module, Route, Tables};

pub const PERMISSION: &str = "routing.optimize";

pub const PLANS: &str = "routing_plans";
pub const TECHNICIANS: &str = "technicians";
pub const TIME_OFF: &str = "technician_time_off";
pub const JOBS: &str = "jobs";
pub const ASSIGNMENTS: &str = "job_assignments";
pub const LOCATIONS: &str = "crm_locations";

pub const JOB_ASSIGNED: &str = "job.assigned";
pub use verofield_field_ops::{HISTORY, JOB_STATUS_CHANGED};

/// Limits this module asks the operator for: a solve may use a budget of several seconds
/// and a 2,000-job travel matrix (about 90 MiB of doubles).
const LIMITS: &str =
    r#"{"deadline_ms": 30000, "memory_mib": 256, "host_calls": 50000, "rows_returned": 50000}"#;

/// The public path of a resource, for `Location` headers.
fn public_path(path: &str) -> String {
    format!("/v1/routing{path}")
}

pub struct Routing;

impl Module for Routing {
    const MANIFEST: Manifest = Manifest {
        name: "routing",
        version: env!("CARGO_PKG_VERSION"),
        slot: "routing",
        routes: &[
            Route::post("/optimize", PERMISSION, optimize::optimize),
            Route::get("/plans", PERMISSION, plans::list),
            Route::get("/plans/{id}", PERMISSION, plans::show),
            Route::post("/plans/{id}/apply", PERMISSION, plans::apply),
        ],
        tables: Tables {
            read: &[LOCATIONS, TECHNICIANS, TIME_OFF],
            write: &[JOBS, ASSIGNMENTS, HISTORY, PLANS],
        },
        events: Events {
            emit: &[JOB_ASSIGNED, JOB_STATUS_CHANGED],
            subscribe: &[],
        },
    };
}

/// The manifest with the limits this module requests (the SDK's manifest has no limits).
fn manifest_json() -> String {
    let mut manifest: serde_json::Value =
        serde_json::from_str(&Routing::MANIFEST.to_json()).unwrap_or_default();
    manifest["limits"] = serde_json::from_str(LIMITS).unwrap_or_default();
    manifest.to_string()
}

use verofield_sdk::bindings::exports::verofield::platform::module as wit;

impl wit::Guest for Routing {
    fn manifest() -> String {
        manifest_json()
    }

    fn handle(request: wit::Request) -> wit::Response {
        verofield_sdk::router::dispatch(&Routing::MANIFEST, request.into()).into()
    }

    fn on_event(_event: wit::Event) -> Result<(), String> {
        Ok(())
    }
}

verofield_sdk::bindings::export!(Routing with_types_in verofield_sdk::bindings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_requests_limits_and_grants() {
        let manifest: serde_json::Value = serde_json::from_str(&manifest_json()).unwrap();
        assert_eq!(manifest["slot"], "routing");
        assert_eq!(manifest["limits"]["deadline_ms"], 30000);
        assert_eq!(manifest["limits"]["memory_mib"], 256);
        for route in manifest["routes"].as_array().unwrap() {
            assert_eq!(route["permission"], PERMISSION);
        }
        assert_eq!(
            manifest["events"]["emit"],
            serde_json::json!(["job.assigned", "job.status_changed"])
        );
    }
}
