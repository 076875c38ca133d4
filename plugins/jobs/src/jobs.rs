//! Jobs (visits): create, query, schedule in local time, move through the lifecycle, assign
//! technicians with conflict detection, and the technician's own view (`/mine`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::events::{emit_job_scheduled, job_payload};
use verofield_field_ops::generate::{record_created, transition};
use verofield_field_ops::plan::{self, VisitChecks, reference};
use verofield_field_ops::{
    ASSIGNMENTS, CUSTOMERS, Columns, HISTORY, JOB, JOB_ASSIGNED, JOB_COMPLETED, JOBS, LOCATIONS,
    SERVICE_TYPES, TECHNICIAN, TECHNICIANS, WORK_ORDERS, select_all, status, text, texts, time,
};
use verofield_sdk::http::Request;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Patch, Problem, Response, Validator, custom, etag, events, extensions};

use crate::conflicts::{self, Conflict};

/// The extension point a job passes before it is stored (`docs/EXTENSIONS.md`).
const VALIDATE: &str = "jobs.validate";

fn invalid_transition(from: &str, to: &str) -> Problem {
    Problem::new(
        409,
        "invalid_transition",
        format!("a job cannot go from `{from}` to `{to}`"),
    )
}

/// The local schedule of a job: date, arrival window and zone, with the UTC instants.
#[derive(Debug, Clone)]
struct Schedule {
    date: NaiveDate,
    start_local: String,
    end_local: String,
    zone: String,
    start: String,
    end: String,
}

impl Schedule {
    fn columns(&self) -> Value {
        json!({
            "scheduled_date": self.date.to_string(),
            "window_start_local": self.start_local,
            "window_end_local": self.end_local,
            "time_zone": self.zone,
            "window_start": self.start,
            "window_end": self.end,
            // A new promise voids the plan made for the old one.
            "planned_start": null,
            "planned_end": null,
            "eta": null,
            "planned_travel_meters": null,
        })
    }
}

/// Checks a schedule given as local date, `HH:MM` window and IANA zone.
fn schedule(
    check: &mut Validator,
    date: Option<&String>,
    start: Option<&String>,
    end: Option<&String>,
    zone: &str,
) -> Option<Schedule> {
    let parsed_date = date.map(|d| time::parse_date(d));
    let parsed_start = start.map(|t| time::parse_hhmm(t));
    let parsed_end = end.map(|t| time::parse_hhmm(t));
    let parsed_zone = time::zone(zone);
    check
        .check(
            !matches!(parsed_date, Some(None)),
            "scheduled_date",
            "must be a date (YYYY-MM-DD)",
        )
        .check(
            !matches!(parsed_start, Some(None)),
            "window_start_local",
            "must be HH:MM",
        )
        .check(
            !matches!(parsed_end, Some(None)),
            "window_end_local",
            "must be HH:MM",
        )
        .check(
            parsed_zone.is_some(),
            "time_zone",
            "must be an IANA time zone",
        );
    let (Some(Some(date)), Some(Some(s)), Some(Some(e)), Some(tz)) =
        (parsed_date, parsed_start, parsed_end, parsed_zone)
    else {
        return None;
    };
    check.check(
        e > s,
        "window_end_local",
        "must be after window_start_local",
    );
    let (start_utc, end_utc) = time::window(date, s, e, tz);
    Some(Schedule {
        date,
        start_local: s.format("%H:%M").to_string(),
        end_local: e.format("%H:%M").to_string(),
        zone: zone.to_owned(),
        start: time::rfc3339(start_utc),
        end: time::rfc3339(end_utc),
    })
}

/// The service types named in a body (each exists and is active): the union of their
/// required skills and their total default duration.
fn service_types(check: &mut Validator, ids: &[String]) -> Result<(Vec<String>, i64), Problem> {
    let found = plan::service_types(check, "service_type_ids", ids)?;
    Ok((found.required_skills, found.default_minutes))
}

