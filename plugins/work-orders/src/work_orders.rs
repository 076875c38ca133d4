//! Work orders.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::generate::{self, WorkOrder};
use verofield_field_ops::plan::{self, VisitChecks, today};
use verofield_field_ops::{Columns, WORK_ORDER, WORK_ORDERS, text};
use verofield_sdk::http::Request;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Deadline, Patch, Problem, Response, Validator, etag, money};

/// A line: a service type, a quantity (default 1), and a unit price unless the catalog's.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LineItem {
    service_type_id: String,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default)]
    unit_price_minor: Option<i64>,
    #[serde(default)]
    description: Option<String>,
}

fn one() -> i64 {
    1
}

/// A work order: where, what (line items), and optionally an RRULE `recurrence` with its
/// window (`starts_on`, `ends_on`, local `start_time`/`end_time` in `time_zone`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkOrder {
    customer_id: String,
    location_id: String,
    #[serde(default)]
    title: String,
    line_items: Vec<LineItem>,
    #[serde(default)]
    recurrence: Option<String>,
    #[serde(default)]
    starts_on: Option<String>,
    #[serde(default)]
    ends_on: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    duration_minutes: Option<i64>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    horizon_days: Option<i64>,
    #[serde(default)]
    notes: String,
}

/// Checks line items against the catalog and prices them: each gets the service type's name,
/// default price and currency unless it gives its own unit price.
fn price_lines(
    check: &mut Validator,
    lines: &[LineItem],
) -> Result<(Vec<Value>, plan::ServiceTypes, Vec<String>), Problem> {
    let ids: Vec<String> = lines.iter().map(|l| l.service_type_id.clone()).collect();
    check.check(
        !lines.is_empty(),
        "line_items",
        "must hold at least one line",
    );
    let types = plan::service_types(check, "line_items", &ids)?;
    let mut priced = Vec::new();
    let mut totals = Vec::new();
    let mut unique = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        check
            .check(
                (1..=1000).contains(&line.quantity),
                &format!("line_items[{i}].quantity"),
                "must be from 1 to 1000",
            )
            .check(
                line.unit_price_minor.is_none_or(|p| p >= 0),
                &format!("line_items[{i}].unit_price_minor"),
                "may not be negative",
            )
            .length(
                &format!("line_items[{i}].description"),
                line.description.as_ref(),
                0..=500,
            );
        if let Some(row) = types.rows.iter().find(|r| r.id == line.service_type_id) {
            let unit = line.unit_price_minor.unwrap_or_else(|| {
                row.values
                    .get("default_price_minor")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            });
            let price_field = format!("line_items[{i}].unit_price_minor");
            let total = (1..=1000)
                .contains(&line.quantity)
                .then(|| check.accept(money::product(&price_field, unit, line.quantity)))
                .flatten();
            totals.extend(total);
            priced.push(json!({
                "service_type_id": row.id,
                "name": text(&row.values, "name"),
                "description": line.description,
                "quantity": line.quantity,
                "unit_price_minor": unit,
                "currency": text(&row.values, "currency"),
                "total_minor": total,
            }));
        }
        if !unique.contains(&line.service_type_id) {
            unique.push(line.service_type_id.clone());
        }
    }
    // The order's total is what it will be billed: it must be an amount too.
    check.accept(money::sum("line_items", totals));
    Ok((priced, types, unique))
}

/// The work order with what its generation did.
fn answer(
    status: u16,
    work_order: &Record<Columns>,
    generated: Option<generate::Generated>,
) -> Response {
    let mut body = serde_json::to_value(work_order).unwrap_or_default();
    if let Some(generated) = generated {
        body["generation"] = json!(generated);
    }
    let mut response = Response::json(status, &body);
    response.set_header("etag", &etag::etag(work_order.version));
    if status == 201 {
        response.set_header("location", &format!("/v1/work-orders/{}", work_order.id));
    }
    response
}

/// Runs the generation and returns the work order as it is afterwards.
fn generate_for(
    id: &str,
    deadline: &Deadline,
) -> Result<(Record<Columns>, generate::Generated), Problem> {
    let work_order: Record<WorkOrder> = WORK_ORDER.existing_as(id)?;
    let generated = generate::generate(&work_order, today(&work_order.values.time_zone), deadline)?;
    let fresh = WORK_ORDER.existing(id)?;
    Ok((fresh, generated))
}

