//! Autopay: a customer's saved card, charged off-session when an invoice is finalized.
//!
//! - `POST /customers/{id}/setup-intent` makes the customer's Stripe customer once
//!   (idempotency key `customer-<id>`) and a SetupIntent for Stripe.js to confirm (key
//!   `customer-<id>-setup-<saved method or none>`: asked again before anything was saved it is
//!   Stripe's replay of the same intent; once a card is saved, a new one for the next card).
//!   Stripe's `setup_intent.succeeded` (applied once, keyed by the SetupIntent) saves its
//!   payment method as the customer's default.
//! - `GET/PATCH /customers/{id}/payment-profile` shows the profile and turns `autopay` on or
//!   off; on needs a saved method (422 `no_payment_method`, also a CHECK in the table).
//! - Finalizing an invoice of a customer with autopay on (any source: the consent is the
//!   customer's, given with the SetupIntent, not an agreement's) charges the default method
//!   off-session for the amount due, key `invoice-<id>-autopay-<n>`, `n` the dunning attempt.
//!   A success is recorded exactly as Stripe's `payment_intent.succeeded` would be, under the
//!   same `payment_intent:<id>` key, so the webhook that follows changes nothing. A decline
//!   starts dunning (`dunning.rs`); finalizing still succeeds and the invoice stays open.

use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::Columns;
use verofield_sdk::payments::{self as stripe, NewCustomer, NewPaymentIntent, PaymentError};
use verofield_sdk::store::{self, Filter, Record, Select, StoreError};
use verofield_sdk::{Problem, Request, Response, etag, warn};

use crate::dunning;
use crate::rows::{self, CUSTOMER, PAYMENT_PROFILE, PAYMENT_PROFILES, int, opt_text, text};
use crate::stripe_events;

/// What one off-session charge came to.
pub enum Charge {
    /// Paid and recorded; the invoice as it is now.
    Paid(Record<Columns>),
    /// Stripe declined: `(message, decline code)`.
    Declined(String, Option<String>),
    /// Not charged for a reason a later day may not have (Stripe unavailable, no account,
    /// no saved method, an intent still processing): no attempt is counted.
    NotCharged(String),
}

/// The customer's profile row, if one was ever made.
pub fn profile_of(customer_id: &str) -> Result<Option<Record<Columns>>, Problem> {
    Ok(Select::from(PAYMENT_PROFILES)
        .filter(Filter::eq("customer_id", customer_id))
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next())
}

/// The customer's profile, made (empty) when there is none yet.
fn profile_made(customer_id: &str) -> Result<Record<Columns>, Problem> {
    if let Some(profile) = profile_of(customer_id)? {
        return Ok(profile);
    }
    match store::insert::<Columns>(PAYMENT_PROFILES, &json!({"customer_id": customer_id})) {
        Ok(profile) => Ok(profile),
        // A concurrent request made it first (the unique key on customer_id).
        Err(StoreError::Duplicate(_)) => profile_of(customer_id)?
            .ok_or_else(|| Problem::internal("the payment profile vanished")),
        Err(other) => Err(other.into()),
    }
}

/// Whether invoices of this customer are charged when finalized.
pub fn enrolled(customer_id: &str) -> Result<bool, Problem> {
    Ok(profile_of(customer_id)?.is_some_and(|p| charges_automatically(&p.values)))
}

fn charges_automatically(profile: &Columns) -> bool {
    profile.get("autopay").and_then(Value::as_bool) == Some(true)
        && opt_text(profile, "default_payment_method").is_some()
}

/// The profile as answered; a customer without a row has the defaults.
fn answer(customer_id: &str, profile: Option<&Record<Columns>>) -> Response {
    let values = profile.map(|p| &p.values);
    let get = |column: &str| values.and_then(|v| v.get(column)).cloned();
    let flag = |column: &str| get(column).and_then(|v| v.as_bool()).unwrap_or(false);
    let mut response = Response::json(
        200,
        &json!({
            "customer_id": customer_id,
            "stripe_customer_id": get("stripe_customer_id"),
            "default_payment_method": get("default_payment_method"),
            "autopay": flag("autopay"),
            "delinquent": flag("delinquent"),
            "delinquent_since": get("delinquent_since"),
        }),
    );
    if let Some(profile) = profile {
        response.set_header("etag", &etag::etag(profile.version));
    }
    response
}

