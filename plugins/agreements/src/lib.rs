//! The agreements module (slot `agreements`): service agreements, a customer's plan (service
//! types, recurrence, price per visit or per period, billing frequency) at one or more of
//! their locations, from a start date to an optional end date, with auto-renewal.
//!
//! Lifecycle: `draft -> active -> paused -> active`, and `canceled` / `expired` at the end.
//! Activating creates one recurring work order per location and generates its first jobs in
//! the same transaction (the generation code is shared with the work-orders module through
//! `verofield-field-ops`); pausing and canceling stop the future jobs (unscheduled proposals
//! are retracted, confirmed ones not started are canceled) and keep the history. The annual
//! recurring value is computed from the plan. `POST /{id}/renew` extends an agreement with an
//! end date by twelve months (what an auto-renewing agreement's scheduler, or a person, calls);
//! `expire` refuses an auto-renewing agreement. Reads need `agreements.read`, writes
//! `agreements.write`.

mod agreements;

use verofield_field_ops as ops;
use verofield_sdk::{Events, Manifest, Module, Route, Tables};

const READ: &str = "agreements.read";
const WRITE: &str = "agreements.write";

struct Agreements;

impl Module for Agreements {
    const MANIFEST: Manifest = Manifest {
        name: "agreements",
        version: env!("CARGO_PKG_VERSION"),
        slot: "agreements",
        routes: &[
            Route::post("/", WRITE, agreements::create),
            Route::get("/", READ, agreements::list),
            Route::get("/{id}", READ, agreements::show),
            Route::patch("/{id}", WRITE, agreements::update),
            Route::post("/{id}/activate", WRITE, agreements::activate),
            Route::post("/{id}/pause", WRITE, agreements::pause),
            Route::post("/{id}/cancel", WRITE, agreements::cancel),
            Route::post("/{id}/expire", WRITE, agreements::expire),
            Route::post("/{id}/renew", WRITE, agreements::renew),
        ],
        tables: Tables {
            read: &[ops::CUSTOMERS, ops::LOCATIONS, ops::SERVICE_TYPES],
            write: &[ops::AGREEMENTS, ops::WORK_ORDERS, ops::JOBS, ops::HISTORY],
        },
        events: Events::emitting(&[
            ops::AGREEMENT_ACTIVATED,
            ops::AGREEMENT_CANCELED,
            ops::JOB_STATUS_CHANGED,
        ]),
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Agreements);