/// `POST /`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let deadline = Deadline::of(request);
    let body: NewWorkOrder = request.json()?;
    let mut check = Validator::default();
    plan::customer_location(
        &mut check,
        &body.customer_id,
        "location_id",
        &body.location_id,
    )?;
    let (lines, types, ids) = price_lines(&mut check, &body.line_items)?;
    let zone = body.time_zone.clone().unwrap_or_else(|| "UTC".into());
    let start_time = body.start_time.clone().unwrap_or_else(|| "09:00".into());
    let end_time = body.end_time.clone().unwrap_or_else(|| "11:00".into());
    plan::window(
        &mut check,
        &start_time,
        &end_time,
        &zone,
        body.starts_on.as_deref(),
        body.ends_on.as_deref(),
    );
    let rule = body
        .recurrence
        .as_deref()
        .and_then(|r| plan::recurrence(&mut check, "recurrence", r));
    check.check(
        body.recurrence.is_none() || body.starts_on.is_some(),
        "starts_on",
        "is required with a recurrence",
    );
    let duration = body
        .duration_minutes
        .unwrap_or(types.default_minutes.clamp(1, 1440));
    check
        .length("title", Some(&body.title), 0..=200)
        .length("notes", Some(&body.notes), 0..=10_000)
        .duration("duration_minutes", Some(duration))
        .priority(body.priority)
        .horizon_days(body.horizon_days);
    check.finish()?;
    let work_order: Record<Columns> = store::insert(
        WORK_ORDERS,
        &json!({
            "customer_id": body.customer_id,
            "location_id": body.location_id,
            "title": body.title.trim(),
            "line_items": lines,
            "service_type_ids": ids,
            "required_skills": types.required_skills,
            "recurrence": rule,
            "starts_on": body.starts_on,
            "ends_on": body.ends_on,
            "start_time": start_time,
            "end_time": end_time,
            "time_zone": zone,
            "duration_minutes": duration,
            "priority": body.priority.unwrap_or(3),
            "horizon_days": body.horizon_days.unwrap_or(90),
            "notes": body.notes,
        }),
    )?;
    let (work_order, generated) = generate_for(&work_order.id, &deadline)?;
    Ok(answer(201, &work_order, Some(generated)))
}

/// `GET /?customer_id=&location_id=&agreement_id=&status=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    for column in ["customer_id", "location_id", "agreement_id"] {
        if let Some(value) = request.query_uuid(column)? {
            filters.push(Filter::eq(column, value));
        }
    }
    if let Some(status) =
        request.query_one_of("status", &["open", "paused", "closed", "canceled"])?
    {
        filters.push(Filter::eq("status", status));
    }
    let page = Select::from(WORK_ORDERS)
        .filter(Filter::and(filters))
        .order_by("created_at", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    let work_order = WORK_ORDER.existing(request.id_param("id")?)?;
    Ok(answer(200, &work_order, None))
}

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderFields {
    title: Patch<String>,
    notes: Patch<String>,
    recurrence: Patch<String>,
    starts_on: Patch<String>,
    ends_on: Patch<String>,
    start_time: Patch<String>,
    end_time: Patch<String>,
    time_zone: Patch<String>,
    duration_minutes: Patch<i64>,
    priority: Patch<i64>,
    horizon_days: Patch<i64>,
}

impl WorkOrderFields {
    /// Whether the change moves the visits (rather than only describing the order).
    fn reschedules(&self) -> bool {
        !(self.recurrence.is_absent()
            && self.starts_on.is_absent()
            && self.ends_on.is_absent()
            && self.start_time.is_absent()
            && self.end_time.is_absent()
            && self.time_zone.is_absent()
            && self.duration_minutes.is_absent()
            && self.priority.is_absent())
    }
}

