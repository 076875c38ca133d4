//! Card payments through Stripe: the PaymentIntent an invoice is paid with, and Stripe's
//! events (`stripe.*`, appended to the tenant's outbox by the host's verified webhook)
//! applied exactly once.
//!
//! `POST /invoices/{id}/payment-intent` asks the host's `payments` capability for a
//! PaymentIntent of the amount due (metadata `invoice_id`) under the idempotency key
//! `invoice-<id>-attempt-<n>`; `n` moves on only when the amount due changed since the last
//! intent, so asking twice returns Stripe's replay of the same intent, never a second one.
//!
//! Each applied Stripe object is recorded in `billing_stripe_applied` under a unique
//! `<kind>:<object id>` key in the same transaction as its effect: a replayed webhook (a new
//! Stripe event id for the same object) or a redelivered outbox event finds the key and
//! changes nothing. `payment_intent.succeeded` records a card payment (which settles the
//! invoice and the balance like any payment); `charge.refunded` applies what Stripe refunded
//! beyond what is recorded already (a refund made here comes back as nothing new);
//! `charge.dispute.created` flags the invoice; `payment_intent.payment_failed` notes Stripe's
//! reason on the invoice (`last_payment_error`), which stays open; `setup_intent.succeeded`
//! saves a customer's card for autopay (`autopay.rs`), which records its own successful
//! charges here under the same key, so their webhooks come back as nothing new.

use serde_json::{Value, json};
use verofield_field_ops::Columns;
use verofield_sdk::payments::{self as stripe, NewPaymentIntent};
use verofield_sdk::store::{self, Filter, Record, Select, StoreError};
use verofield_sdk::{Event, Problem, Request, Response, etag, warn};

use crate::invoices::PAYABLE;
use crate::payments::{self, Incoming};
use crate::rows::{self, INVOICE, INVOICES, PAYMENTS, STRIPE_APPLIED, int, opt_text, text};

pub const SUCCEEDED: &str = "stripe.payment_intent.succeeded";
pub const FAILED: &str = "stripe.payment_intent.payment_failed";
pub const REFUNDED: &str = "stripe.charge.refunded";
pub const DISPUTED: &str = "stripe.charge.dispute.created";
pub const SETUP_SUCCEEDED: &str = "stripe.setup_intent.succeeded";

/// `POST /invoices/{id}/payment-intent`: `{client_secret, payment_intent_id, amount_minor,
/// currency}` for Stripe.js to confirm.
pub fn create_intent(request: &Request) -> Result<Response, Problem> {
    intent_for(INVOICE.existing(request.id_param("id")?)?)
}

/// What Stripe.js needs to confirm a card payment of an invoice.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct IntentAnswer {
    invoice_id: String,
    payment_intent_id: String,
    /// For Stripe.js to confirm with; absent once the intent needs no client action.
    client_secret: Option<String>,
    /// Stripe's intent status (`requires_payment_method`, `succeeded`, ...).
    status: String,
    amount_minor: i64,
    currency: String,
    /// Which attempt at paying the invoice this intent is (a new amount is a new attempt).
    attempt: i64,
}

/// A PaymentIntent for what `invoice` has due (the same one again while the amount is
/// unchanged); staff and pay links both start a card payment here.
pub fn intent_for(invoice: Record<Columns>) -> Result<Response, Problem> {
    let v = &invoice.values;
    let due = int(v, "amount_due_minor");
    if !PAYABLE.contains(&text(v, "status")) || due <= 0 {
        return Err(Problem::new(
            409,
            "invoice_not_payable",
            format!(
                "a {} invoice with {due} due takes no payment",
                text(v, "status")
            ),
        ));
    }
    let same_amount = v.get("stripe_intent_amount_minor").and_then(Value::as_i64) == Some(due);
    let attempt = match same_amount {
        true => int(v, "payment_attempts").max(1),
        false => int(v, "payment_attempts") + 1,
    };
    let intent = stripe::create_payment_intent(
        &format!("invoice-{}-attempt-{attempt}", invoice.id),
        &NewPaymentIntent {
            amount: due,
            currency: text(v, "currency").to_ascii_lowercase(),
            customer: None,
            metadata: vec![
                ("invoice_id".into(), invoice.id.clone()),
                ("invoice_number".into(), text(v, "number").to_owned()),
            ],
            payment_method: None,
            off_session: false,
            description: Some(format!("Invoice {}", text(v, "number"))),
        },
    )?;
    let updated: Record<Columns> = store::update(
        INVOICES,
        &invoice.id,
        invoice.version,
        &json!({
            "payment_attempts": attempt,
            "stripe_payment_intent_id": intent.id,
            "stripe_intent_amount_minor": due,
        }),
    )?;
    let answer = IntentAnswer {
        invoice_id: invoice.id.clone(),
        payment_intent_id: intent.id,
        client_secret: intent.client_secret,
        status: intent.status,
        amount_minor: intent.amount,
        currency: text(v, "currency").to_owned(),
        attempt,
    };
    let mut response = Response::json(200, &answer);
    response.set_header("etag", &etag::etag(updated.version));
    Ok(response)
}

