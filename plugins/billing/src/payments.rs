//! Payments against an invoice: recorded by staff (cash, check, bank transfer) or applied
//! from Stripe (`stripe_events.rs`, method `card`), partial or in full; what exceeds the
//! amount due becomes the customer's credit (the balance goes negative). Refunds (permission
//! `billing.refund`) give back part or all of a payment: the customer's credit first, then
//! what was applied, which reopens a paid invoice. A card payment's refund goes through
//! Stripe first (idempotency key `refund-<payment>-<refunded so far>`).
//!
//! Every write to an invoice, payment or customer row goes through `rows::update_fresh`, in
//! the order payment, invoice, customer, so concurrent payments never lose one another.

use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::{Columns, select_all};
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Problem, Request, Response, Validator, events, money, payments as stripe};

use crate::balance;
use crate::invoices::{INVOICE_PAID, PAYABLE};
use crate::rows::{self, INVOICE, PAYMENT, PAYMENTS, REFUNDS, int, opt_text, text};

pub const PAYMENT_RECORDED: &str = "payment.recorded";
pub const OFFLINE_METHODS: [&str; 3] = ["cash", "check", "bank_transfer"];

/// A payment to apply.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub received_on: String,
    pub reference: String,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_charge_id: Option<String>,
    /// Money already received (Stripe's): recorded even when the invoice takes no more
    /// (paid meanwhile by check, voided), all of it then the customer's credit.
    pub received: bool,
}

/// Applies a payment to the invoice and the customer's balance, stores it and emits
/// `payment.recorded` (and `invoice.paid` when it settles the invoice).
pub fn apply(
    invoice_id: &str,
    incoming: &Incoming,
) -> Result<(Record<Columns>, Record<Columns>), Problem> {
    let mut applied = 0;
    let mut settles = false;
    let invoice = rows::update_fresh(INVOICE, invoice_id, |invoice| {
        let v = &invoice.values;
        let payable = PAYABLE.contains(&text(v, "status"));
        if !payable && !incoming.received {
            return Err(Problem::new(
                409,
                "invoice_not_payable",
                format!("a {} invoice takes no payment", text(v, "status")),
            ));
        }
        money::same_currency("currency", text(v, "currency"), &incoming.currency)?;
        let due = if payable {
            int(v, "amount_due_minor")
        } else {
            0
        };
        applied = incoming.amount_minor.min(due);
        settles = payable && applied == due;
        let mut values = json!({
            "amount_paid_minor": money::add("amount_minor", int(v, "amount_paid_minor"), applied)?,
            "amount_due_minor": if payable { due - applied } else { int(v, "amount_due_minor") },
        });
        if settles {
            values["status"] = json!("paid");
            values["paid_at"] = json!(rows::now_stamp());
        }
        Ok(values)
    })?;
    let customer = text(&invoice.values, "customer_id").to_owned();
    balance::adjust(&customer, &incoming.currency, -incoming.amount_minor)?;
    let payment: Record<Columns> = store::insert(
        PAYMENTS,
        &json!({
            "invoice_id": invoice.id,
            "customer_id": customer,
            "method": incoming.method,
            "amount_minor": incoming.amount_minor,
            "currency": incoming.currency,
            "applied_minor": applied,
            "credit_minor": incoming.amount_minor - applied,
            "received_on": incoming.received_on,
            "reference": incoming.reference,
            "recorded_by": rows::caller(),
            "stripe_payment_intent_id": incoming.stripe_payment_intent_id,
            "stripe_charge_id": incoming.stripe_charge_id,
        }),
    )?;
    let p = &payment.values;
    events::emit(
        PAYMENT_RECORDED,
        &json!({
            "payment_id": payment.id,
            "invoice_id": invoice.id,
            "customer_id": customer,
            "method": p.get("method"),
            "amount_minor": p.get("amount_minor"),
            "currency": p.get("currency"),
            "applied_minor": applied,
            "credit_minor": p.get("credit_minor"),
            "received_on": p.get("received_on"),
            "stripe_payment_intent_id": p.get("stripe_payment_intent_id"),
            "invoice_status": invoice.values.get("status"),
            "invoice_amount_due_minor": invoice.values.get("amount_due_minor"),
        }),
    )?;
    if settles {
        emit_paid(&invoice)?;
    }
    Ok((payment, invoice))
}

/// Marks an invoice with nothing left to pay as paid (a zero total, a credit note covering
/// it) and emits `invoice.paid`.
pub fn settle(invoice_id: &str) -> Result<Record<Columns>, Problem> {
    let invoice = rows::update_fresh(INVOICE, invoice_id, |_| {
        Ok(json!({"status": "paid", "paid_at": rows::now_stamp()}))
    })?;
    emit_paid(&invoice)?;
    Ok(invoice)
}

fn emit_paid(invoice: &Record<Columns>) -> Result<(), Problem> {
    crate::dunning::invoice_paid(invoice)?;
    let v = &invoice.values;
    events::emit(
        INVOICE_PAID,
        &json!({
            "invoice_id": invoice.id,
            "version": invoice.version,
            "number": v.get("number"),
            "customer_id": v.get("customer_id"),
            "currency": v.get("currency"),
            "total_minor": v.get("total_minor"),
            "amount_paid_minor": v.get("amount_paid_minor"),
            "amount_credited_minor": v.get("amount_credited_minor"),
            "paid_at": v.get("paid_at"),
        }),
    )
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    amount_minor: i64,
    currency: String,
    method: String,
    #[serde(default)]
    received_on: Option<String>,
    #[serde(default)]
    reference: String,
}

