//! Dunning: retrying a declined autopay charge, then flagging the customer.
//!
//! A declined charge leaves the invoice open, notes Stripe's reason on it
//! (`last_payment_error`) and in its `billing_dunning` row (one per invoice: attempt, reason,
//! next retry day), and emits `invoice.payment_failed`. Retries fall on days +3, +5 and +7
//! after the first failure (never twice on one day when the task ran late); the fourth
//! failure exhausts the row, flags the customer's profile `delinquent` and emits
//! `customer.delinquent`. The daily `dunning` task (and `POST /dunning/run`, the same
//! function for staff and tests) charges every retrying row whose day has come. A payment
//! that settles the invoice (card, cash, a credit note) clears its row, and the customer's
//! flag once no other exhausted row remains. A charge that could not be tried (Stripe down,
//! no account) counts no attempt: the row is due again tomorrow under the same key. A
//! customer who turned autopay off is skipped (the row waits, due, until it is on again).

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};
use verofield_field_ops::{Columns, select_all, time};
use verofield_sdk::store::{self, Direction, Filter, Record, Select, StoreError};
use verofield_sdk::{Problem, Request, Response, events};

use crate::autopay::{self, Charge};
use crate::invoices::PAYABLE;
use crate::rows::{self, DUNNING, DUNNING_ROW, INVOICE, PAYMENT_PROFILE, int, opt_text, text};

pub const INVOICE_PAYMENT_FAILED: &str = "invoice.payment_failed";
pub const CUSTOMER_DELINQUENT: &str = "customer.delinquent";
/// The daily retry of what is due.
pub const TASK: &str = "dunning";
/// Days after the first failure on which attempts 2, 3 and 4 are made.
const RETRY_DAYS: [u64; 3] = [3, 5, 7];
/// The attempt whose failure gives up (the first charge and three retries).
pub const LAST_ATTEMPT: i64 = RETRY_DAYS.len() as i64 + 1;

/// The invoice's dunning row, if any.
fn row_of(invoice_id: &str) -> Result<Option<Record<Columns>>, Problem> {
    Ok(Select::from(DUNNING)
        .filter(Filter::eq("invoice_id", invoice_id))
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next())
}

/// The invoice's row, made when there is none yet.
fn row_made(invoice: &Record<Columns>) -> Result<Record<Columns>, Problem> {
    if let Some(row) = row_of(&invoice.id)? {
        return Ok(row);
    }
    let values = json!({
        "invoice_id": invoice.id,
        "customer_id": text(&invoice.values, "customer_id"),
    });
    match store::insert::<Columns>(DUNNING, &values) {
        Ok(row) => Ok(row),
        Err(StoreError::Duplicate(_)) => {
            row_of(&invoice.id)?.ok_or_else(|| Problem::internal("the dunning row vanished"))
        }
        Err(other) => Err(other.into()),
    }
}

/// The day of the retry after failed attempt `attempt`, None after the last.
pub fn next_attempt_on(
    first_failed: NaiveDate,
    attempt: i64,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let offset = RETRY_DAYS.get(usize::try_from(attempt - 1).ok()?)?;
    let planned = first_failed.checked_add_days(Days::new(*offset))?;
    Some(planned.max(today.checked_add_days(Days::new(1))?))
}

/// Records that autopay attempt `attempt` of the invoice was declined (see the file header);
/// the invoice as it is afterwards.
pub fn failed(
    invoice_id: &str,
    attempt: i64,
    reason: &str,
    decline_code: Option<String>,
) -> Result<Record<Columns>, Problem> {
    let reason: String = reason.chars().take(500).collect();
    let invoice = rows::update_fresh(INVOICE, invoice_id, |_| {
        Ok(json!({"last_payment_error": reason}))
    })?;
    let row = row_made(&invoice)?;
    let today = rows::today();
    let first = opt_text(&row.values, "first_failed_on")
        .and_then(time::parse_date)
        .unwrap_or(today);
    let next = match attempt < LAST_ATTEMPT {
        true => next_attempt_on(first, attempt, today),
        false => None,
    };
    let row = rows::update_fresh(DUNNING_ROW, &row.id, |_| {
        Ok(json!({
            "state": if next.is_some() { "retrying" } else { "exhausted" },
            "attempt": attempt,
            "first_failed_on": first.to_string(),
            "next_attempt_on": next.map(|d| d.to_string()),
            "last_error": reason,
            "last_decline_code": decline_code,
            "cleared_at": Value::Null,
        }))
    })?;
    let v = &invoice.values;
    events::emit(
        INVOICE_PAYMENT_FAILED,
        &json!({
            "invoice_id": invoice.id,
            "number": v.get("number"),
            "customer_id": v.get("customer_id"),
            "currency": v.get("currency"),
            "amount_due_minor": v.get("amount_due_minor"),
            "attempt": attempt,
            "final": next.is_none(),
            "next_attempt_on": next.map(|d| d.to_string()),
            "reason": reason,
            "decline_code": row.values.get("last_decline_code"),
        }),
    )?;
    if next.is_none() {
        flag_delinquent(text(v, "customer_id"), &invoice.id, attempt)?;
    }
    Ok(invoice)
}

/// An autopay charge that could not be tried: due again tomorrow, no attempt counted.
pub fn postponed(invoice_id: &str, reason: &str) -> Result<(), Problem> {
    let row = row_made(&INVOICE.existing(invoice_id)?)?;
    let tomorrow = rows::today().checked_add_days(Days::new(1));
    let reason: String = reason.chars().take(500).collect();
    rows::update_fresh(DUNNING_ROW, &row.id, |_| {
        Ok(json!({
            "state": "retrying",
            "next_attempt_on": tomorrow.map(|d| d.to_string()),
            "last_error": reason,
        }))
    })?;
    Ok(())
}

