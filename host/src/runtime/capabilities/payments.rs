//! `payments`: Stripe through the host, for modules whose manifest declares
//! `capabilities: ["payments"]`. This file turns each WIT call into a [`StripeRequest`]
//! (path, form with Stripe's bracketed keys, the module's idempotency key) and Stripe's
//! answer back into WIT records; the call's [`PaymentsBackend`] adds the tenant's connected
//! account and the platform key and sends it (`crate::payments`). A call without the grant
//! answers `not-granted` and fails the whole call afterwards, as the store does.

use reqwest::Method;
use serde_json::Value;
use wasmtime::component::Linker;

use super::store::BoxFuture;
use super::{Capability, Granted};
use crate::payments::stripe::{StripeError, StripeRequest};
use crate::runtime::bindings::verofield::platform::payments as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

pub use wit::PaymentError;

/// The manifest's name for this capability.
pub const CAPABILITY: &str = "payments";
/// The longest idempotency key a module may pass (Stripe allows 255 with our prefix).
pub const MAX_KEY_LEN: usize = 200;

/// Sends one request on the call's tenant account. Implementations hold the tenant
/// transaction (to read the account) and the Stripe client.
pub trait PaymentsBackend: Send {
    fn send(&mut self, request: StripeRequest) -> BoxFuture<'_, Result<Value, StripeError>>;
}

pub struct PaymentsState {
    backend: Box<dyn PaymentsBackend>,
    granted: bool,
    denied: Option<String>,
}

impl PaymentsState {
    pub fn new(backend: Box<dyn PaymentsBackend>, grants: &Manifest) -> Self {
        Self {
            backend,
            granted: grants.capabilities.iter().any(|c| c == CAPABILITY),
            denied: None,
        }
    }

    /// The first call made without the grant, if there was one: the host fails the call.
    pub fn denied(&self) -> Option<&str> {
        self.denied.as_deref()
    }

    async fn run(&mut self, request: Result<StripeRequest, String>) -> Result<Value, PaymentError> {
        if !self.granted {
            let why = "the manifest does not declare the `payments` capability".to_owned();
            self.denied.get_or_insert_with(|| why.clone());
            return Err(PaymentError::NotGranted(why));
        }
        let request = request.map_err(PaymentError::Invalid)?;
        self.backend
            .send(request)
            .await
            .map_err(|error| match error {
                StripeError::NotConfigured(why) => PaymentError::NotConfigured(why),
                StripeError::Declined {
                    code,
                    decline_code,
                    message,
                } => PaymentError::Declined(wit::Decline {
                    code,
                    decline_code,
                    message,
                }),
                StripeError::Invalid(why) => PaymentError::Invalid(why),
                StripeError::RateLimited => PaymentError::RateLimited,
                StripeError::Unavailable(why) => PaymentError::Unavailable(why),
            })
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<PaymentsState>>(linker, |call| Granted {
        state: &mut call.payments,
        calls: &mut call.host_calls,
    })
}

type Answer<T> = wasmtime::Result<Result<T, PaymentError>>;

impl wit::Host for Granted<'_, PaymentsState> {
    async fn create_payment_intent(
        &mut self,
        key: String,
        intent: wit::NewPaymentIntent,
    ) -> Answer<wit::PaymentIntent> {
        self.calls.charge()?;
        let request = post(
            &key,
            "/v1/payment_intents".into(),
            payment_intent_form(intent),
        );
        Ok(self.state.run(request).await.map(|v| payment_intent(&v)))
    }

    async fn retrieve_payment_intent(&mut self, id: String) -> Answer<wit::PaymentIntent> {
        self.calls.charge()?;
        let request = get("/v1/payment_intents", &id);
        Ok(self.state.run(request).await.map(|v| payment_intent(&v)))
    }

    async fn cancel_payment_intent(
        &mut self,
        key: String,
        id: String,
    ) -> Answer<wit::PaymentIntent> {
        self.calls.charge()?;
        let request = object_id(&id)
            .and_then(|id| post(&key, format!("/v1/payment_intents/{id}/cancel"), Ok(vec![])));
        Ok(self.state.run(request).await.map(|v| payment_intent(&v)))
    }

    async fn create_refund(
        &mut self,
        key: String,
        intent: String,
        amount: Option<i64>,
        metadata: Vec<(String, String)>,
    ) -> Answer<wit::Refund> {
        self.calls.charge()?;
        let form = object_id(&intent).and_then(|intent| {
            let mut form = vec![field("payment_intent", intent)];
            if let Some(amount) = amount {
                form.push(field("amount", positive(amount)?));
            }
            Ok(with_metadata(form, metadata))
        });
        let request = post(&key, "/v1/refunds".into(), form);
        Ok(self.state.run(request).await.map(|v| wit::Refund {
            id: text(&v, "id").unwrap_or_default(),
            status: text(&v, "status").unwrap_or_default(),
            amount: v["amount"].as_i64().unwrap_or_default(),
            payment_intent: text(&v, "payment_intent"),
            raw: v.to_string(),
        }))
    }

    async fn create_customer(
        &mut self,
        key: String,
        customer: wit::NewCustomer,
    ) -> Answer<wit::Customer> {
        self.calls.charge()?;
        let mut form = Vec::new();
        form.extend(customer.email.map(|email| field("email", email)));
        form.extend(customer.name.map(|name| field("name", name)));
        let form = Ok(with_metadata(form, customer.metadata));
        let request = post(&key, "/v1/customers".into(), form);
        Ok(self.state.run(request).await.map(|v| customer_record(&v)))
    }