/// `GET /customers/{id}/payment-profile`
pub fn show(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    Ok(answer(&customer.id, profile_of(&customer.id)?.as_ref()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    autopay: bool,
}

/// `PATCH /customers/{id}/payment-profile`: `{"autopay": true|false}`.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let body: ProfileBody = request.json()?;
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let profile = profile_made(&customer.id)?;
    etag::check_if_match(request, profile.version)?;
    let updated = rows::update_fresh(PAYMENT_PROFILE, &profile.id, |current| {
        if body.autopay && opt_text(&current.values, "default_payment_method").is_none() {
            return Err(Problem::new(
                422,
                "no_payment_method",
                "save a payment method (POST .../setup-intent) before turning autopay on",
            ));
        }
        Ok(json!({"autopay": body.autopay}))
    })?;
    Ok(answer(&customer.id, Some(&updated)))
}

/// `POST /customers/{id}/setup-intent`: `{setup_intent_id, client_secret, stripe_customer_id}`
/// for Stripe.js to save a card with.
pub fn create_setup_intent(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let mut profile = profile_made(&customer.id)?;
    let stripe_customer = match opt_text(&profile.values, "stripe_customer_id") {
        Some(id) => id.to_owned(),
        None => {
            let c = &customer.values;
            let made = stripe::create_customer(
                &format!("customer-{}", customer.id),
                &NewCustomer {
                    email: opt_text(c, "email").map(str::to_owned),
                    name: opt_text(c, "name").map(str::to_owned),
                    metadata: vec![("customer_id".into(), customer.id.clone())],
                },
            )?;
            profile = rows::update_fresh(PAYMENT_PROFILE, &profile.id, |_| {
                Ok(json!({"stripe_customer_id": made.id}))
            })?;
            made.id
        }
    };
    let saved = opt_text(&profile.values, "default_payment_method").unwrap_or("none");
    let intent = stripe::create_setup_intent(
        &format!("customer-{}-setup-{saved}", customer.id),
        &stripe_customer,
        &[("customer_id".into(), customer.id.clone())],
    )?;
    let answer = SetupAnswer {
        customer_id: customer.id,
        stripe_customer_id: stripe_customer,
        setup_intent_id: intent.id,
        client_secret: intent.client_secret,
        status: intent.status,
    };
    Ok(Response::json(200, &answer))
}

/// What Stripe.js needs to save a customer's card for autopay.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SetupAnswer {
    customer_id: String,
    stripe_customer_id: String,
    setup_intent_id: String,
    client_secret: Option<String>,
    status: String,
}

/// Stripe's `setup_intent.succeeded`: its payment method becomes the customer's default.
pub fn setup_succeeded(event_id: &str, setup: &str, object: &Value) -> Result<(), Problem> {
    let Some(method) = object["payment_method"].as_str() else {
        return Ok(());
    };
    let by_metadata = match object["metadata"]["customer_id"].as_str() {
        Some(customer) => profile_of(customer)?,
        None => None,
    };
    let profile = match (by_metadata, object["customer"].as_str()) {
        (Some(profile), _) => Some(profile),
        (None, Some(stripe_customer)) => Select::from(PAYMENT_PROFILES)
            .filter(Filter::eq("stripe_customer_id", stripe_customer))
            .limit(1)
            .fetch::<Columns>()?
            .items
            .into_iter()
            .next(),
        (None, None) => None,
    };
    let Some(profile) = profile else {
        warn!("setup intent {setup} names no customer of ours");
        return Ok(());
    };
    if !stripe_events::first_time(&format!("setup_intent:{setup}"), event_id, None)? {
        return Ok(());
    }
    rows::update_fresh(PAYMENT_PROFILE, &profile.id, |_| {
        Ok(json!({"default_payment_method": method}))
    })?;
    Ok(())
}

/// After finalizing: charges the invoice when its customer pays automatically; the invoice
/// as it is afterwards.
pub fn on_finalized(invoice: Record<Columns>) -> Result<Record<Columns>, Problem> {
    let v = &invoice.values;
    if int(v, "amount_due_minor") <= 0 || !enrolled(text(v, "customer_id"))? {
        return Ok(invoice);
    }
    match charge(&invoice, 1)? {
        Charge::Paid(paid) => Ok(paid),
        Charge::Declined(reason, code) => dunning::failed(&invoice.id, 1, &reason, code),
        Charge::NotCharged(reason) => {
            warn!("autopay of invoice {} postponed: {reason}", invoice.id);
            dunning::postponed(&invoice.id, &reason)?;
            Ok(invoice)
        }
    }
}

/// Charges what `invoice` has due to its customer's saved method, off-session, as attempt
/// `attempt` (the idempotency key's `n`: the same attempt again is Stripe's replay).
pub fn charge(invoice: &Record<Columns>, attempt: i64) -> Result<Charge, Problem> {
    let v = &invoice.values;
    let due = int(v, "amount_due_minor");
    let profile = profile_of(text(v, "customer_id"))?;
    let Some(method) = profile
        .as_ref()
        .and_then(|p| opt_text(&p.values, "default_payment_method"))
    else {
        return Ok(Charge::NotCharged("no saved payment method".into()));
    };
    let stripe_customer = profile
        .as_ref()
        .and_then(|p| opt_text(&p.values, "stripe_customer_id"))
        .map(str::to_owned);
    let charged = stripe::create_payment_intent(
        &format!("invoice-{}-autopay-{attempt}", invoice.id),
        &NewPaymentIntent {
            amount: due,
            currency: text(v, "currency").to_ascii_lowercase(),
            customer: stripe_customer,
            metadata: vec![
                ("invoice_id".into(), invoice.id.clone()),
                ("invoice_number".into(), text(v, "number").to_owned()),
                ("autopay_attempt".into(), attempt.to_string()),
            ],
            payment_method: Some(method.to_owned()),
            off_session: true,
            description: Some(format!("Invoice {} (autopay)", text(v, "number"))),
        },
    );
    let intent = match charged {
        Ok(intent) => intent,
        Err(PaymentError::Declined(decline)) => {
            let code = decline.decline_code.or(Some(decline.code));
            return Ok(Charge::Declined(decline.message, code));
        }
        Err(other) => return Ok(Charge::NotCharged(Problem::from(other).detail)),
    };
    if intent.status != "succeeded" {
        // `processing`: Stripe's webhook records it when it settles.
        return Ok(Charge::NotCharged(format!(
            "the charge is {}",
            intent.status
        )));
    }
    let object: Value = serde_json::from_str(&intent.raw).unwrap_or_default();
    stripe_events::intent_succeeded(
        &format!("autopay:invoice-{}-autopay-{attempt}", invoice.id),
        &intent.id,
        &object,
    )?;
    Ok(Charge::Paid(rows::INVOICE.existing(&invoice.id)?))
}