/// `PATCH /{id}`: a change to the rule, dates, window, zone, duration or priority retracts
/// the future unscheduled jobs (scheduled, started and past ones stay) and regenerates.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let deadline = Deadline::of(request);
    let id = request.id_param("id")?;
    let mut fields: WorkOrderFields = request.json_with_read_only(&[
        "customer_id",
        "location_id",
        "agreement_id",
        "status",
        "line_items",
        "service_type_ids",
        "required_skills",
        "generated_until",
    ])?;
    let current = WORK_ORDER.existing(id)?;
    let v = &current.values;
    let merged = |patch: &Patch<String>, column: &str| -> Option<String> {
        match patch {
            Patch::Absent => v.get(column).and_then(Value::as_str).map(str::to_owned),
            Patch::Null => None,
            Patch::Value(value) => Some(value.clone()),
        }
    };
    let mut check = Validator::default();
    check
        .required(&fields.start_time, "start_time", false)
        .required(&fields.end_time, "end_time", false)
        .required(&fields.time_zone, "time_zone", false)
        .required(&fields.duration_minutes, "duration_minutes", false)
        .required(&fields.priority, "priority", false)
        .required(&fields.horizon_days, "horizon_days", false)
        .required(&fields.title, "title", false)
        .required(&fields.notes, "notes", false)
        .length("title", fields.title.value(), 0..=200)
        .length("notes", fields.notes.value(), 0..=10_000);
    if let Some(rule) = fields.recurrence.value()
        && let Some(canonical) = plan::recurrence(&mut check, "recurrence", rule)
    {
        fields.recurrence = Patch::Value(canonical);
    }
    let starts_on = merged(&fields.starts_on, "starts_on");
    let ends_on = merged(&fields.ends_on, "ends_on");
    plan::window(
        &mut check,
        &merged(&fields.start_time, "start_time").unwrap_or_default(),
        &merged(&fields.end_time, "end_time").unwrap_or_default(),
        &merged(&fields.time_zone, "time_zone").unwrap_or_default(),
        starts_on.as_deref(),
        ends_on.as_deref(),
    );
    check.check(
        merged(&fields.recurrence, "recurrence").is_none() || starts_on.is_some(),
        "starts_on",
        "is required with a recurrence",
    );
    check
        .duration("duration_minutes", fields.duration_minutes.value().copied())
        .priority(fields.priority.value().copied())
        .horizon_days(fields.horizon_days.value().copied());
    check.finish()?;
    let reschedules = fields.reschedules();
    let updated: Record<Columns> = etag::update(request, WORK_ORDERS, id, "work order", &fields)?;
    if !reschedules {
        return Ok(answer(200, &updated, None));
    }
    let from = today(text(&updated.values, "time_zone"));
    let retracted = generate::retract_unscheduled(id, from)?;
    let (work_order, generated) = generate_for(id, &deadline)?;
    let mut response = answer(200, &work_order, Some(generated));
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    body["generation"]["retracted"] = json!(retracted);
    response.body = serde_json::to_vec(&body).unwrap_or_default();
    Ok(response)
}

/// `POST /{id}/generate`: creates the jobs the horizon is missing; running it again creates
/// nothing new.
pub fn generate(request: &Request) -> Result<Response, Problem> {
    let deadline = Deadline::of(request);
    let id = request.id_param("id")?;
    let (work_order, generated) = generate_for(id, &deadline)?;
    Ok(answer(200, &work_order, Some(generated)))
}

/// `POST /{id}/close`: no more visits; future unscheduled jobs are retracted and confirmed
/// ones not started are canceled. Done and started work stays.
pub fn close(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let current = WORK_ORDER.existing(id)?;
    etag::check_if_match(request, current.version)?;
    if text(&current.values, "status") != "open" && text(&current.values, "status") != "paused" {
        return Err(Problem::new(
            409,
            "invalid_transition",
            "the work order is already closed",
        ));
    }
    let updated: Record<Columns> = store::update(
        WORK_ORDERS,
        id,
        current.version,
        &json!({"status": "closed"}),
    )?;
    let (retracted, canceled) = generate::stop_future(
        id,
        today(text(&updated.values, "time_zone")),
        "work order closed",
    )?;
    let mut body = serde_json::to_value(&updated).unwrap_or_default();
    body["retracted"] = json!(retracted);
    body["canceled"] = json!(canceled);
    Ok(Response::json(200, &body))
}
