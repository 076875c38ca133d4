//! The work-orders module (slot `work-orders`): a group of jobs for one customer and location,
//! with line items priced from the service-type catalog, optionally recurring by an RRULE
//! (RFC 5545 subset, see `verofield_field_ops::rrule`) that generates jobs over a rolling
//! horizon. Generation is idempotent (one job per occurrence date); editing the rule or its
//! window retracts only future unscheduled jobs and regenerates.
//! Reads need `jobs.read`, writes `jobs.write`.
//!
//! Every night at 01:00 tenant time (the `extend-horizon` schedule) the host's scheduler sends
//! a `schedule.tick`, and the module extends every open recurring work order's horizon by
//! the days that passed (`generate::extend_horizons`; a second delivery creates nothing).

mod records;
mod work_orders;

use records::{Closed, Generated, WorkOrder};
use verofield_field_ops as ops;
use verofield_sdk::{
    Deadline, Event, Events, Manifest, Module, Page, Record, Route, Schedule, Tables, events,
};
use work_orders::{NewWorkOrder, WorkOrderFields};

const READ: &str = "jobs.read";
const WRITE: &str = "jobs.write";
/// The nightly horizon extension.
const EXTEND_HORIZON: &str = "extend-horizon";
/// The host's default deadline of a call: the host sends none with an event.
const EVENT_DEADLINE_MS: u64 = 2_000;

struct WorkOrders;

impl Module for WorkOrders {
    const MANIFEST: Manifest = Manifest {
        name: "work-orders",
        version: env!("CARGO_PKG_VERSION"),
        slot: "work-orders",
        routes: &[
            Route::post("/", WRITE, work_orders::create)
                .summary("Create a work order; a recurrence generates its jobs")
                .request::<NewWorkOrder>()
                .responds::<Generated>(201),
            Route::get("/", READ, work_orders::list)
                .summary("List work orders (customer_id, location_id, agreement_id, status)")
                .responds::<Page<WorkOrder>>(200),
            Route::get("/{id}", READ, work_orders::show)
                .summary("A work order (ETag)")
                .responds::<Record<WorkOrder>>(200),
            Route::patch("/{id}", WRITE, work_orders::update)
                .summary("Change a work order; a new rule regenerates future jobs (If-Match)")
                .request::<WorkOrderFields>()
                .responds::<Generated>(200),
            Route::post("/{id}/generate", WRITE, work_orders::generate)
                .summary("Generate the jobs of the horizon now (idempotent)")
                .responds::<Generated>(200),
            Route::post("/{id}/close", WRITE, work_orders::close)
                .summary("Close a work order and cancel its future unscheduled jobs")
                .responds::<Closed>(200),
        ],
        tables: Tables {
            read: &[ops::CUSTOMERS, ops::LOCATIONS, ops::SERVICE_TYPES],
            write: &[ops::WORK_ORDERS, ops::JOBS, ops::HISTORY],
        },
        events: Events::emitting(&[ops::JOB_STATUS_CHANGED]),
        schedules: &[Schedule::new(EXTEND_HORIZON, "daily 01:00")],
        ..Manifest::EMPTY
    };

    /// Runs the `extend-horizon` tick; accepts any other event (there are none).
    fn on_event(event: Event) -> Result<(), String> {
        if events::scheduled_task(&event).as_deref() != Some(EXTEND_HORIZON) {
            return Ok(());
        }
        let deadline = Deadline::starting_now(Some(EVENT_DEADLINE_MS));
        ops::generate::extend_horizons(&deadline)
            .map(|_| ())
            .map_err(|problem| format!("extending the horizons failed: {problem:?}"))
    }
}

verofield_sdk::export_module!(WorkOrders);