/// Records that `key` was applied; false when it was already (the event is a replay).
pub fn first_time(key: &str, event_id: &str, invoice_id: Option<&str>) -> Result<bool, Problem> {
    match store::insert::<Columns>(
        STRIPE_APPLIED,
        &json!({"object_key": key, "stripe_event_id": event_id, "invoice_id": invoice_id}),
    ) {
        Ok(_) => Ok(true),
        Err(StoreError::Duplicate(_)) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// Applies one `stripe.*` event (see the file header).
pub fn apply(event: &Event) -> Result<(), Problem> {
    let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
    let object = &payload["object"];
    let event_id = payload["stripe_event_id"].as_str().unwrap_or(&event.id);
    let id = object["id"].as_str().unwrap_or_default();
    if id.is_empty() {
        warn!("stripe event {event_id} carries no object id");
        return Ok(());
    }
    match event.event_type.as_str() {
        SUCCEEDED => intent_succeeded(event_id, id, object),
        FAILED => intent_failed(event_id, id, object),
        REFUNDED => charge_refunded(event_id, object),
        DISPUTED => disputed(event_id, id, object),
        SETUP_SUCCEEDED => crate::autopay::setup_succeeded(event_id, id, object),
        _ => Ok(()),
    }
}

/// Records the card payment of a succeeded PaymentIntent once (a webhook's, or autopay's
/// own answer with `applied_by` naming the charge).
pub fn intent_succeeded(event_id: &str, intent: &str, object: &Value) -> Result<(), Problem> {
    let Some(invoice_id) = object["metadata"]["invoice_id"].as_str() else {
        return Ok(()); // Not one of ours.
    };
    if store::get::<Columns>(INVOICES, invoice_id)
        .ok()
        .flatten()
        .is_none()
    {
        warn!("payment intent {intent} names unknown invoice {invoice_id}");
        return Ok(());
    }
    if !first_time(
        &format!("payment_intent:{intent}"),
        event_id,
        Some(invoice_id),
    )? {
        return Ok(());
    }
    let amount = object["amount_received"]
        .as_i64()
        .filter(|a| *a > 0)
        .or_else(|| object["amount"].as_i64())
        .unwrap_or(0);
    if amount <= 0 {
        return Ok(());
    }
    let currency = object["currency"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    payments::apply(
        invoice_id,
        &Incoming {
            amount_minor: amount,
            currency,
            method: "card".into(),
            received_on: rows::today().to_string(),
            reference: intent.to_owned(),
            stripe_payment_intent_id: Some(intent.to_owned()),
            stripe_charge_id: object["latest_charge"].as_str().map(str::to_owned),
            received: true,
        },
    )?;
    Ok(())
}

/// Notes on the invoice why its card payment failed (the customer may try again; the
/// invoice stays open). Each failed attempt is its own event: keyed by the event.
fn intent_failed(event_id: &str, intent: &str, object: &Value) -> Result<(), Problem> {
    let Some(invoice_id) = object["metadata"]["invoice_id"].as_str() else {
        return Ok(());
    };
    if store::get::<Columns>(INVOICES, invoice_id)?.is_none()
        || !first_time(
            &format!("payment_failed:{intent}:{event_id}"),
            event_id,
            Some(invoice_id),
        )?
    {
        return Ok(());
    }
    let reason = object["last_payment_error"]["message"]
        .as_str()
        .unwrap_or("the payment failed")
        .chars()
        .take(500)
        .collect::<String>();
    rows::update_fresh(INVOICE, invoice_id, |_| {
        Ok(json!({"last_payment_error": reason}))
    })?;
    Ok(())
}

/// The card payment of a PaymentIntent.
fn payment_of(intent: &str) -> Result<Option<Record<Columns>>, Problem> {
    Ok(Select::from(PAYMENTS)
        .filter(Filter::eq("stripe_payment_intent_id", intent))
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next())
}

fn charge_refunded(event_id: &str, charge: &Value) -> Result<(), Problem> {
    let (Some(intent), Some(refunded)) = (
        charge["payment_intent"].as_str(),
        charge["amount_refunded"].as_i64(),
    ) else {
        return Ok(());
    };
    let Some(payment) = payment_of(intent)? else {
        return Ok(());
    };
    let charge_id = charge["id"].as_str().unwrap_or_default();
    let key = format!("charge_refunded:{charge_id}:{refunded}");
    let invoice = opt_text(&payment.values, "invoice_id");
    if !first_time(&key, event_id, invoice)? {
        return Ok(());
    }
    let new = refunded - int(&payment.values, "refunded_minor");
    if new > 0 {
        payments::refund(&payment.id, new, "refunded in Stripe", Some(key))?;
    }
    Ok(())
}

fn disputed(event_id: &str, dispute: &str, object: &Value) -> Result<(), Problem> {
    let Some(intent) = object["payment_intent"].as_str() else {
        return Ok(());
    };
    let invoice = match payment_of(intent)? {
        Some(payment) => opt_text(&payment.values, "invoice_id").map(str::to_owned),
        None => Select::from(INVOICES)
            .filter(Filter::eq("stripe_payment_intent_id", intent))
            .limit(1)
            .fetch::<Columns>()?
            .items
            .into_iter()
            .next()
            .map(|invoice| invoice.id),
    };
    let Some(invoice) = invoice else {
        return Ok(());
    };
    if !first_time(&format!("dispute:{dispute}"), event_id, Some(&invoice))? {
        return Ok(());
    }
    rows::update_fresh(INVOICE, &invoice, |_| {
        Ok(json!({"disputed": true, "dispute_id": dispute}))
    })?;
    Ok(())
}