fn flag_delinquent(customer_id: &str, invoice_id: &str, attempts: i64) -> Result<(), Problem> {
    let Some(profile) = autopay::profile_of(customer_id)? else {
        return Ok(());
    };
    let newly = profile.values.get("delinquent").and_then(Value::as_bool) != Some(true);
    let flagged = match newly {
        true => rows::update_fresh(PAYMENT_PROFILE, &profile.id, |_| {
            Ok(json!({"delinquent": true, "delinquent_since": rows::now_stamp()}))
        })?,
        false => profile,
    };
    events::emit(
        CUSTOMER_DELINQUENT,
        &json!({
            "customer_id": customer_id,
            "invoice_id": invoice_id,
            "attempts": attempts,
            "newly_delinquent": newly,
            "delinquent_since": flagged.values.get("delinquent_since"),
        }),
    )
}

/// The invoice was settled: its dunning ends, and the customer's flag with the last
/// exhausted row. Called wherever `invoice.paid` is emitted.
pub fn invoice_paid(invoice: &Record<Columns>) -> Result<(), Problem> {
    let Some(row) = row_of(&invoice.id)? else {
        return Ok(());
    };
    if text(&row.values, "state") == "cleared" {
        return Ok(());
    }
    rows::update_fresh(DUNNING_ROW, &row.id, |_| {
        Ok(json!({"state": "cleared", "next_attempt_on": Value::Null,
                  "cleared_at": rows::now_stamp()}))
    })?;
    let customer = text(&invoice.values, "customer_id");
    let still_exhausted = Select::from(DUNNING)
        .filter(Filter::and([
            Filter::eq("customer_id", customer),
            Filter::eq("state", "exhausted"),
        ]))
        .limit(1)
        .fetch::<Columns>()?;
    if !still_exhausted.items.is_empty() {
        return Ok(());
    }
    if let Some(profile) = autopay::profile_of(customer)?
        && profile.values.get("delinquent").and_then(Value::as_bool) == Some(true)
    {
        rows::update_fresh(PAYMENT_PROFILE, &profile.id, |_| {
            Ok(json!({"delinquent": false, "delinquent_since": Value::Null}))
        })?;
    }
    Ok(())
}

/// What a run did.
#[derive(Debug, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Run {
    pub due: usize,
    pub paid: usize,
    pub failed: usize,
    pub postponed: usize,
    pub closed: usize,
    /// Customers who turned autopay off since: left as they are until it is on again.
    pub skipped: usize,
}

/// Charges every retrying row whose day has come.
pub fn run() -> Result<Run, Problem> {
    let due = select_all(
        DUNNING,
        Filter::and([
            Filter::eq("state", "retrying"),
            Filter::le("next_attempt_on", rows::today().to_string()),
        ]),
        &[("next_attempt_on", Direction::Asc), ("id", Direction::Asc)],
        100_000,
        "dunning rows",
    )?;
    let mut done = Run {
        due: due.len(),
        ..Run::default()
    };
    for row in due {
        let invoice = INVOICE.existing(text(&row.values, "invoice_id"))?;
        let v = &invoice.values;
        if !PAYABLE.contains(&text(v, "status")) || int(v, "amount_due_minor") <= 0 {
            // Settled or voided meanwhile without `invoice.paid` reaching here (a void).
            rows::update_fresh(DUNNING_ROW, &row.id, |_| {
                Ok(json!({"state": "cleared", "next_attempt_on": Value::Null,
                          "cleared_at": rows::now_stamp()}))
            })?;
            done.closed += 1;
            continue;
        }
        if !autopay::enrolled(text(v, "customer_id"))? {
            done.skipped += 1;
            continue;
        }
        let attempt = int(&row.values, "attempt") + 1;
        match autopay::charge(&invoice, attempt)? {
            Charge::Paid(_) => done.paid += 1,
            Charge::Declined(reason, code) => {
                failed(&invoice.id, attempt, &reason, code)?;
                done.failed += 1;
            }
            Charge::NotCharged(reason) => {
                postponed(&invoice.id, &reason)?;
                done.postponed += 1;
            }
        }
    }
    Ok(done)
}

/// `POST /dunning/run`: the daily task's run, now.
pub fn run_now(_request: &Request) -> Result<Response, Problem> {
    Ok(Response::json(200, &run()?))
}

/// `GET /invoices/{id}/dunning`: the invoice's dunning row (404 when it never failed).
pub fn show(request: &Request) -> Result<Response, Problem> {
    let invoice = INVOICE.existing(request.id_param("id")?)?;
    match row_of(&invoice.id)? {
        Some(row) => Ok(Response::json(200, &row)),
        None => Err(Problem::not_found("dunning")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn retries_fall_three_five_and_seven_days_after_the_first_failure() {
        let first = day("2026-12-01");
        let next = |attempt| next_attempt_on(first, attempt, first);
        assert_eq!(next(1), Some(day("2026-12-04")));
        assert_eq!(next(2), Some(day("2026-12-06")));
        assert_eq!(next(3), Some(day("2026-12-08")));
        assert_eq!(next(LAST_ATTEMPT), None);
    }

    #[test]
    fn a_late_retry_is_never_due_the_same_day() {
        let late = next_attempt_on(day("2026-12-01"), 2, day("2026-12-10"));
        assert_eq!(late, Some(day("2026-12-11")));
    }
}
