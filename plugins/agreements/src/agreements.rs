//! Service agreements.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::generate::{self, WorkOrder};
use verofield_field_ops::plan::{self, VisitChecks, today};
use verofield_field_ops::rrule::Rule;
use verofield_field_ops::{
    AGREEMENT, AGREEMENT_ACTIVATED, AGREEMENT_CANCELED, AGREEMENTS, Columns, WORK_ORDER,
    WORK_ORDERS, select_all, text, texts, time,
};
use verofield_sdk::http::{Request, is_uuid};
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{
    Deadline, FieldError, Patch, Problem, Response, Validator, custom, etag, events, money,
};

const PRICING: [&str; 2] = ["per_visit", "per_period"];
const BILLING: [&str; 5] = [
    "per_visit",
    "monthly",
    "quarterly",
    "semiannually",
    "annually",
];

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementFields {
    customer_id: Patch<String>,
    name: Patch<String>,
    location_ids: Patch<Vec<String>>,
    service_type_ids: Patch<Vec<String>>,
    recurrence: Patch<String>,
    start_time: Patch<String>,
    end_time: Patch<String>,
    time_zone: Patch<String>,
    duration_minutes: Patch<i64>,
    pricing: Patch<String>,
    price_minor: Patch<i64>,
    currency: Patch<String>,
    billing_frequency: Patch<String>,
    starts_on: Patch<String>,
    ends_on: Patch<String>,
    auto_renew: Patch<bool>,
    horizon_days: Patch<i64>,
    notes: Patch<String>,
    /// The tenant's custom fields; the host checks them against its definitions. Replaces
    /// the stored object on PATCH, whatever the agreement's status (they are not the plan).
    custom: Patch<serde_json::Map<String, Value>>,
    #[serde(skip_deserializing)]
    annual_value_minor: Patch<i64>,
}

const READ_ONLY: &[&str] = &[
    "status",
    "annual_value_minor",
    "work_order_ids",
    "activated_at",
    "paused_at",
    "canceled_at",
    "expired_at",
];

/// The plan as stored, with the body's changes applied.
fn merged(current: &Columns, fields: &AgreementFields) -> Columns {
    let mut merged = current.clone();
    if let Ok(Value::Object(changes)) = serde_json::to_value(fields) {
        for (key, value) in changes {
            merged.insert(key, value);
        }
    }
    merged
}

