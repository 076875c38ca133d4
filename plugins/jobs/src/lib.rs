//! The jobs module (slot `jobs`): visits and the service-type catalog they are made of.
//!
//! Dispatch routes need `jobs.read` / `jobs.write`; assigning despite conflicts has its own
//! route needing `jobs.assign.override`, so the host (not this module) decides who may
//! override. The field routes under `/mine` need `jobs.own` (the technician role): they show
//! and move only the caller's own jobs, and the host's row-level security (`app.job_scope`)
//! hides every other job from a technician-only caller whatever this module asks for.

mod conflicts;
mod jobs;
mod records;
mod service_types;

use jobs::{AssignBody, JobFields, NewJob, ScheduleBody, StatusBody};
use records::{AssignedJob, Assignment, Day, History, Job, ServiceType};
use service_types::ServiceTypeFields;
use verofield_field_ops as ops;
use verofield_sdk::{Events, Manifest, Module, Page, Record, Route, Tables};

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
            Route::post("/service-types", WRITE, service_types::create)
                .summary("Create a service type (name and default_duration_minutes required)")
                .request::<ServiceTypeFields>()
                .responds::<Record<ServiceType>>(201),
            Route::get("/service-types", READ, service_types::list)
                .summary("List service types (active, cursor, limit)")
                .responds::<Page<ServiceType>>(200),
            Route::get("/service-types/{id}", READ, service_types::show)
                .summary("A service type (ETag)")
                .responds::<Record<ServiceType>>(200),
            Route::patch("/service-types/{id}", WRITE, service_types::update)
                .summary("Change a service type (If-Match)")
                .request::<ServiceTypeFields>()
                .responds::<Record<ServiceType>>(200),
            Route::get("/mine", OWN, jobs::my_day)
                .summary("The calling technician's jobs on a date (default today)")
                .responds::<Day>(200),
            Route::get("/mine/{id}", OWN, jobs::show_own)
                .summary("One of the calling technician's jobs")
                .responds::<AssignedJob>(200),
            Route::post("/mine/{id}/status", OWN, jobs::change_own_status)
                .summary("Move one of the caller's jobs (en_route, in_progress, completed)")
                .request::<StatusBody>()
                .responds::<AssignedJob>(200),
            Route::get(
                "/technicians/{technician_id}/day",
                READ,
                jobs::technician_day,
            )
            .summary("A technician's jobs on a date (date=YYYY-MM-DD)")
            .responds::<Day>(200),
            Route::post("/", WRITE, jobs::create)
                .summary("Create a job; with date and window it is scheduled at once")
                .request::<NewJob>()
                .responds::<Record<Job>>(201),
            Route::get("/", READ, jobs::list)
                .summary("List jobs (from, to, status, customer_id, technician_id, ...)")
                .responds::<Page<Job>>(200),
            Route::get("/{id}", READ, jobs::show)
                .summary("A job with its technicians (ETag)")
                .responds::<AssignedJob>(200),
            Route::patch("/{id}", WRITE, jobs::update)
                .summary("Change service types, duration, priority, notes (If-Match)")
                .request::<JobFields>()
                .responds::<AssignedJob>(200),
            Route::post("/{id}/schedule", WRITE, jobs::schedule_job)
                .summary("Schedule or reschedule a job: local date and arrival window")
                .request::<ScheduleBody>()
                .responds::<AssignedJob>(200),
            Route::post("/{id}/status", WRITE, jobs::change_status)
                .summary("Move a job to another status")
                .request::<StatusBody>()
                .responds::<AssignedJob>(200),
            Route::get("/{id}/history", READ, jobs::history)
                .summary("A job's status changes, oldest first")
                .responds::<History>(200),
            Route::post(
                "/{id}/assignments/override",
                OVERRIDE,
                jobs::assign_override,
            )
            .summary("Assign technicians despite conflicts (listed in the answer)")
            .request::<AssignBody>()
            .responds::<Assignment>(200),
            Route::post("/{id}/assignments", WRITE, jobs::assign)
                .summary("Assign technicians; 409 assignment_conflict lists each conflict")
                .request::<AssignBody>()
                .responds::<Assignment>(200),
            Route::delete("/{id}/assignments/{technician_id}", WRITE, jobs::unassign)
                .summary("Take a technician off a job"),
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

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn a_new_job_names_what_it_needs() {
        let manifest: serde_json::Value = serde_json::from_str(&Jobs::MANIFEST.to_json()).unwrap();
        let create = manifest["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|route| route["method"] == "POST" && route["path"] == "/")
            .unwrap();
        assert_eq!(
            create["request"]["required"],
            serde_json::json!(["customer_id", "location_id", "service_type_ids"])
        );
    }
}
