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
//!
//! Every night at 00:05 tenant time (the `lapse` schedule) the host's scheduler sends a
//! `schedule.tick`, and the module expires the agreements whose end date has passed and
//! renews those that auto-renew (`agreements::lapse_all`; a second delivery changes nothing).

mod agreements;
mod records;

use agreements::AgreementFields;
use records::{Agreement, Generated, Stopped};
use verofield_field_ops as ops;
use verofield_sdk::{
    Deadline, Event, Events, Manifest, Module, Page, Record, Route, Schedule, Tables, events,
};

const READ: &str = "agreements.read";
const WRITE: &str = "agreements.write";
/// The nightly expiry and renewal.
const LAPSE: &str = "lapse";
/// The host's default deadline of a call: the host sends none with an event.
const EVENT_DEADLINE_MS: u64 = 2_000;

struct Agreements;

impl Module for Agreements {
    const MANIFEST: Manifest = Manifest {
        name: "agreements",
        version: env!("CARGO_PKG_VERSION"),
        slot: "agreements",
        routes: &[
            Route::post("/", WRITE, agreements::create)
                .summary("Create a draft agreement")
                .request::<AgreementFields>()
                .responds::<Record<Agreement>>(201),
            Route::get("/", READ, agreements::list)
                .summary("List agreements")
                .responds::<Page<Agreement>>(200),
            Route::get("/{id}", READ, agreements::show)
                .summary("An agreement (ETag)")
                .responds::<Record<Agreement>>(200),
            Route::patch("/{id}", WRITE, agreements::update)
                .summary("Change an agreement (If-Match)")
                .request::<AgreementFields>()
                .responds::<Record<Agreement>>(200),
            Route::post("/{id}/activate", WRITE, agreements::activate)
                .summary("Activate: make its work orders and generate their jobs")
                .responds::<Generated>(200),
            Route::post("/{id}/pause", WRITE, agreements::pause)
                .summary("Pause: retract future unscheduled jobs")
                .responds::<Stopped>(200),
            Route::post("/{id}/cancel", WRITE, agreements::cancel)
                .summary("Cancel")
                .responds::<Stopped>(200),
            Route::post("/{id}/expire", WRITE, agreements::expire)
                .summary("Expire now")
                .responds::<Stopped>(200),
            Route::post("/{id}/renew", WRITE, agreements::renew)
                .summary("Renew for another term")
                .responds::<Generated>(200),
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
        schedules: &[Schedule::new(LAPSE, "daily 00:05")],
        ..Manifest::EMPTY
    };

    /// Runs the `lapse` tick; accepts any other event (there are none).
    fn on_event(event: Event) -> Result<(), String> {
        if events::scheduled_task(&event).as_deref() != Some(LAPSE) {
            return Ok(());
        }
        let deadline = Deadline::starting_now(Some(EVENT_DEADLINE_MS));
        agreements::lapse_all(&deadline)
            .map(|_| ())
            .map_err(|problem| format!("expiring and renewing agreements failed: {problem:?}"))
    }
}

verofield_sdk::export_module!(Agreements);