/// Validates the whole plan (after merging a change into the stored one).
fn validate(
    plan_columns: &Columns,
    fields: &AgreementFields,
    creating: bool,
) -> Result<Option<String>, Problem> {
    let mut check = Validator::default();
    check
        .required(&fields.customer_id, "customer_id", creating)
        .required(&fields.name, "name", creating)
        .required(&fields.location_ids, "location_ids", creating)
        .required(&fields.service_type_ids, "service_type_ids", creating)
        .required(&fields.recurrence, "recurrence", creating)
        .required(&fields.starts_on, "starts_on", creating)
        .required(&fields.price_minor, "price_minor", false)
        .required(&fields.start_time, "start_time", false)
        .required(&fields.end_time, "end_time", false)
        .required(&fields.time_zone, "time_zone", false)
        .required(&fields.pricing, "pricing", false)
        .required(&fields.currency, "currency", false)
        .required(&fields.billing_frequency, "billing_frequency", false)
        .required(&fields.auto_renew, "auto_renew", false)
        .required(&fields.horizon_days, "horizon_days", false)
        .required(&fields.notes, "notes", false)
        .required(&fields.custom, "custom", false)
        .length("name", fields.name.value(), 1..=200)
        .length("notes", fields.notes.value(), 0..=10_000);
    std::mem::take(&mut check).finish()?;
    let get = |column: &str| {
        plan_columns
            .get(column)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let customer_id = get("customer_id");
    let locations = texts(plan_columns, "location_ids");
    check
        .check(
            !locations.is_empty(),
            "location_ids",
            "must name at least one location",
        )
        .check(
            locations.len() <= 50,
            "location_ids",
            "may name at most 50 locations",
        );
    if is_uuid(&customer_id) || creating {
        for (i, location) in locations.iter().enumerate() {
            plan::customer_location(
                &mut check,
                &customer_id,
                &format!("location_ids[{i}]"),
                location,
            )?;
            if check_duplicate(&locations, i) {
                check.check(false, &format!("location_ids[{i}]"), "is named twice");
            }
        }
        if locations.is_empty() {
            plan::reference(
                &mut check,
                verofield_field_ops::CUSTOMERS,
                "customer_id",
                &customer_id,
                "customer",
            )?;
        }
    }
    plan::service_types(
        &mut check,
        "service_type_ids",
        &texts(plan_columns, "service_type_ids"),
    )?;
    let rule = plan::recurrence(&mut check, "recurrence", &get("recurrence"));
    let ends_on = plan_columns
        .get("ends_on")
        .and_then(Value::as_str)
        .map(str::to_owned);
    plan::window(
        &mut check,
        &get("start_time"),
        &get("end_time"),
        &get("time_zone"),
        Some(&get("starts_on")),
        ends_on.as_deref(),
    );
    let pricing = get("pricing");
    let billing = get("billing_frequency");
    let currency = get("currency");
    check
        .check(
            PRICING.contains(&pricing.as_str()),
            "pricing",
            "must be per_visit or per_period",
        )
        .check(
            BILLING.contains(&billing.as_str()),
            "billing_frequency",
            "must be per_visit, monthly, quarterly, semiannually or annually",
        )
        .check(
            !(pricing == "per_period" && billing == "per_visit"),
            "billing_frequency",
            "a price per period is billed monthly, quarterly, semiannually or annually",
        )
        .currency(Some(&currency));
    let int = |column: &str| plan_columns.get(column).and_then(Value::as_i64);
    check
        .check(
            int("price_minor").unwrap_or(0) >= 0,
            "price_minor",
            "may not be negative",
        )
        .duration("duration_minutes", int("duration_minutes"))
        .horizon_days(int("horizon_days"));
    check.finish()?;
    Ok(rule)
}

fn check_duplicate(items: &[String], i: usize) -> bool {
    items[..i].contains(&items[i])
}

/// Visits in the plan's first year (from `starts_on`, whatever COUNT or UNTIL say past it).
pub fn visits_in_first_year(rule: &Rule, starts_on: NaiveDate) -> usize {
    let last = starts_on
        .checked_add_months(Months::new(12))
        .and_then(|d| d.checked_sub_days(Days::new(1)))
        .unwrap_or(starts_on);
    rule.occurrences(starts_on, starts_on, last).len()
}

/// The annual recurring value in minor units: per visit, the price times the first year's
/// visits; per period, the price times the periods in a year; times the locations served.
/// A value past `i64` is the price's fault (422 naming `price_minor`).
pub fn annual_value(columns: &Columns) -> Result<i64, FieldError> {
    let price = columns
        .get("price_minor")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let locations = texts(columns, "location_ids").len().max(1) as i64;
    let per_year = match text(columns, "pricing") {
        "per_period" => match text(columns, "billing_frequency") {
            "monthly" => 12,
            "quarterly" => 4,
            "semiannually" => 2,
            _ => 1,
        },
        _ => {
            let (Ok(rule), Some(start)) = (
                Rule::parse(text(columns, "recurrence")),
                time::parse_date(text(columns, "starts_on")),
            ) else {
                return Ok(0);
            };
            i64::try_from(visits_in_first_year(&rule, start)).unwrap_or(i64::MAX)
        }
    };
    let per_location = money::product("price_minor", price, per_year)?;
    money::product("price_minor", per_location, locations)
}

/// `POST /`: a draft.
pub fn create(request: &Request) -> Result<Response, Problem> {
    let mut fields: AgreementFields = request.json_with_read_only(READ_ONLY)?;
    normalize(&mut fields);
    let defaults: Columns = json!({
        "start_time": "09:00", "end_time": "11:00", "time_zone": "UTC", "pricing": "per_visit",
        "price_minor": 0, "currency": "USD", "billing_frequency": "monthly", "horizon_days": 90,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let columns = merged(&defaults, &fields);
    let rule = validate(&columns, &fields, true)?;
    if let Some(rule) = rule {
        fields.recurrence = Patch::Value(rule);
    }
    fields.annual_value_minor = Patch::Value(annual_value(&merged(&defaults, &fields))?);
    let agreement: Record<Columns> = store::insert(AGREEMENTS, &fields)?;
    Ok(Response::created(
        &format!("/v1/agreements/{}", agreement.id),
        &agreement,
    ))
}

fn normalize(fields: &mut AgreementFields) {
    fields.name.normalize(|n| Some(n.trim().to_owned()));
    fields.currency.normalize(|c| Some(c.trim().to_owned()));
}

/// `GET /?customer_id=&status=&custom.<key>=&sort=` (`sort=[-]custom.<key>` before
/// creation order)
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    if let Some(customer) = request.query_uuid("customer_id")? {
        filters.push(Filter::eq("customer_id", customer));
    }
    let statuses = ["draft", "active", "paused", "canceled", "expired"];
    if let Some(status) = request.query_one_of("status", &statuses)? {
        filters.push(Filter::eq("status", status));
    }
    filters.extend(custom::filters(request)?);
    let mut select = Select::from(AGREEMENTS).filter(Filter::and(filters));
    if let Some(sort) = custom::only_sort(request)? {
        select = select.sort(sort);
    }
    let page = select
        .order_by("created_at", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(
        200,
        &AGREEMENT.existing(request.id_param("id")?)?,
    ))
}

/// `PATCH /{id}`: the plan changes while a draft; afterwards only `name`, `notes`,
/// `auto_renew`, `ends_on` and `custom`.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let mut fields: AgreementFields = request.json_with_read_only(READ_ONLY)?;
    normalize(&mut fields);
    let current = AGREEMENT.existing(id)?;
    let state = text(&current.values, "status");
    if state != "draft" {
        let plan_change = serde_json::to_value(&fields)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .keys()
            .any(|key| {
                !["name", "notes", "auto_renew", "ends_on", "custom"].contains(&key.as_str())
            });
        if plan_change {
            return Err(Problem::new(
                409,
                "agreement_not_draft",
                format!(
                    "the plan of a {state} agreement cannot change; cancel it and sign a new one"
                ),
            ));
        }
    }
    let columns = merged(&current.values, &fields);
    if let Some(rule) = validate(&columns, &fields, false)?
        && !fields.recurrence.is_absent()
    {
        fields.recurrence = Patch::Value(rule);
    }
    fields.annual_value_minor = Patch::Value(annual_value(&merged(&current.values, &fields))?);
    let agreement: Record<Columns> = etag::update(request, AGREEMENTS, id, "agreement", &fields)?;
    if !fields.ends_on.is_absent() {
        // The work orders stop where the agreement does.
        for work_order_id in texts(&agreement.values, "work_order_ids") {
            update_work_order(
                &work_order_id,
                &json!({"ends_on": agreement.values.get("ends_on")}),
            )?;
        }
    }
    Ok(Response::record(200, &agreement))
}

fn invalid_transition(from: &str, to: &str) -> Problem {
    Problem::new(
        409,
        "invalid_transition",
        format!("an agreement cannot go from `{from}` to `{to}`"),
    )
}

/// The agreement of the request, matching its `If-Match`, in one of the statuses it can go
/// `to` from.
fn leaving(request: &Request, from: &[&str], to: &str) -> Result<Record<Columns>, Problem> {
    let agreement = AGREEMENT.existing(request.id_param("id")?)?;
    etag::check_if_match(request, agreement.version)?;
    let status = text(&agreement.values, "status");
    if !from.contains(&status) {
        return Err(invalid_transition(status, to));
    }
    Ok(agreement)
}

/// Moves the agreement to `to`, stamping `<to>_at`.
fn set_status(
    agreement: &Record<Columns>,
    to: &str,
    extra: Value,
) -> Result<Record<Columns>, Problem> {
    let mut values = json!({"status": to});
    let stamp = match to {
        "active" => "activated_at",
        "paused" => "paused_at",
        "canceled" => "canceled_at",
        _ => "expired_at",
    };
    values[stamp] = json!(time::stamp(verofield_field_ops::now()));
    if let Some(extra) = extra.as_object() {
        for (key, value) in extra {
            values[key] = value.clone();
        }
    }
    Ok(store::update(
        AGREEMENTS,
        &agreement.id,
        agreement.version,
        &values,
    )?)
}

/// `POST /{id}/activate`: from draft (creates the work orders) or paused (reopens them);
/// generates the jobs of the horizon.
pub fn activate(request: &Request) -> Result<Response, Problem> {
    let deadline = Deadline::of(request);
    let agreement = AGREEMENT.existing(request.id_param("id")?)?;
    etag::check_if_match(request, agreement.version)?;
    let v = &agreement.values;
    let from = text(v, "status").to_owned();
    let zone = text(v, "time_zone").to_owned();
    let mut work_order_ids = texts(v, "work_order_ids");
    match from.as_str() {
        "draft" => {
            let ends_on = v
                .get("ends_on")
                .and_then(Value::as_str)
                .and_then(time::parse_date);
            if ends_on.is_some_and(|end| end < today(&zone)) {
                return Err(Problem::new(
                    409,
                    "invalid_transition",
                    "the agreement has already ended",
                ));
            }
            let mut check = Validator::default();
            let types = plan::service_types(
                &mut check,
                "service_type_ids",
                &texts(v, "service_type_ids"),
            )?;
            check.finish()?;
            let duration = v
                .get("duration_minutes")
                .and_then(Value::as_i64)
                .unwrap_or(types.default_minutes.clamp(1, 1440));
            let lines: Vec<Value> = types
                .rows
                .iter()
                .map(|row| {
                    json!({
                        "service_type_id": row.id,
                        "name": text(&row.values, "name"),
                        "quantity": 1,
                        "unit_price_minor": row.values.get("default_price_minor"),
                        "currency": text(&row.values, "currency"),
                        "total_minor": row.values.get("default_price_minor"),
                    })
                })
                .collect();
            for location in texts(v, "location_ids") {
                let work_order: Record<Columns> = store::insert(
                    WORK_ORDERS,
                    &json!({
                        "customer_id": v.get("customer_id"),
                        "location_id": location,
                        "agreement_id": agreement.id,
                        "title": text(v, "name"),
                        "line_items": lines,
                        "service_type_ids": v.get("service_type_ids"),
                        "required_skills": types.required_skills,
                        "recurrence": v.get("recurrence"),
                        "starts_on": v.get("starts_on"),
                        "ends_on": v.get("ends_on"),
                        "start_time": v.get("start_time"),
                        "end_time": v.get("end_time"),
                        "time_zone": zone,
                        "duration_minutes": duration,
                        "horizon_days": v.get("horizon_days"),
                    }),
                )?;
                work_order_ids.push(work_order.id);
            }
        }
        "paused" => {
            for id in &work_order_ids {
                update_work_order(id, &json!({"status": "open"}))?;
            }
        }
        other => return Err(invalid_transition(other, "active")),
    }
    let (created, complete) = generate_jobs(&work_order_ids, &zone, &deadline)?;
    let agreement = set_status(
        &agreement,
        "active",
        json!({"work_order_ids": work_order_ids}),
    )?;
    let v = &agreement.values;
    events::emit(
        AGREEMENT_ACTIVATED,
        &json!({
            "agreement_id": agreement.id,
            "version": agreement.version,
            "status": v.get("status"),
            "custom": v.get("custom"),
            "activated_at": v.get("activated_at"),
            "customer_id": v.get("customer_id"),
            "location_ids": v.get("location_ids"),
            "work_order_ids": v.get("work_order_ids"),
            "service_type_ids": v.get("service_type_ids"),
            "recurrence": v.get("recurrence"),
            "pricing": v.get("pricing"),
            "price_minor": v.get("price_minor"),
            "currency": v.get("currency"),
            "billing_frequency": v.get("billing_frequency"),
            "annual_value_minor": v.get("annual_value_minor"),
            "starts_on": v.get("starts_on"),
            "ends_on": v.get("ends_on"),
            "auto_renew": v.get("auto_renew"),
            "resumed": from == "paused",
        }),
    )?;
    Ok(generated(&agreement, created, complete))
}

/// Writes `values` to the agreement's work order `id` (at its current version).
fn update_work_order(id: &str, values: &Value) -> Result<(), Problem> {
    let work_order = WORK_ORDER.existing(id)?;
    store::update::<serde::de::IgnoredAny>(WORK_ORDERS, id, work_order.version, values)?;
    Ok(())
}

/// Generates the jobs in horizon of the work orders `ids` (in the agreement's `zone`): how
/// many were created and whether that was all of them. One call creates at most MAX_CREATED
/// jobs in all, and stops early when `deadline` is near; the rest come from
/// `POST /v1/work-orders/{id}/generate`.
fn generate_jobs(
    ids: &[String],
    zone: &str,
    deadline: &Deadline,
) -> Result<(usize, bool), Problem> {
    let (mut created, mut complete) = (0, true);
    for id in ids {
        let work_order: Record<WorkOrder> = WORK_ORDER.existing_as(id)?;
        let budget = generate::MAX_CREATED.saturating_sub(created);
        let generated = generate::generate_up_to(&work_order, today(zone), budget, deadline)?;
        created += generated.created.len();
        complete &= generated.complete;
    }
    Ok((created, complete))
}

/// The agreement with the jobs generated (`generation_complete` says whether any remain).
fn generated(agreement: &Record<Columns>, created: usize, complete: bool) -> Response {
    let mut body = serde_json::to_value(agreement).unwrap_or_default();
    body["jobs_created"] = json!(created);
    body["generation_complete"] = json!(complete);
    let mut response = Response::json(200, &body);
    response.set_header("etag", &etag::etag(agreement.version));
    response
}

/// Sets the work orders' status and stops their future jobs.
fn stop(
    agreement: &Record<Columns>,
    work_order_status: &str,
    note: &str,
) -> Result<(usize, usize), Problem> {
    let from = today(text(&agreement.values, "time_zone"));
    let (mut retracted, mut canceled) = (0, 0);
    for id in texts(&agreement.values, "work_order_ids") {
        update_work_order(&id, &json!({"status": work_order_status}))?;
        let (r, c) = generate::stop_future(&id, from, note)?;
        retracted += r;
        canceled += c;
    }
    Ok((retracted, canceled))
}

fn stopped(agreement: &Record<Columns>, retracted: usize, canceled: usize) -> Response {
    let mut body = serde_json::to_value(agreement).unwrap_or_default();
    body["jobs_retracted"] = json!(retracted);
    body["jobs_canceled"] = json!(canceled);
    let mut response = Response::json(200, &body);
    response.set_header("etag", &etag::etag(agreement.version));
    response
}

/// `POST /{id}/pause`
pub fn pause(request: &Request) -> Result<Response, Problem> {
    let agreement = leaving(request, &["active"], "paused")?;
    let (retracted, canceled) = stop(&agreement, "paused", "agreement paused")?;
    let agreement = set_status(&agreement, "paused", json!({}))?;
    Ok(stopped(&agreement, retracted, canceled))
}

/// `POST /{id}/cancel`
pub fn cancel(request: &Request) -> Result<Response, Problem> {
    let agreement = leaving(request, &["draft", "active", "paused"], "canceled")?;
    let from = text(&agreement.values, "status").to_owned();
    let (retracted, canceled) = stop(&agreement, "canceled", "agreement canceled")?;
    let agreement = set_status(&agreement, "canceled", json!({}))?;
    let v = &agreement.values;
    events::emit(
        AGREEMENT_CANCELED,
        &json!({
            "agreement_id": agreement.id,
            "version": agreement.version,
            "status": v.get("status"),
            "custom": v.get("custom"),
            "customer_id": v.get("customer_id"),
            "location_ids": v.get("location_ids"),
            "service_type_ids": v.get("service_type_ids"),
            "work_order_ids": v.get("work_order_ids"),
            "previous_status": from,
            "canceled_at": v.get("canceled_at"),
            "annual_value_minor": v.get("annual_value_minor"),
            "currency": v.get("currency"),
            "jobs_retracted": retracted,
            "jobs_canceled": canceled,
        }),
    )?;
    Ok(stopped(&agreement, retracted, canceled))
}

/// `POST /{id}/expire`: an active or paused agreement whose end date has passed and that does
/// not renew itself.
pub fn expire(request: &Request) -> Result<Response, Problem> {
    let agreement = leaving(request, &["active", "paused"], "expired")?;
    let v = &agreement.values;
    if lapse(v, today(text(v, "time_zone"))) != Some(Lapse::Expire) {
        return Err(Problem::new(
            409,
            "invalid_transition",
            "only an agreement past its end date that does not auto-renew expires",
        ));
    }
    let (agreement, retracted, canceled) = expire_now(&agreement)?;
    Ok(stopped(&agreement, retracted, canceled))
}

fn expire_now(agreement: &Record<Columns>) -> Result<(Record<Columns>, usize, usize), Problem> {
    let (retracted, canceled) = stop(agreement, "closed", "agreement expired")?;
    let agreement = set_status(agreement, "expired", json!({}))?;
    Ok((agreement, retracted, canceled))
}

/// `POST /{id}/renew`: an active or paused agreement with an end date runs twelve months
/// longer; its work orders follow and the active ones generate the new visits in horizon.
pub fn renew(request: &Request) -> Result<Response, Problem> {
    let deadline = Deadline::of(request);
    let agreement = leaving(request, &["active", "paused"], "renewed")?;
    let Some(ends_on) = ends_on(&agreement.values) else {
        return Err(Problem::new(
            409,
            "invalid_transition",
            "the agreement has no end date: it runs until canceled",
        ));
    };
    let renewed = ends_on
        .checked_add_months(Months::new(12))
        .ok_or_else(|| Problem::internal("end date out of range"))?;
    let (agreement, created, complete) = renew_to(&agreement, renewed, &deadline)?;
    Ok(generated(&agreement, created, complete))
}

/// Moves the agreement's and its work orders' end date to `renewed` and generates the new
/// visits in horizon.
fn renew_to(
    agreement: &Record<Columns>,
    renewed: NaiveDate,
    deadline: &Deadline,
) -> Result<(Record<Columns>, usize, bool), Problem> {
    let agreement: Record<Columns> = store::update(
        AGREEMENTS,
        &agreement.id,
        agreement.version,
        &json!({"ends_on": renewed.to_string()}),
    )?;
    let work_order_ids = texts(&agreement.values, "work_order_ids");
    for id in &work_order_ids {
        update_work_order(id, &json!({"ends_on": renewed.to_string()}))?;
    }
    let zone = text(&agreement.values, "time_zone");
    let (created, complete) = generate_jobs(&work_order_ids, zone, deadline)?;
    Ok((agreement, created, complete))
}

fn ends_on(values: &Columns) -> Option<NaiveDate> {
    values
        .get("ends_on")
        .and_then(Value::as_str)
        .and_then(time::parse_date)
}

/// What an agreement's end date asks for on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    Expire,
    /// Renew to this end date: twelve months at a time until it is today or later.
    Renew(NaiveDate),
}

