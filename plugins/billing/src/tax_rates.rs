//! Tax rates per tenant: a name, a percentage with up to four decimals (stored as percent x
//! 10^4, see `tax.rs`), inclusive or exclusive, and the jurisdiction it applies in (a state,
//! a county, a country: free text the office picks by). A line names a rate by id and the
//! invoice copies its name, percentage and kind onto the line, so editing or deactivating a
//! rate never changes an invoice already written. Rates are deactivated, not deleted, once
//! used; `DELETE` answers 409 for a rate a line names.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::Columns;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Patch, Problem, Request, Response, Validator, etag};

use crate::rows::{self, LINES, TAX_RATE, TAX_RATES};
use crate::tax;

/// A percentage as the client sends it: `8.875` or `"8.875"`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Percentage {
    Number(serde_json::Number),
    Text(String),
}

impl Percentage {
    fn percent_e4(&self) -> Option<i64> {
        match self {
            Self::Number(number) => tax::parse_percentage(&number.to_string()),
            Self::Text(text) => tax::parse_percentage(text),
        }
    }
}

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateFields {
    name: Patch<String>,
    percentage: Patch<Percentage>,
    inclusive: Patch<bool>,
    jurisdiction: Patch<String>,
    active: Patch<bool>,
}

/// The columns to store, or 422 naming every bad field.
fn columns(fields: &RateFields, creating: bool) -> Result<Value, Problem> {
    let mut check = Validator::default();
    check
        .required(&fields.name, "name", creating)
        .required(&fields.percentage, "percentage", creating)
        .required(&fields.inclusive, "inclusive", false)
        .required(&fields.jurisdiction, "jurisdiction", false)
        .required(&fields.active, "active", false)
        .length("name", fields.name.value(), 1..=100)
        .length("jurisdiction", fields.jurisdiction.value(), 0..=200);
    let percent_e4 = fields.percentage.value().map(Percentage::percent_e4);
    check.check(
        !matches!(percent_e4, Some(None)),
        "percentage",
        "must be a percentage from 0 to 100 with at most 4 decimals",
    );
    check.finish()?;
    let mut values = json!({});
    let mut set = |key: &str, value: Value| values[key] = value;
    if let Some(name) = fields.name.value() {
        set("name", json!(name.trim()));
    }
    if let Some(Some(percent_e4)) = percent_e4 {
        set("percent_e4", json!(percent_e4));
    }
    if let Some(inclusive) = fields.inclusive.value() {
        set("inclusive", json!(inclusive));
    }
    if let Some(jurisdiction) = fields.jurisdiction.value() {
        set("jurisdiction", json!(jurisdiction.trim()));
    }
    if let Some(active) = fields.active.value() {
        set("active", json!(active));
    }
    Ok(values)
}

/// A rate as answered: the stored row plus `percentage` as decimal text.
pub fn answer(rate: &Record<Columns>) -> Value {
    let mut body = serde_json::to_value(rate).unwrap_or_default();
    body["percentage"] = json!(tax::format_percentage(rows::int(
        &rate.values,
        "percent_e4"
    )));
    body
}

fn answer_record(status: u16, rate: &Record<Columns>) -> Response {
    let mut response = Response::json(status, &answer(rate));
    response.set_header("etag", &etag::etag(rate.version));
    response
}

/// `POST /tax-rates`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let fields: RateFields = request.json_with_read_only(&["percent_e4"])?;
    let rate: Record<Columns> = store::insert(TAX_RATES, &columns(&fields, true)?)?;
    let mut response = answer_record(201, &rate);
    response.set_header("location", &format!("/v1/billing/tax-rates/{}", rate.id));
    Ok(response)
}

/// `GET /tax-rates?active=true|false`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut select = Select::from(TAX_RATES)
        .order_by("name", Direction::Asc)
        .page(request.paging()?);
    if let Some(active) = request.query_one_of("active", &["true", "false"])? {
        select = select.filter(Filter::eq("active", active == "true"));
    }
    let page = select.fetch::<Columns>()?;
    let items: Vec<Value> = page.items.iter().map(answer).collect();
    Ok(Response::json(
        200,
        &json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /tax-rates/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(answer_record(
        200,
        &TAX_RATE.existing(request.id_param("id")?)?,
    ))
}

/// `PATCH /tax-rates/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields: RateFields = request.json_with_read_only(&["percent_e4"])?;
    let values = columns(&fields, false)?;
    let rate: Record<Columns> = etag::update(request, TAX_RATES, id, "tax rate", &values)?;
    Ok(answer_record(200, &rate))
}

/// `DELETE /tax-rates/{id}`: only a rate no invoice line names.
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let used = Select::from(LINES)
        .filter(Filter::eq("tax_rate_id", id))
        .limit(1)
        .fetch::<Columns>()?;
    if !used.items.is_empty() {
        return Err(Problem::new(
            409,
            "tax_rate_in_use",
            "invoice lines use this rate; deactivate it instead (`active: false`)",
        ));
    }
    etag::delete::<Columns>(request, TAX_RATES, id, "tax rate")?;
    Ok(Response::no_content())
}