/// `POST /invoices/{id}/payments`: an offline payment recorded by staff.
pub fn record(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: PaymentBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(body.amount_minor > 0, "amount_minor", "must be above zero")
        .check(
            OFFLINE_METHODS.contains(&body.method.as_str()),
            "method",
            "must be cash, check or bank_transfer (cards go through Stripe)",
        )
        .length("reference", Some(&body.reference), 0..=200);
    check.accept(money::currency("currency", &body.currency));
    let received_on = match &body.received_on {
        Some(date) => {
            let parsed = verofield_field_ops::time::parse_date(date);
            check.check(
                parsed.is_some(),
                "received_on",
                "must be a date (YYYY-MM-DD)",
            );
            parsed.unwrap_or_default().to_string()
        }
        None => rows::today().to_string(),
    };
    check.finish()?;
    INVOICE.existing(id)?;
    let (payment, _) = apply(
        id,
        &Incoming {
            amount_minor: body.amount_minor,
            currency: body.currency,
            method: body.method,
            received_on,
            reference: body.reference,
            ..Incoming::default()
        },
    )?;
    Ok(Response::created(
        &format!("/v1/billing/payments/{}", payment.id),
        &payment,
    ))
}

/// `GET /payments?customer_id=&invoice_id=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    for column in ["customer_id", "invoice_id"] {
        if let Some(id) = request.query_uuid(column)? {
            filters.push(Filter::eq(column, id));
        }
    }
    let page = Select::from(PAYMENTS)
        .filter(Filter::and(filters))
        .order_by("created_at", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /payments/{id}`: the payment with its refunds.
pub fn show(request: &Request) -> Result<Response, Problem> {
    let payment = PAYMENT.existing(request.id_param("id")?)?;
    let refunds = select_all(
        REFUNDS,
        Filter::eq("payment_id", payment.id.as_str()),
        &[("created_at", Direction::Asc)],
        1_000,
        "refunds",
    )?;
    let mut body = serde_json::to_value(&payment).unwrap_or_default();
    body["refunds"] = json!(refunds);
    Ok(Response::json(200, &body))
}

/// The part of a refund that takes back what was applied to the invoice (the credit part
/// goes first): refunded `before` and `after` of a payment with `credit` to the customer.
pub fn applied_share(credit: i64, before: i64, after: i64) -> i64 {
    (after - credit).max(0) - (before - credit).max(0)
}

/// Gives back `amount` of a payment: the payment, the invoice (reopened if it was paid) and
/// the balance. `stripe_refund_id` is the refund Stripe already made, when it made it first.
pub fn refund(
    payment_id: &str,
    amount: i64,
    reason: &str,
    stripe_refund_id: Option<String>,
) -> Result<Record<Columns>, Problem> {
    let mut before = 0;
    let payment = rows::update_fresh(PAYMENT, payment_id, |payment| {
        let p = &payment.values;
        before = int(p, "refunded_minor");
        let left = int(p, "amount_minor") - before;
        if amount > left {
            return Err(Problem::new(
                409,
                "refund_exceeds_payment",
                format!("only {left} of this payment is left to refund"),
            )
            .with("refundable_minor", left));
        }
        Ok(json!({"refunded_minor": before + amount}))
    })?;
    let p = &payment.values;
    let share = applied_share(int(p, "credit_minor"), before, before + amount);
    let currency = text(p, "currency").to_owned();
    let stripe_refund_id = match (stripe_refund_id, opt_text(p, "stripe_payment_intent_id")) {
        (Some(id), _) => Some(id),
        (None, Some(intent)) => Some(
            stripe::create_refund(
                &format!("refund-{}-{}", payment.id, before),
                intent,
                Some(amount),
                &[("payment_id".into(), payment.id.clone())],
            )?
            .id,
        ),
        (None, None) => None,
    };
    let invoice_id = text(p, "invoice_id").to_owned();
    rows::update_fresh(INVOICE, &invoice_id, |invoice| {
        let v = &invoice.values;
        let mut values = json!({
            "amount_paid_minor": int(v, "amount_paid_minor") - share,
            "amount_due_minor": int(v, "amount_due_minor") + share,
        });
        if share > 0 && text(v, "status") == "paid" {
            values["status"] = json!("open");
            values["paid_at"] = Value::Null;
        }
        Ok(values)
    })?;
    balance::adjust(text(p, "customer_id"), &currency, amount)?;
    Ok(store::insert(
        REFUNDS,
        &json!({
            "payment_id": payment.id,
            "invoice_id": invoice_id,
            "customer_id": p.get("customer_id"),
            "amount_minor": amount,
            "currency": currency,
            "reason": reason,
            "stripe_refund_id": stripe_refund_id,
            "refunded_by": rows::caller(),
        }),
    )?)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    amount_minor: i64,
    #[serde(default)]
    reason: String,
}

/// `POST /payments/{id}/refunds` (permission `billing.refund`).
pub fn create_refund(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: RefundBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(body.amount_minor > 0, "amount_minor", "must be above zero")
        .length("reason", Some(&body.reason), 0..=2_000);
    check.finish()?;
    PAYMENT.existing(id)?;
    let refund = refund(id, body.amount_minor, &body.reason, None)?;
    Ok(Response::created(
        &format!("/v1/billing/payments/{id}"),
        &refund,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refunds_take_back_the_credit_first() {
        // 150 paid on 100 due: 50 credit. Refund 30 -> all credit; then 40 -> 20 credit, 20
        // applied; then the last 80 -> applied.
        assert_eq!(applied_share(50, 0, 30), 0);
        assert_eq!(applied_share(50, 30, 70), 20);
        assert_eq!(applied_share(50, 70, 150), 80);
        assert_eq!(applied_share(0, 0, 10), 10);
    }
}
