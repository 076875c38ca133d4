//! Job event payloads more than one module emits (`job.scheduled` and `job.assigned` from
//! jobs and routing), built here once so a consumer sees the same fields whoever changed the
//! job. Every job event carries `job_id` (the host orders a job's events by it) and the job's
//! `version` after the change. The payloads are documented in docs/EVENTS.md.

use serde_json::{Value, json};
use verofield_sdk::store::Record;
use verofield_sdk::{Problem, events};

use crate::{Columns, JOB_SCHEDULED};

/// The fields every `job.scheduled` and `job.assigned` starts with: the job, its version and
/// status, what it is for, the window promised to the customer and the times a routing plan
/// planned (null until a plan is applied).
pub fn job_fields(job: &Record<Columns>) -> Value {
    let v = &job.values;
    json!({
        "job_id": job.id,
        "version": job.version,
        "status": v.get("status"),
        "customer_id": v.get("customer_id"),
        "location_id": v.get("location_id"),
        "work_order_id": v.get("work_order_id"),
        "service_type_ids": v.get("service_type_ids"),
        "scheduled_date": v.get("scheduled_date"),
        "window_start": v.get("window_start"),
        "window_end": v.get("window_end"),
        "planned_start": v.get("planned_start"),
        "planned_end": v.get("planned_end"),
        "eta": v.get("eta"),
        "custom": v.get("custom"),
    })
}

/// `job_fields` of `job` with `more` added.
pub fn job_payload(job: &Record<Columns>, more: Value) -> Value {
    let mut payload = job_fields(job);
    if let (Some(payload), Value::Object(more)) = (payload.as_object_mut(), more) {
        payload.extend(more);
    }
    payload
}

/// Emits `job.scheduled` for `job` as stored after the change, assigned to `technician_ids`.
pub fn emit_job_scheduled(job: &Record<Columns>, technician_ids: &[String]) -> Result<(), Problem> {
    let v = &job.values;
    let more = json!({
        "technician_ids": technician_ids,
        "window_start_local": v.get("window_start_local"),
        "window_end_local": v.get("window_end_local"),
        "time_zone": v.get("time_zone"),
        "duration_minutes": v.get("duration_minutes"),
        "priority": v.get("priority"),
    });
    events::emit(JOB_SCHEDULED, &job_payload(job, more))
}
