//! Drafts generated from the field work: a completed job, a work order's priced lines, an
//! agreement's billing period.
//!
//! - A completed job (`job.completed`, or `POST /invoices/from-job`) makes one draft: the
//!   catalog price of each service type done (or, for a work order's visit, the work
//!   order's line items) plus the materials reported, priced at 0 for the office to fill in.
//!   A visit under an agreement billed per visit is one line at the agreement's price; a
//!   visit under an agreement billed by period makes no draft (the period's draft covers it).
//!   The unique key on `source_job_id` makes a second delivery of the event find the first
//!   draft instead of writing another.
//! - The nightly `agreement-billing` task drafts each due period of every active or paused
//!   agreement billed monthly, quarterly, semiannually or annually: a price per period is
//!   billed in advance on the period's first day (quantity = locations served); a price per
//!   visit in arrears the day after the period ends (quantity = visits completed in it; no
//!   visits, no draft). Only periods starting in the last 13 months are considered, so a
//!   first run never drafts years of history. The unique key (agreement, period start)
//!   makes the task idempotent. The draft of a customer with autopay on is finalized at once
//!   (and so charged, `autopay.rs`); the others wait for the office to review them.
//!   A run takes [`AGREEMENTS_PER_DELIVERY`] agreements at a time: every module call has row
//!   and time limits, so after each batch the module emits [`RUN_CONTINUED`] with the store's
//!   cursor and, subscribed to it, drafts the next batch in a delivery (and a transaction) of
//!   its own. A batch that fails is retried by the dispatcher without undoing the others.

use chrono::{Days, Months, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::{
    AGREEMENT, AGREEMENTS, Columns, JOB, JOBS, SERVICE_TYPES, WORK_ORDER, select_all, texts, time,
};
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Problem, Request, Response, money};

use crate::autopay;
use crate::invoices::{self, Draft};
use crate::lines::{NewLine, quantity_milli};
use crate::rows::{INVOICES, int, opt_text, text};

/// The draft of job `job_id` (created now or by an earlier delivery), or None when an
/// agreement billed by period covers the visit.
pub fn from_job(job_id: &str) -> Result<Option<(Record<Columns>, bool)>, Problem> {
    if let Some(existing) = draft_of_job(job_id)? {
        return Ok(Some((existing, false)));
    }
    let job = JOB.existing(job_id)?;
    let j = &job.values;
    if text(j, "status") != "completed" {
        return Err(Problem::new(
            409,
            "job_not_completed",
            "only a completed job is invoiced",
        ));
    }
    let work_order = match opt_text(j, "work_order_id") {
        Some(id) => Some(WORK_ORDER.existing(id)?),
        None => None,
    };
    let agreement = match work_order
        .as_ref()
        .and_then(|w| opt_text(&w.values, "agreement_id"))
    {
        Some(id) => Some(AGREEMENT.existing(id)?),
        None => None,
    };
    let mut currency = None;
    let mut lines = Vec::new();
    let mut take_currency = |field: &str, code: Option<&str>| -> Result<(), Problem> {
        let Some(code) = code else { return Ok(()) };
        match &currency {
            None => currency = Some(code.to_owned()),
            Some(held) => money::same_currency(field, held, code)?,
        }
        Ok(())
    };
    if let Some(agreement) = &agreement {
        let a = &agreement.values;
        if text(a, "billing_frequency") != "per_visit" {
            return Ok(None);
        }
        take_currency("agreement.currency", opt_text(a, "currency"))?;
        lines.push(NewLine {
            description: format!(
                "{}: visit on {}",
                text(a, "name"),
                opt_text(j, "scheduled_date").unwrap_or("unscheduled date")
            ),
            quantity_milli: 1000,
            unit_price_minor: int(a, "price_minor"),
            kind: "agreement",
            ..NewLine::default()
        });
    } else if let Some(items) = work_order
        .as_ref()
        .and_then(|w| w.values.get("line_items"))
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
    {
        for item in items {
            take_currency(
                "work_order.line_items.currency",
                item.get("currency").and_then(Value::as_str),
            )?;
            lines.push(work_order_line(item));
        }
    } else {
        for service_id in texts(j, "service_type_ids") {
            let Some(service) = store::get::<Columns>(SERVICE_TYPES, &service_id)? else {
                continue;
            };
            let s = &service.values;
            take_currency("service_type.currency", opt_text(s, "currency"))?;
            lines.push(NewLine {
                description: text(s, "name").to_owned(),
                quantity_milli: 1000,
                unit_price_minor: int(s, "default_price_minor"),
                kind: "service",
                service_type_id: Some(service.id.clone()),
                ..NewLine::default()
            });
        }
    }
    lines.extend(materials(j));
    let draft = Draft {
        customer_id: text(j, "customer_id").to_owned(),
        currency,
        source: json!({
            "source": "job",
            "source_job_id": job.id,
            "source_work_order_id": work_order.as_ref().map(|w| &w.id),
            "agreement_id": agreement.as_ref().map(|a| &a.id),
        }),
        lines,
        ..Draft::default()
    };
    match invoices::create_draft(&draft) {
        Ok(invoice) => Ok(Some((invoice, true))),
        // A concurrent delivery wrote it first (the unique key on the source job).
        Err(problem) if problem.code == "duplicate" => {
            Ok(draft_of_job(job_id)?.map(|d| (d, false)))
        }
        Err(problem) => Err(problem),
    }
}

