//! The jobs module (slot `jobs`): visits and the service-type catalog they are made of.
//!
//! Dispatch routes need `jobs.read` / `jobs.write`; assigning despite conflicts has its own
//! route needing `jobs.assign.override`, so the host (not this module) decides who may
//! override. The field routes under `/mine` need `jobs.own` (the technician role): they show
//! and move only the caller's own jobs, and the host's row-level security (`app.job_scope`)
//! hides every other job from a technician-only caller whatever this module asks for.

mod conflicts;
mod jobs;
mod service_types;

use verofield_field_ops as ops;
use verofield_sdk::{Events, Manifest, Module, Route, Tables};

const READ: &str = "jobs.read";
const WRITE: &str = "jobs.write";
const OWN: &str = "jobs.own";
const OVERRIDE: &str = "jobs.assign.override";

struct Jobs;

impl Module for Jobs {
    const MANIFEST: Manifest = Manifest {
        name: "jobs",
        version: env!("CARGO_PKG_VERSION"),
        slot: "jobs",
        routes: &[
            Route::post("/service-types", WRITE, service_types::create),
            Route::get("/service-types", READ, service_types::list),
            Route::get("/service-types/{id}", READ, service_types::show),
            Route::patch("/service-types/{id}", WRITE, service_types::update),
            Route::get("/mine", OWN, jobs::my_day),
            Route::get("/mine/{id}", OWN, jobs::show_own),
            Route::post("/mine/{id}/status", OWN, jobs::change_own_status),
            Route::get(
                "/technicians/{technician_id}/day",
                READ,
                jobs::technician_day,
            ),
            Route::post("/", WRITE, jobs::create),
            Route::get("/", READ, jobs::list),
            Route::get("/{id}", READ, jobs::show),
            Route::patch("/{id}", WRITE, jobs::update),
            Route::post("/{id}/schedule", WRITE, jobs::schedule_job),
            Route::post("/{id}/status", WRITE, jobs::change_status),
            Route::get("/{id}/history", READ, jobs::history),
            Route::post(
                "/{id}/assignments/override",
                OVERRIDE,
                jobs::assign_override,
            ),
            Route::post("/{id}/assignments", WRITE, jobs::assign),
            Route::delete("/{id}/assignments/{technician_id}", WRITE, jobs::unassign),
        ],
        tables: Tables {
            read: &[
                ops::CUSTOMERS,
                ops::LOCATIONS,
                ops::TIME_OFF,
                ops::WORK_ORDERS,
            ],
            // Technicians are written only to serialize their assignments (see `jobs::claim`).
            write: &[
                ops::SERVICE_TYPES,
                ops::JOBS,
                ops::ASSIGNMENTS,
                ops::HISTORY,
                ops::TECHNICIANS,
            ],
        },
        events: Events::emitting(&[
            ops::JOB_SCHEDULED,
            ops::JOB_ASSIGNED,
            ops::JOB_STATUS_CHANGED,
            ops::JOB_COMPLETED,
        ]),
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Jobs);