/// An active or paused agreement whose end date is before `today` expires, or renews when
/// it auto-renews; any other agreement is left as it is. Once acted on, an agreement asks for
/// nothing more that day, which makes the nightly run idempotent.
pub fn lapse(values: &Columns, today: NaiveDate) -> Option<Lapse> {
    if !["active", "paused"].contains(&text(values, "status")) {
        return None;
    }
    let mut end = ends_on(values).filter(|end| *end < today)?;
    if values.get("auto_renew") != Some(&json!(true)) {
        return Some(Lapse::Expire);
    }
    while end < today {
        end = end.checked_add_months(Months::new(12))?;
    }
    Some(Lapse::Renew(end))
}

/// The nightly `lapse` task: expires and renews every agreement whose end date has passed,
/// in its own time zone. Returns how many it changed.
pub fn lapse_all(deadline: &Deadline) -> Result<usize, Problem> {
    let candidates = select_all(
        AGREEMENTS,
        Filter::and([
            Filter::one_of("status", ["active", "paused"]),
            Filter::is_null("ends_on", false),
        ]),
        &[("id", Direction::Asc)],
        100_000,
        "agreements",
    )?;
    let mut changed = 0;
    for agreement in candidates {
        let today = today(text(&agreement.values, "time_zone"));
        match lapse(&agreement.values, today) {
            Some(Lapse::Expire) => drop(expire_now(&agreement)?),
            Some(Lapse::Renew(to)) => drop(renew_to(&agreement, to, deadline)?),
            None => continue,
        }
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(status: &str, ends_on: &str, auto_renew: bool) -> Columns {
        serde_json::from_value(json!({
            "status": status, "ends_on": ends_on, "auto_renew": auto_renew,
        }))
        .unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn an_agreement_past_its_end_expires_or_renews_once() {
        let today = day("2026-12-06");
        assert_eq!(
            lapse(&agreement("active", "2026-12-05", false), today),
            Some(Lapse::Expire)
        );
        assert_eq!(
            lapse(&agreement("active", "2026-12-06", false), today),
            None,
            "its last day"
        );
        assert_eq!(
            lapse(&agreement("paused", "2026-12-05", true), today),
            Some(Lapse::Renew(day("2027-12-05")))
        );
        // Hosts down for over a year: one renewal reaching past today.
        assert_eq!(
            lapse(&agreement("active", "2025-06-01", true), today),
            Some(Lapse::Renew(day("2027-06-01")))
        );
        for status in ["draft", "canceled", "expired"] {
            assert_eq!(lapse(&agreement(status, "2026-01-01", true), today), None);
        }
        // The tick delivered again sees the agreement as the first left it: nothing to do.
        assert_eq!(lapse(&agreement("active", "2027-12-05", true), today), None);
        assert_eq!(
            lapse(&agreement("expired", "2026-12-05", false), today),
            None
        );
    }

    #[test]
    fn annual_recurring_value() {
        let columns = |value: Value| value.as_object().unwrap().clone();
        // Weekly on Mondays from 2030-01-07 to 2031-01-06: 53 visits in the first year, two
        // locations.
        let weekly = columns(json!({
            "pricing": "per_visit", "price_minor": 5000, "recurrence": "FREQ=WEEKLY;BYDAY=MO",
            "starts_on": "2030-01-07", "location_ids": ["a", "b"]
        }));
        assert_eq!(annual_value(&weekly), Ok(5000 * 53 * 2));
        let quarterly = columns(json!({
            "pricing": "per_period", "billing_frequency": "quarterly", "price_minor": 12000,
            "recurrence": "FREQ=MONTHLY", "starts_on": "2030-01-07", "location_ids": ["a"]
        }));
        assert_eq!(annual_value(&quarterly), Ok(48000));
        let priceless = columns(json!({
            "pricing": "per_period", "billing_frequency": "monthly",
            "price_minor": i64::MAX / 12 + 1, "location_ids": ["a"]
        }));
        assert_eq!(
            annual_value(&priceless),
            Err(FieldError::new("price_minor", money::TOO_LARGE))
        );
    }
}