/// A new job: where, what, and optionally when (date and window schedule it at once).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = service_types_required)]
pub struct NewJob {
    customer_id: String,
    location_id: String,
    #[serde(default)]
    work_order_id: Option<String>,
    /// What the visit is made of: at least one service type.
    #[serde(default)]
    #[schemars(length(min = 1))]
    service_type_ids: Vec<String>,
    #[serde(default)]
    scheduled_date: Option<String>,
    #[serde(default)]
    window_start_local: Option<String>,
    #[serde(default)]
    window_end_local: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    duration_minutes: Option<i64>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    notes: Option<String>,
    /// The tenant's custom fields; the host checks them against its definitions.
    #[serde(default)]
    custom: Option<serde_json::Map<String, Value>>,
}

/// The schema says what validation enforces: `service_type_ids` is absent-tolerant for serde
/// (so that the 422 names the field like every other check) but required in fact.
fn service_types_required(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(required)) = schema.get_mut("required") {
        required.push("service_type_ids".into());
    }
}

/// `POST /` : a job, scheduled at once when the body gives date and window.
pub fn create(request: &Request) -> Result<Response, Problem> {
    let body: NewJob = request.json()?;
    let mut check = Validator::default();
    let customer = reference(
        &mut check,
        CUSTOMERS,
        "customer_id",
        &body.customer_id,
        "customer",
    )?;
    let location = reference(
        &mut check,
        LOCATIONS,
        "location_id",
        &body.location_id,
        "location",
    )?;
    if let (Some(customer), Some(location)) = (&customer, &location) {
        check.check(
            text(&location.values, "customer_id") == customer.id,
            "location_id",
            "is not a location of this customer",
        );
    }
    let mut zone = body.time_zone.clone();
    if let Some(work_order_id) = &body.work_order_id
        && let Some(wo) = reference(
            &mut check,
            WORK_ORDERS,
            "work_order_id",
            work_order_id,
            "work order",
        )?
    {
        check.check(
            text(&wo.values, "customer_id") == body.customer_id
                && text(&wo.values, "location_id") == body.location_id,
            "work_order_id",
            "belongs to another customer or location",
        );
        zone = zone.or_else(|| Some(text(&wo.values, "time_zone").to_owned()));
    }
    let zone = zone.unwrap_or_else(|| "UTC".to_owned());
    let (skills, default_minutes) = service_types(&mut check, &body.service_type_ids)?;
    let duration = body
        .duration_minutes
        .unwrap_or(default_minutes.clamp(1, 1440));
    check
        .duration("duration_minutes", Some(duration))
        .priority(body.priority)
        .length("notes", body.notes.as_ref(), 0..=10_000);
    let given = [
        &body.scheduled_date,
        &body.window_start_local,
        &body.window_end_local,
    ]
    .iter()
    .filter(|v| v.is_some())
    .count();
    check.check(
        given == 0 || given == 3,
        "scheduled_date",
        "give scheduled_date, window_start_local and window_end_local together",
    );
    let planned = schedule(
        &mut check,
        body.scheduled_date.as_ref(),
        body.window_start_local.as_ref(),
        body.window_end_local.as_ref(),
        &zone,
    );
    check.finish()?;

    let mut values = json!({
        "customer_id": body.customer_id,
        "location_id": body.location_id,
        "work_order_id": body.work_order_id,
        "service_type_ids": body.service_type_ids,
        "required_skills": skills,
        "time_zone": zone,
        "duration_minutes": duration,
        "priority": body.priority.unwrap_or(3),
        "status": status::UNSCHEDULED,
        "notes": body.notes,
    });
    if let Some(custom) = &body.custom {
        values["custom"] = json!(custom);
    }
    if let Some(planned) = &planned {
        for (key, value) in planned.columns().as_object().into_iter().flatten() {
            values[key] = value.clone();
        }
    }
    extensions::validate(VALIDATE, &json!({"operation": "create", "job": values}))?;
    let mut job: Record<Columns> = store::insert(JOBS, &values)?;
    record_created(&job.id, "created")?;
    if planned.is_some() {
        job = transition(&job, status::SCHEDULED, None, &json!({}))?;
        emit_scheduled(&job)?;
    }
    Ok(Response::created(&format!("/v1/jobs/{}", job.id), &job))
}

