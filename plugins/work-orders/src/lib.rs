//! The work-orders module (slot `work-orders`): a group of jobs for one customer and location,
//! with line items priced from the service-type catalog, optionally recurring by an RRULE
//! (RFC 5545 subset, see `verofield_field_ops::rrule`) that generates jobs over a rolling
//! horizon. Generation is idempotent (one job per occurrence date); editing the rule or its
//! window retracts only future unscheduled jobs and regenerates.
//! Reads need `jobs.read`, writes `jobs.write`.

mod work_orders;

use verofield_field_ops as ops;
use verofield_sdk::{Events, Manifest, Module, Route, Tables};

const READ: &str = "jobs.read";
const WRITE: &str = "jobs.write";

struct WorkOrders;

impl Module for WorkOrders {
    const MANIFEST: Manifest = Manifest {
        name: "work-orders",
        version: env!("CARGO_PKG_VERSION"),
        slot: "work-orders",
        routes: &[
            Route::post("/", WRITE, work_orders::create),
            Route::get("/", READ, work_orders::list),
            Route::get("/{id}", READ, work_orders::show),
            Route::patch("/{id}", WRITE, work_orders::update),
            Route::post("/{id}/generate", WRITE, work_orders::generate),
            Route::post("/{id}/close", WRITE, work_orders::close),
        ],
        tables: Tables {
            read: &[ops::CUSTOMERS, ops::LOCATIONS, ops::SERVICE_TYPES],
            write: &[ops::WORK_ORDERS, ops::JOBS, ops::HISTORY],
        },
        events: Events::emitting(&[ops::JOB_STATUS_CHANGED]),
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(WorkOrders);
