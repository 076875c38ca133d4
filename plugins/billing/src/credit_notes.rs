//! Credit notes: the correction of a finalized invoice, whose lines are frozen. A credit
//! note reduces what the customer owes by its amount: first the invoice's amount due (an
//! invoice credited down to nothing is paid), and what exceeds it (the invoice was already
//! paid) becomes the customer's credit. The credited total never exceeds the invoice total.

use serde::Deserialize;
use serde_json::json;
use verofield_field_ops::{Columns, select_all};
use verofield_sdk::store::{self, Direction, Filter, Record};
use verofield_sdk::{Problem, Request, Response, Validator, money};

use crate::rows::{self, CREDIT_NOTES, INVOICE, int, text};
use crate::{balance, payments};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditBody {
    amount_minor: i64,
    reason: String,
}

/// `POST /invoices/{id}/credit-notes`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: CreditBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(body.amount_minor > 0, "amount_minor", "must be above zero")
        .length("reason", Some(&body.reason.trim().to_owned()), 1..=2_000);
    check.finish()?;
    INVOICE.existing(id)?;
    let mut settles = false;
    let invoice = rows::update_fresh(INVOICE, id, |invoice| {
        let v = &invoice.values;
        let status = text(v, "status");
        if !["open", "paid", "uncollectible"].contains(&status) {
            return Err(Problem::new(
                409,
                "invoice_not_finalized",
                format!("a {status} invoice takes no credit note"),
            ));
        }
        let credited = money::add(
            "amount_minor",
            int(v, "amount_credited_minor"),
            body.amount_minor,
        )?;
        if credited > int(v, "total_minor") {
            return Err(Problem::new(
                409,
                "credit_exceeds_invoice",
                "credit notes may not exceed the invoice total",
            )
            .with(
                "creditable_minor",
                int(v, "total_minor") - int(v, "amount_credited_minor"),
            ));
        }
        let due = int(v, "amount_due_minor");
        let reduced = body.amount_minor.min(due);
        settles = status != "paid" && due - reduced == 0;
        Ok(json!({"amount_credited_minor": credited, "amount_due_minor": due - reduced}))
    })?;
    let v = &invoice.values;
    balance::adjust(
        text(v, "customer_id"),
        text(v, "currency"),
        -body.amount_minor,
    )?;
    let note: Record<Columns> = store::insert(
        CREDIT_NOTES,
        &json!({
            "invoice_id": invoice.id,
            "customer_id": v.get("customer_id"),
            "amount_minor": body.amount_minor,
            "currency": v.get("currency"),
            "reason": body.reason.trim(),
            "created_by": rows::caller(),
        }),
    )?;
    if settles {
        payments::settle(&invoice.id)?;
    }
    Ok(Response::created(
        &format!("/v1/billing/invoices/{}/credit-notes", invoice.id),
        &note,
    ))
}

/// `GET /invoices/{id}/credit-notes`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let invoice = INVOICE.existing(request.id_param("id")?)?;
    let notes = select_all(
        CREDIT_NOTES,
        Filter::eq("invoice_id", invoice.id.as_str()),
        &[("created_at", Direction::Asc)],
        1_000,
        "credit notes",
    )?;
    Ok(Response::json(
        200,
        &json!({"items": notes, "next_cursor": null}),
    ))
}