/// `job.scheduled` for the job as it now stands, with its current technicians.
fn emit_scheduled(job: &Record<Columns>) -> Result<(), Problem> {
    emit_job_scheduled(job, &technician_ids(&job.id)?)
}

/// `GET /?from=&to=&status=&customer_id=&technician_id=&work_order_id=&location_id=&custom.<key>=&sort=`
/// (`sort=[-]custom.<key>` comes before the schedule order).
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    for (name, column) in [("from", "ge"), ("to", "le")] {
        if let Some(value) = request.query(name) {
            if time::parse_date(value).is_none() {
                return Err(Problem::invalid_query(name, "a date (YYYY-MM-DD)"));
            }
            filters.push(if column == "ge" {
                Filter::ge("scheduled_date", value)
            } else {
                Filter::le("scheduled_date", value)
            });
        }
    }
    let statuses: Vec<&str> = request.query_all("status").collect();
    if !statuses.is_empty() {
        if statuses.iter().any(|s| !status::ALL.contains(s)) {
            return Err(Problem::invalid_query("status", "a job status"));
        }
        filters.push(Filter::one_of("status", statuses));
    }
    for column in ["customer_id", "location_id", "work_order_id"] {
        if let Some(value) = request.query_uuid(column)? {
            filters.push(Filter::eq(column, value));
        }
    }
    if let Some(technician) = request.query_uuid("technician_id")? {
        filters.push(assigned_to(technician)?);
    }
    filters.extend(custom::filters(request)?);
    let mut select = Select::from(JOBS).filter(Filter::and(filters));
    if let Some(sort) = custom::only_sort(request)? {
        select = select.sort(sort);
    }
    let page = select
        .order_by("scheduled_date", Direction::Asc)
        .order_by("window_start", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// A filter for the jobs assigned to a technician.
fn assigned_to(technician_id: &str) -> Result<Filter, Problem> {
    let ids: Vec<String> = select_all(
        ASSIGNMENTS,
        Filter::eq("technician_id", technician_id),
        &[],
        5000,
        "assignments",
    )?
    .into_iter()
    .map(|a| text(&a.values, "job_id").to_owned())
    .collect();
    Ok(if ids.is_empty() {
        Filter::or([])
    } else {
        Filter::one_of("id", ids)
    })
}

/// A job with its technicians.
fn with_assignments(job: Record<Columns>) -> Result<Response, Problem> {
    let assigned: Vec<String> = technician_ids(&job.id)?;
    let mut response = Response::record(200, &job);
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    body["technician_ids"] = json!(assigned);
    response.body = serde_json::to_vec(&body).unwrap_or_default();
    Ok(response)
}

fn technician_ids(job_id: &str) -> Result<Vec<String>, Problem> {
    Ok(select_all(
        ASSIGNMENTS,
        Filter::eq("job_id", job_id),
        &[],
        100,
        "assignments",
    )?
    .into_iter()
    .map(|a| text(&a.values, "technician_id").to_owned())
    .collect())
}

/// `GET /{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    with_assignments(JOB.existing(request.id_param("id")?)?)
}

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFields {
    service_type_ids: Patch<Vec<String>>,
    duration_minutes: Patch<i64>,
    priority: Patch<i64>,
    notes: Patch<String>,
    /// The tenant's custom fields; replaces the stored object (`null` in it clears a key).
    custom: Patch<serde_json::Map<String, Value>>,
    #[serde(skip_deserializing)]
    required_skills: Patch<Vec<String>>,
}