    async fn retrieve_customer(&mut self, id: String) -> Answer<wit::Customer> {
        self.calls.charge()?;
        let request = get("/v1/customers", &id);
        Ok(self.state.run(request).await.map(|v| customer_record(&v)))
    }

    async fn create_setup_intent(
        &mut self,
        key: String,
        customer: String,
        metadata: Vec<(String, String)>,
    ) -> Answer<wit::SetupIntent> {
        self.calls.charge()?;
        let form = object_id(&customer).map(|customer| {
            let form = vec![field("customer", customer), field("usage", "off_session")];
            with_metadata(form, metadata)
        });
        let request = post(&key, "/v1/setup_intents".into(), form);
        Ok(self.state.run(request).await.map(|v| wit::SetupIntent {
            id: text(&v, "id").unwrap_or_default(),
            status: text(&v, "status").unwrap_or_default(),
            customer: text(&v, "customer"),
            client_secret: text(&v, "client_secret"),
            raw: v.to_string(),
        }))
    }
}

fn payment_intent_form(intent: wit::NewPaymentIntent) -> Result<Vec<(String, String)>, String> {
    let currency = intent.currency.to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "currency `{}` is not an ISO 4217 code",
            intent.currency
        ));
    }
    let mut form = vec![
        field("amount", positive(intent.amount)?),
        field("currency", currency),
    ];
    if let Some(customer) = intent.customer {
        form.push(field("customer", object_id(&customer)?));
    }
    if let Some(description) = intent.description {
        form.push(field("description", description));
    }
    match intent.payment_method {
        Some(method) => {
            form.push(field("payment_method", object_id(&method)?));
            if intent.off_session {
                form.push(field("off_session", "true"));
                form.push(field("confirm", "true"));
            }
        }
        None if intent.off_session => {
            return Err("an off-session payment needs a payment method".into());
        }
        None => form.push(field("automatic_payment_methods[enabled]", "true")),
    }
    Ok(with_metadata(form, intent.metadata))
}

fn payment_intent(v: &Value) -> wit::PaymentIntent {
    wit::PaymentIntent {
        id: text(v, "id").unwrap_or_default(),
        status: text(v, "status").unwrap_or_default(),
        amount: v["amount"].as_i64().unwrap_or_default(),
        currency: text(v, "currency").unwrap_or_default(),
        customer: text(v, "customer"),
        client_secret: text(v, "client_secret"),
        raw: v.to_string(),
    }
}

fn customer_record(v: &Value) -> wit::Customer {
    wit::Customer {
        id: text(v, "id").unwrap_or_default(),
        email: text(v, "email"),
        name: text(v, "name"),
        raw: v.to_string(),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn field(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

fn positive(amount: i64) -> Result<String, String> {
    match amount > 0 {
        true => Ok(amount.to_string()),
        false => Err(format!("amount {amount} is not above zero")),
    }
}

/// `metadata[key]=value` pairs; Stripe allows 50 keys of 40 characters, values of 500.
fn with_metadata(
    mut form: Vec<(String, String)>,
    metadata: Vec<(String, String)>,
) -> Vec<(String, String)> {
    form.extend(
        metadata
            .into_iter()
            .map(|(key, value)| (format!("metadata[{key}]"), value)),
    );
    form
}

/// A Stripe object id (`pi_...`, `cus_...`): letters, digits and `_`, so that it is safe in a
/// path segment.
fn object_id(id: &str) -> Result<&str, String> {
    match !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        true => Ok(id),
        false => Err(format!("`{id}` is not a Stripe object id")),
    }
}

fn post(
    key: &str,
    path: String,
    form: Result<Vec<(String, String)>, String>,
) -> Result<StripeRequest, String> {
    let valid = (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !valid {
        return Err(format!(
            "the idempotency key is not 1 to {MAX_KEY_LEN} letters, digits, `-`, `_`, `.` or `:`"
        ));
    }
    Ok(StripeRequest {
        method: Method::POST,
        path,
        idempotency_key: Some(key.to_owned()),
        form: form?,
    })
}

fn get(collection: &str, id: &str) -> Result<StripeRequest, String> {
    Ok(StripeRequest {
        method: Method::GET,
        path: format!("{collection}/{}", object_id(id)?),
        idempotency_key: None,
        form: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(payment_method: Option<&str>, off_session: bool) -> wit::NewPaymentIntent {
        wit::NewPaymentIntent {
            amount: 12_345,
            currency: "USD".into(),
            customer: Some("cus_1".into()),
            metadata: vec![("invoice_id".into(), "inv-7".into())],
            payment_method: payment_method.map(str::to_owned),
            off_session,
            description: None,
        }
    }

    #[test]
    fn an_autopay_intent_confirms_off_session_with_nested_metadata() {
        let form = payment_intent_form(intent(Some("pm_card_visa"), true)).unwrap();
        let encoded = serde_urlencoded::to_string(&form).unwrap();
        assert_eq!(
            encoded,
            "amount=12345&currency=usd&customer=cus_1&payment_method=pm_card_visa\
             &off_session=true&confirm=true&metadata%5Binvoice_id%5D=inv-7"
        );
    }

    #[test]
    fn bad_values_never_reach_stripe() {
        assert!(payment_intent_form(intent(None, true)).is_err());
        let mut zero = intent(None, false);
        zero.amount = 0;
        assert!(payment_intent_form(zero).is_err());
        assert!(post("key with spaces", "/v1/x".into(), Ok(vec![])).is_err());
        assert!(post(&"k".repeat(MAX_KEY_LEN + 1), "/v1/x".into(), Ok(vec![])).is_err());
        assert!(get("/v1/customers", "../charges").is_err());
    }
}
