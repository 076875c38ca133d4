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
mod priorities;
mod time;

use verofield_sdk::{Events, Limits, Manifest, Module, Route, Tables};

pub const PERMISSION: &str = "routing.optimize";

/// This module's own table; the others it reads and writes are named in field-ops.
pub const PLANS: &str = "routing_plans";

pub use verofield_field_ops::{
    ASSIGNMENTS, CUSTOMERS, HISTORY, JOB_ASSIGNED, JOB_SCHEDULED, JOB_STATUS_CHANGED, JOBS,
    LOCATIONS, SERVICE_TYPES, TECHNICIANS, TIME_OFF,
};

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
            read: &[LOCATIONS, TECHNICIANS, TIME_OFF, CUSTOMERS, SERVICE_TYPES],
            write: &[JOBS, ASSIGNMENTS, HISTORY, PLANS],
        },
        events: Events::emitting(&[JOB_ASSIGNED, JOB_SCHEDULED, JOB_STATUS_CHANGED]),
        // A solve may use a budget of several seconds and a 2,000-job travel matrix (about
        // 90 MiB of doubles).
        limits: Limits {
            deadline_ms: Some(30_000),
            memory_mib: Some(256),
            host_calls: Some(50_000),
            rows_returned: Some(50_000),
        },
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Routing);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_requests_limits_and_grants() {
        let manifest: serde_json::Value =
            serde_json::from_str(&Routing::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["slot"], "routing");
        assert_eq!(manifest["limits"]["deadline_ms"], 30000);
        assert_eq!(manifest["limits"]["memory_mib"], 256);
        for route in manifest["routes"].as_array().unwrap() {
            assert_eq!(route["permission"], PERMISSION);
        }
        assert_eq!(
            manifest["events"]["emit"],
            serde_json::json!(["job.assigned", "job.scheduled", "job.status_changed"])
        );
    }
}