/// `PATCH /{id}`: service types, duration, priority, notes (scheduling and status have their
/// own routes). A closed job (completed, canceled) is not edited.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let mut fields: JobFields = request.json_with_read_only(&[
        "status",
        "customer_id",
        "location_id",
        "work_order_id",
        "required_skills",
        "scheduled_date",
        "window_start",
        "window_end",
        "window_start_local",
        "window_end_local",
        "time_zone",
    ])?;
    let mut check = Validator::default();
    check
        .required(&fields.service_type_ids, "service_type_ids", false)
        .required(&fields.duration_minutes, "duration_minutes", false)
        .required(&fields.priority, "priority", false)
        .required(&fields.custom, "custom", false)
        .length("notes", fields.notes.value(), 0..=10_000)
        .duration("duration_minutes", fields.duration_minutes.value().copied())
        .priority(fields.priority.value().copied());
    if let Some(ids) = fields.service_type_ids.value() {
        let (skills, _) = service_types(&mut check, ids)?;
        fields.required_skills = Patch::Value(skills);
    }
    check.finish()?;
    let current = JOB.existing(id)?;
    let state = text(&current.values, "status");
    if state == status::COMPLETED || state == status::CANCELED {
        return Err(Problem::new(
            409,
            "job_closed",
            format!("the job is {state}"),
        ));
    }
    let mut job = current.values.clone();
    if let Ok(Value::Object(changes)) = serde_json::to_value(&fields) {
        job.extend(changes);
    }
    extensions::validate(VALIDATE, &json!({"operation": "update", "job": job}))?;
    let job: Record<Columns> = etag::update(request, JOBS, id, "job", &fields)?;
    with_assignments(job)
}

/// When: a local date and an `HH:MM` arrival window in `time_zone` (default: the job's).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    scheduled_date: String,
    window_start_local: String,
    window_end_local: String,
    #[serde(default)]
    time_zone: Option<String>,
}