fn draft_of_job(job_id: &str) -> Result<Option<Record<Columns>>, Problem> {
    Ok(Select::from(INVOICES)
        .filter(Filter::eq("source_job_id", job_id))
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next())
}

/// A work order's priced line (`description` or the service's `name`, `quantity`,
/// `unit_price_minor`, `service_type_id`).
fn work_order_line(item: &Value) -> NewLine {
    let quantity = item.get("quantity").and_then(Value::as_f64).unwrap_or(1.0);
    let named = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    NewLine {
        description: named("description")
            .or_else(|| named("name"))
            .unwrap_or("Work order item")
            .to_owned(),
        quantity_milli: quantity_milli(quantity).unwrap_or(1000),
        unit_price_minor: item
            .get("unit_price_minor")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0),
        kind: "work_order_item",
        service_type_id: item
            .get("service_type_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..NewLine::default()
    }
}

/// The materials a technician reported, at a price of 0 for the office to set.
fn materials(job: &Columns) -> Vec<NewLine> {
    let reported = job
        .get("completion")
        .and_then(|c| c.get("materials"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    reported
        .iter()
        .map(|material| {
            let name = material
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("material");
            let description = match material.get("unit").and_then(Value::as_str) {
                Some(unit) => format!("Material: {name} ({unit})"),
                None => format!("Material: {name}"),
            };
            let quantity = material
                .get("quantity")
                .and_then(Value::as_f64)
                .unwrap_or(1.0);
            NewLine {
                description,
                quantity_milli: quantity_milli((quantity * 1000.0).round() / 1000.0).unwrap_or(0),
                kind: "material",
                ..NewLine::default()
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromJob {
    job_id: String,
}

/// `POST /invoices/from-job`: the job's draft (201 when written now, 200 when it existed).
pub fn create_from_job(request: &Request) -> Result<Response, Problem> {
    let body: FromJob = request.json()?;
    if !verofield_sdk::http::is_uuid(&body.job_id) {
        return Err(verofield_sdk::FieldError::new("job_id", "must be a UUID").into());
    }
    match from_job(&body.job_id)? {
        Some((invoice, created)) => {
            invoices::answer(if created { 201 } else { 200 }, &invoice, created)
        }
        None => Err(Problem::new(
            409,
            "billed_by_agreement",
            "the job's agreement is billed by period, not per visit",
        )),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromWorkOrder {
    work_order_id: String,
}

/// `POST /invoices/from-work-order`: a draft of a work order's priced lines.
pub fn create_from_work_order(request: &Request) -> Result<Response, Problem> {
    let body: FromWorkOrder = request.json()?;
    if !verofield_sdk::http::is_uuid(&body.work_order_id) {
        return Err(verofield_sdk::FieldError::new("work_order_id", "must be a UUID").into());
    }
    let work_order = WORK_ORDER.existing(&body.work_order_id)?;
    let w = &work_order.values;
    let items = w
        .get("line_items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return Err(Problem::new(
            409,
            "work_order_unpriced",
            "the work order has no line items to invoice",
        ));
    }
    let currency = items
        .iter()
        .find_map(|item| item.get("currency").and_then(Value::as_str))
        .map(str::to_owned);
    let invoice = invoices::create_draft(&Draft {
        customer_id: text(w, "customer_id").to_owned(),
        currency,
        source: json!({"source": "work_order", "source_work_order_id": work_order.id}),
        lines: items.iter().map(work_order_line).collect(),
        ..Draft::default()
    })?;
    invoices::answer(201, &invoice, true)
}

/// A billing period of an agreement: first and last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Months per period of a billing frequency (None: billed per visit).
pub fn months(frequency: &str) -> Option<u32> {
    Some(match frequency {
        "monthly" => 1,
        "quarterly" => 3,
        "semiannually" => 6,
        "annually" => 12,
        _ => return None,
    })
}

/// The periods of an agreement that are due for billing on `today`: in advance (`per_period`,
/// due from their first day) or in arrears (`per_visit`, due after their last day), starting
/// within the last 13 months and not after the agreement ends.
pub fn due_periods(
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    months_per_period: u32,
    in_advance: bool,
    today: NaiveDate,
) -> Vec<Period> {
    let earliest = today.checked_sub_months(Months::new(13)).unwrap_or(today);
    let mut periods = Vec::new();
    for k in 0..1200u32 {
        let Some(start) = starts_on.checked_add_months(Months::new(k * months_per_period)) else {
            break;
        };
        if start > today || ends_on.is_some_and(|end| start > end) {
            break;
        }
        let Some(end) = start
            .checked_add_months(Months::new(months_per_period))
            .and_then(|next| next.checked_sub_days(Days::new(1)))
        else {
            break;
        };
        let due = if in_advance {
            start <= today
        } else {
            end < today
        };
        if start >= earliest && due {
            periods.push(Period { start, end });
        }
    }
    periods
}

/// Agreements one delivery drafts (at most 13 periods each): far inside a call's row limit
/// and, at about 2 ms an agreement, its deadline.
pub const AGREEMENTS_PER_DELIVERY: u32 = 100;
/// Emitted after a batch when agreements remain; billing drafts the next batch on it.
pub const RUN_CONTINUED: &str = "agreement_run.continued";

/// One batch of the nightly run `run` (the id of the tick that started it), from `cursor`
/// (None: the first batch): drafts every due period not drafted yet of the next
/// [`AGREEMENTS_PER_DELIVERY`] agreements, and emits [`RUN_CONTINUED`] when more remain.
/// Returns how many drafts it wrote.
pub fn bill_agreements(run: &str, cursor: Option<String>) -> Result<usize, Problem> {
    let page = Select::from(AGREEMENTS)
        .filter(Filter::and([
            Filter::one_of("status", ["active", "paused"]),
            Filter::ne("billing_frequency", "per_visit"),
        ]))
        .order_by("id", Direction::Asc)
        .limit(AGREEMENTS_PER_DELIVERY)
        .cursor(cursor)
        .fetch::<Columns>()?;
    let written = bill_batch(page.items)?;
    if let Some(cursor) = page.next_cursor {
        let payload = json!({"agreement_run_id": run, "cursor": cursor, "drafted": written});
        verofield_sdk::events::emit(RUN_CONTINUED, &payload)?;
    }
    Ok(written)
}

/// The run and the cursor a [`RUN_CONTINUED`] event carries.
pub fn continued_from(payload: &str) -> Option<(String, String)> {
    let payload: Value = serde_json::from_str(payload).ok()?;
    let run = payload["agreement_run_id"].as_str()?.to_owned();
    Some((run, payload["cursor"].as_str()?.to_owned()))
}

fn bill_batch(agreements: Vec<Record<Columns>>) -> Result<usize, Problem> {
    let mut written = 0;
    for agreement in agreements {
        let a = &agreement.values;
        let (Some(per), Some(starts_on)) = (
            months(text(a, "billing_frequency")),
            time::parse_date(text(a, "starts_on")),
        ) else {
            continue;
        };
        let ends_on = opt_text(a, "ends_on").and_then(time::parse_date);
        let in_advance = text(a, "pricing") == "per_period";
        let today = verofield_field_ops::plan::today(text(a, "time_zone"));
        for period in due_periods(starts_on, ends_on, per, in_advance, today) {
            if bill_period(&agreement, period, in_advance)? {
                written += 1;
            }
        }
    }
    Ok(written)
}

/// Drafts one period of an agreement unless it was drafted before; whether it wrote one.
fn bill_period(
    agreement: &Record<Columns>,
    period: Period,
    in_advance: bool,
) -> Result<bool, Problem> {
    let a = &agreement.values;
    let drafted = Select::from(INVOICES)
        .filter(Filter::and([
            Filter::eq("agreement_id", agreement.id.as_str()),
            Filter::eq("period_start", period.start.to_string()),
        ]))
        .limit(1)
        .fetch::<Columns>()?;
    if !drafted.items.is_empty() {
        return Ok(false);
    }
    let (quantity, what) = if in_advance {
        let locations = texts(a, "location_ids").len().max(1) as i64;
        (locations, format!("{} to {}", period.start, period.end))
    } else {
        let visits = select_all(
            JOBS,
            Filter::and([
                Filter::one_of("work_order_id", texts(a, "work_order_ids")),
                Filter::eq("status", "completed"),
                Filter::ge("scheduled_date", period.start.to_string()),
                Filter::le("scheduled_date", period.end.to_string()),
            ]),
            &[("id", Direction::Asc)],
            10_000,
            "visits",
        )?
        .len() as i64;
        if visits == 0 {
            return Ok(false);
        }
        (
            visits,
            format!("{visits} visits, {} to {}", period.start, period.end),
        )
    };
    let draft = Draft {
        customer_id: text(a, "customer_id").to_owned(),
        currency: opt_text(a, "currency").map(str::to_owned),
        source: json!({
            "source": "agreement_period",
            "agreement_id": agreement.id,
            "period_start": period.start.to_string(),
            "period_end": period.end.to_string(),
        }),
        lines: vec![NewLine {
            description: format!("{}: {what}", text(a, "name")),
            quantity_milli: quantity.saturating_mul(1000),
            unit_price_minor: int(a, "price_minor"),
            kind: "agreement",
            ..NewLine::default()
        }],
        ..Draft::default()
    };
    match invoices::create_draft(&draft) {
        // An autopay customer's period is finalized at once, so that it is charged tonight.
        Ok(draft) if autopay::enrolled(text(&draft.values, "customer_id"))? => {
            invoices::finalize_draft(draft)?;
            Ok(true)
        }
        Ok(_) => Ok(true),
        Err(problem) if problem.code == "duplicate" => Ok(false),
        Err(problem) => Err(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn periods_in_advance_are_due_from_their_first_day() {
        let due = due_periods(day("2026-10-15"), None, 1, true, day("2026-12-15"));
        let starts: Vec<String> = due.iter().map(|p| p.start.to_string()).collect();
        assert_eq!(starts, ["2026-10-15", "2026-11-15", "2026-12-15"]);
        assert_eq!(due[0].end, day("2026-11-14"));
    }

    #[test]
    fn periods_in_arrears_are_due_after_their_last_day() {
        let due = due_periods(day("2026-10-01"), None, 3, false, day("2027-01-01"));
        assert_eq!(
            due,
            vec![Period {
                start: day("2026-10-01"),
                end: day("2026-12-31")
            }]
        );
        assert!(due_periods(day("2026-10-01"), None, 3, false, day("2026-12-31")).is_empty());
    }

    #[test]
    fn old_and_ended_periods_are_left_alone() {
        let due = due_periods(day("2020-01-01"), None, 12, true, day("2026-12-06"));
        assert_eq!(due.len(), 1, "only the period starting within 13 months");
        let ended = due_periods(
            day("2026-01-01"),
            Some(day("2026-02-10")),
            1,
            true,
            day("2026-12-06"),
        );
        assert_eq!(ended.len(), 2);
    }
}
