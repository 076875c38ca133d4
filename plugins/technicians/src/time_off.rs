//! A technician's time off: UTC instants (`starts_at` < `ends_at`) and a reason.

use serde::{Deserialize, Serialize};
use serde_json::json;
use verofield_field_ops::{Columns, TECHNICIAN, TECHNICIAN_TIME_OFF, TIME_OFF, time};
use verofield_sdk::http::Request;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Problem, Response, Validator, etag};

/// An absence, RFC 3339 instants (`ends_at` after `starts_at`).
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOffFields {
    #[schemars(extend("format" = "date-time"))]
    starts_at: String,
    #[schemars(extend("format" = "date-time"))]
    ends_at: String,
    #[serde(default)]
    reason: String,
}

/// `POST /technicians/{id}/time-off`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let technician = TECHNICIAN.existing(request.id_param("id")?)?;
    let fields: TimeOffFields = request.json()?;
    let starts = time::parse_instant(&fields.starts_at);
    let ends = time::parse_instant(&fields.ends_at);
    let mut check = Validator::default();
    check
        .check(
            starts.is_some(),
            "starts_at",
            "must be an RFC 3339 timestamp",
        )
        .check(ends.is_some(), "ends_at", "must be an RFC 3339 timestamp")
        .length("reason", Some(&fields.reason), 0..=500);
    if let (Some(starts), Some(ends)) = (starts, ends) {
        check.check(ends > starts, "ends_at", "must be after starts_at");
    }
    check.finish()?;
    let (Some(starts), Some(ends)) = (starts, ends) else {
        unreachable!("validated above");
    };
    let row: Record<Columns> = store::insert(
        TIME_OFF,
        &json!({
            "technician_id": technician.id,
            "starts_at": time::rfc3339(starts),
            "ends_at": time::rfc3339(ends),
            "reason": fields.reason.trim(),
        }),
    )?;
    Ok(Response::created(
        &format!("/v1/technicians/{}/time-off/{}", technician.id, row.id),
        &row,
    ))
}

/// `GET /technicians/{id}/time-off`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let technician = TECHNICIAN.existing(request.id_param("id")?)?;
    let page = Select::from(TIME_OFF)
        .filter(Filter::eq("technician_id", technician.id))
        .order_by("starts_at", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `DELETE /technicians/{id}/time-off/{time_off_id}`
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let technician = TECHNICIAN.existing(request.id_param("id")?)?;
    let id = request.id_param("time_off_id")?;
    let row = TECHNICIAN_TIME_OFF.existing(id)?;
    if verofield_field_ops::text(&row.values, "technician_id") != technician.id {
        return Err(Problem::not_found("time off"));
    }
    etag::delete::<Columns>(request, TIME_OFF, id, "time off")?;
    Ok(Response::no_content())
}