/// `POST /{id}/schedule`: sets the local date and window (the zone defaults to the job's) and
/// moves an unscheduled or on-hold job to `scheduled`; reschedules a scheduled one.
pub fn schedule_job(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: ScheduleBody = request.json()?;
    let job = JOB.existing(id)?;
    let zone = body
        .time_zone
        .clone()
        .unwrap_or_else(|| text(&job.values, "time_zone").to_owned());
    let mut check = Validator::default();
    let planned = schedule(
        &mut check,
        Some(&body.scheduled_date),
        Some(&body.window_start_local),
        Some(&body.window_end_local),
        &zone,
    );
    check.finish()?;
    let Some(planned) = planned else {
        return Err(Problem::internal("schedule validated but absent"));
    };
    etag::check_if_match(request, job.version)?;
    // The technicians already on the job must still be able to take it at the new time.
    let assignees = technician_ids(&job.id)?;
    if !assignees.is_empty() {
        let mut moved = job.clone();
        for (key, value) in planned.columns().as_object().into_iter().flatten() {
            moved.values.insert(key.clone(), value.clone());
        }
        let mut found = Vec::new();
        for tech_id in &assignees {
            if let Some(tech) = store::get::<Columns>(TECHNICIANS, tech_id)? {
                found.extend(conflicts::find(&moved, &tech)?);
            }
        }
        if !found.is_empty() {
            return Err(Problem::new(
                409,
                "assignment_conflict",
                "the new time conflicts with the assigned technicians' schedules",
            )
            .with("conflicts", found));
        }
    }
    let from = text(&job.values, "status").to_owned();
    let job = match from.as_str() {
        status::SCHEDULED => store::update(JOBS, &job.id, job.version, &planned.columns())?,
        status::UNSCHEDULED | status::ON_HOLD => {
            transition(&job, status::SCHEDULED, None, &planned.columns())?
        }
        other => return Err(invalid_transition(other, status::SCHEDULED)),
    };
    emit_scheduled(&job)?;
    with_assignments(job)
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Material {
    name: String,
    quantity: f64,
    #[serde(default)]
    unit: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Completion {
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    materials: Vec<Material>,
    work_minutes: i64,
    #[serde(default)]
    signature_ref: Option<String>,
}

/// The status to move to; `completion` is required for, and only for, `completed`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[schemars(with = "crate::records::Status")]
    status: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    completion: Option<Completion>,
}

fn check_completion(check: &mut Validator, completion: &Completion) {
    check
        .check(
            (0..=24 * 60).contains(&completion.work_minutes),
            "completion.work_minutes",
            "must be from 0 to 1440",
        )
        .length("completion.notes", completion.notes.as_ref(), 0..=10_000)
        .length(
            "completion.signature_ref",
            completion.signature_ref.as_ref(),
            1..=500,
        )
        .check(
            completion.materials.len() <= 100,
            "completion.materials",
            "may list at most 100 materials",
        );
    for (i, material) in completion.materials.iter().enumerate() {
        check
            .length(
                &format!("completion.materials[{i}].name"),
                Some(&material.name),
                1..=200,
            )
            .check(
                material.quantity.is_finite() && material.quantity >= 0.0,
                &format!("completion.materials[{i}].quantity"),
                "must be a non-negative number",
            );
    }
}

/// `POST /{id}/status` (dispatch: any legal transition).
pub fn change_status(request: &Request) -> Result<Response, Problem> {
    move_job(request, false)
}

/// `POST /mine/{id}/status` (the assigned technician, from the field: en route, in progress,
/// completed). Row-level security already hides jobs not assigned to the caller.
pub fn change_own_status(request: &Request) -> Result<Response, Problem> {
    move_job(request, true)
}

fn move_job(request: &Request, from_the_field: bool) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: StatusBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(
            status::ALL.contains(&body.status.as_str()),
            "status",
            "must be a job status",
        )
        .length("note", body.note.as_ref(), 0..=2_000);
    let completing = body.status == status::COMPLETED;
    match &body.completion {
        Some(completion) if completing => check_completion(&mut check, completion),
        Some(_) => {
            check.check(false, "completion", "is given only with status `completed`");
        }
        None if completing => {
            check.check(false, "completion", "is required to complete a job");
        }
        None => {}
    }
    check.finish()?;
    let job = JOB.existing(id)?;
    if from_the_field {
        own_job(&job)?;
    }
    etag::check_if_match(request, job.version)?;
    let from = text(&job.values, "status").to_owned();
    let to = body.status.as_str();
    let legal = if from_the_field {
        status::field_transition(&from, to)
    } else {
        status::allowed(&from, to)
    };
    if !legal {
        return Err(invalid_transition(&from, to));
    }
    if to == status::SCHEDULED && text(&job.values, "window_start").is_empty() {
        return Err(Problem::new(
            409,
            "invalid_transition",
            "the job has no date and window: schedule it with POST /v1/jobs/{id}/schedule",
        ));
    }
    let technicians = technician_ids(&job.id)?;
    if to == status::DISPATCHED && technicians.is_empty() {
        return Err(Problem::new(
            409,
            "invalid_transition",
            "a job is dispatched to a technician: assign one first",
        ));
    }
    let extra = match &body.completion {
        Some(completion) => json!({"completion": completion}),
        None => json!({}),
    };
    let job = transition(&job, to, body.note.as_deref(), &extra)?;
    if to == status::SCHEDULED {
        emit_scheduled(&job)?;
    }
    if to == status::COMPLETED {
        let v = &job.values;
        let completion = body.completion.as_ref();
        // What billing needs without reading back: the catalog prices of the services done
        // and, for a work order's visit, its priced lines and its agreement.
        let mut services = Vec::new();
        for service_id in texts(v, "service_type_ids") {
            if let Some(row) = store::get::<Columns>(SERVICE_TYPES, &service_id)? {
                services.push(json!({
                    "id": row.id,
                    "name": row.values.get("name"),
                    "price_minor": row.values.get("default_price_minor"),
                    "currency": row.values.get("currency"),
                    "duration_minutes": row.values.get("default_duration_minutes"),
                }));
            }
        }
        let work_order = match v.get("work_order_id").and_then(Value::as_str) {
            Some(id) => store::get::<Columns>(WORK_ORDERS, id)?,
            None => None,
        };
        events::emit(
            JOB_COMPLETED,
            &json!({
                "job_id": job.id,
                "version": job.version,
                "status": v.get("status"),
                "services": services,
                "agreement_id": work_order.as_ref().and_then(|w| w.values.get("agreement_id")),
                "work_order_line_items": work_order.as_ref().and_then(|w| w.values.get("line_items")),
                "customer_id": v.get("customer_id"),
                "location_id": v.get("location_id"),
                "work_order_id": v.get("work_order_id"),
                "service_type_ids": v.get("service_type_ids"),
                "technician_ids": technicians,
                "custom": v.get("custom"),
                "scheduled_date": v.get("scheduled_date"),
                "window_start": v.get("window_start"),
                "window_end": v.get("window_end"),
                "time_zone": v.get("time_zone"),
                "started_at": v.get("started_at"),
                "completed_at": v.get("completed_at"),
                "duration_minutes": v.get("duration_minutes"),
                "work_minutes": completion.map(|c| c.work_minutes),
                "materials": completion.map(|c| &c.materials),
                "signature_ref": completion.and_then(|c| c.signature_ref.as_ref()),
                "by": verofield_field_ops::caller_user_id(),
            }),
        )?;
    }
    with_assignments(job)
}

/// The caller's technician profile.
fn my_technician() -> Result<Record<Columns>, Problem> {
    let user = verofield_field_ops::caller_user_id();
    let page = Select::from(TECHNICIANS)
        .filter(Filter::eq("user_id", user))
        .limit(1)
        .fetch::<Columns>()?;
    page.items.into_iter().next().ok_or_else(|| {
        Problem::new(
            403,
            "not_a_technician",
            "no technician profile is linked to this user",
        )
    })
}

/// Passes when the job is assigned to the caller (row-level security enforces it for the
/// technician role; this answers the same for anyone calling the field routes).
fn own_job(job: &Record<Columns>) -> Result<(), Problem> {
    let me = my_technician()?;
    if technician_ids(&job.id)?.contains(&me.id) {
        Ok(())
    } else {
        Err(Problem::not_found("job"))
    }
}

/// `GET /mine/{id}`
pub fn show_own(request: &Request) -> Result<Response, Problem> {
    let job = JOB.existing(request.id_param("id")?)?;
    own_job(&job)?;
    with_assignments(job)
}

/// `GET /mine?date=YYYY-MM-DD` (default: today in the technician's zone): the caller's day.
pub fn my_day(request: &Request) -> Result<Response, Problem> {
    let me = my_technician()?;
    day_of(request, &me)
}

/// `GET /technicians/{technician_id}/day?date=`
pub fn technician_day(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("technician_id")?;
    let technician = TECHNICIAN.existing(id)?;
    day_of(request, &technician)
}

/// A technician's jobs on one local date, ordered by arrival window.
fn day_of(request: &Request, technician: &Record<Columns>) -> Result<Response, Problem> {
    let date = match request.query("date") {
        Some(date) => time::parse_date(date)
            .ok_or_else(|| Problem::invalid_query("date", "a date (YYYY-MM-DD)"))?,
        None => {
            let zone = time::zone(text(&technician.values, "time_zone")).unwrap_or(chrono_tz::UTC);
            time::to_local(verofield_field_ops::now(), zone).date()
        }
    };
    let ids: BTreeSet<String> = select_all(
        ASSIGNMENTS,
        Filter::eq("technician_id", technician.id.as_str()),
        &[],
        5000,
        "assignments",
    )?
    .into_iter()
    .map(|a| text(&a.values, "job_id").to_owned())
    .collect();
    let jobs = if ids.is_empty() {
        Vec::new()
    } else {
        select_all(
            JOBS,
            Filter::and([
                Filter::one_of("id", ids),
                Filter::eq("scheduled_date", date.to_string()),
            ]),
            &[("window_start", Direction::Asc)],
            500,
            "jobs",
        )?
    };
    Ok(Response::json(
        200,
        &json!({"technician_id": technician.id, "date": date.to_string(), "items": jobs}),
    ))
}

/// `GET /{id}/history`
pub fn history(request: &Request) -> Result<Response, Problem> {
    let job = JOB.existing(request.id_param("id")?)?;
    let rows = select_all(
        HISTORY,
        Filter::eq("job_id", job.id.as_str()),
        &[
            ("changed_at", Direction::Asc),
            ("created_at", Direction::Asc),
        ],
        1000,
        "history rows",
    )?;
    Ok(Response::json(200, &json!({"items": rows})))
}

/// Technicians to add to the job (1 to 10).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[schemars(length(min = 1, max = 10))]
    technician_ids: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /{id}/assignments`: refused with 409 `assignment_conflict` listing every conflict.
pub fn assign(request: &Request) -> Result<Response, Problem> {
    assign_technicians(request, false)
}

/// `POST /{id}/assignments/override` (`jobs.assign.override`, checked by the host): assigns
/// despite the conflicts, which the answer and the event list.
pub fn assign_override(request: &Request) -> Result<Response, Problem> {
    assign_technicians(request, true)
}

fn assign_technicians(request: &Request, overriding: bool) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: AssignBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(
            !body.technician_ids.is_empty(),
            "technician_ids",
            "must name at least one technician",
        )
        .check(
            body.technician_ids.len() <= 10,
            "technician_ids",
            "may name at most 10 technicians",
        )
        .length("reason", body.reason.as_ref(), 0..=500);
    let job = JOB.existing(id)?;
    let mut technicians = Vec::new();
    for (i, tech_id) in body.technician_ids.iter().enumerate() {
        if let Some(tech) = reference(
            &mut check,
            TECHNICIANS,
            &format!("technician_ids[{i}]"),
            tech_id,
            "technician",
        )? && !technicians
            .iter()
            .any(|t: &Record<Columns>| t.id == tech.id)
        {
            technicians.push(tech);
        }
    }
    check.finish()?;
    let state = text(&job.values, "status");
    if state == status::COMPLETED || state == status::CANCELED {
        return Err(Problem::new(
            409,
            "job_closed",
            format!("the job is {state}"),
        ));
    }
    let current = technician_ids(&job.id)?;
    let mut conflicts: Vec<Conflict> = Vec::new();
    let mut added = Vec::new();
    for tech in &technicians {
        if current.contains(&tech.id) {
            continue;
        }
        claim(tech)?;
        conflicts.extend(conflicts::find(&job, tech)?);
        added.push(tech.id.clone());
    }
    if !conflicts.is_empty() && !overriding {
        return Err(Problem::new(
            409,
            "assignment_conflict",
            "the assignment conflicts with the technicians' schedules or skills",
        )
        .with("conflicts", conflicts));
    }
    for tech_id in &added {
        store::insert::<serde::de::IgnoredAny>(
            ASSIGNMENTS,
            &json!({"job_id": job.id, "technician_id": tech_id}),
        )?;
    }
    let all = technician_ids(&job.id)?;
    if !added.is_empty() {
        let more = json!({
            "added_technician_ids": added,
            "technician_ids": all,
            "overridden_conflicts": conflicts,
            "override_reason": body.reason,
            "by": verofield_field_ops::caller_user_id(),
            "assigned_at": verofield_field_ops::time::stamp(verofield_field_ops::now()),
        });
        events::emit(JOB_ASSIGNED, &job_payload(&job, more))?;
    }
    Ok(Response::json(
        200,
        &json!({
            "job_id": job.id,
            "technician_ids": all,
            "added": added,
            "overridden_conflicts": conflicts,
        }),
    ))
}

/// `DELETE /{id}/assignments/{technician_id}`
pub fn unassign(request: &Request) -> Result<Response, Problem> {
    let job = JOB.existing(request.id_param("id")?)?;
    let tech_id = request.id_param("technician_id")?;
    let rows = select_all(
        ASSIGNMENTS,
        Filter::and([
            Filter::eq("job_id", job.id.as_str()),
            Filter::eq("technician_id", tech_id),
        ]),
        &[],
        1,
        "assignments",
    )?;
    let Some(row) = rows.into_iter().next() else {
        return Err(Problem::not_found("assignment"));
    };
    store::delete(ASSIGNMENTS, &row.id, Some(row.version))?;
    Ok(Response::no_content())
}

/// Serializes assignments per technician: writing the technician's row (its version moves on)
/// holds its row lock until this transaction ends, so a concurrent assignment of the same
/// technician waits, then finds the version changed and answers 409 `conflict` (retry: the
/// retry sees this assignment among the overlapping jobs). Without it, two dispatchers could
/// each check, see no overlap, and both assign.
fn claim(technician: &Record<Columns>) -> Result<(), Problem> {
    store::update::<serde::de::IgnoredAny>(
        TECHNICIANS,
        &technician.id,
        technician.version,
        &json!({"active": technician.values.get("active")}),
    )?;
    Ok(())
}
