//! A local Stripe for the payments suite: an axum server on 127.0.0.1 (on its own thread and
//! runtime, like [`Receiver`](crate::Receiver)) that answers exactly the endpoints the host
//! calls, in the shapes Stripe documents (<https://docs.stripe.com/api>):
//!
//! - form-encoded bodies (`metadata[invoice_id]=...`), `Authorization: Bearer sk_test_...`,
//!   `Stripe-Version` and `Stripe-Account` required (the host always acts on a connected
//!   account); objects with `id`, `object`, `status`, `client_secret`, `metadata`, `livemode`;
//! - errors as `{"error": {"type", "code", "decline_code", "message"}}`: confirming with
//!   `pm_card_chargeDeclined` is 402 `card_error`/`card_declined`/`generic_decline`;
//! - idempotency per account and key: the same key and body replay the first answer, the
//!   same key with another body is 400 `idempotency_error`;
//! - [`StripeServer::fail_next`] answers the next requests with a status (429 then success);
//! - [`StripeServer::send_webhook`] posts an event to the VeroField server signed with
//!   Stripe's scheme (`Stripe-Signature: t=...,v1=<hex HMAC-SHA256 of "t.body">`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::receiver::{hmac_sha256, serve_locally};

/// The platform key the suite configures; any other bearer is 401.
pub const TEST_SECRET_KEY: &str = "sk_test_verofield_suite";
/// The webhook signing secret the suite configures.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_verofield_suite_secret";

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct StripeCall {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub form: Vec<(String, String)>,
}

impl StripeCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct FirstAnswer {
    path: String,
    form: Vec<(String, String)>,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<StripeCall>>,
    /// Statuses for the next requests, one each, before normal answers.
    failures: Mutex<VecDeque<u16>>,
    /// (account, idempotency key) -> the request first sent with it, and its answer.
    idempotency: Mutex<HashMap<(String, String), FirstAnswer>>,
    /// Objects by id, with the account they live on.
    objects: Mutex<HashMap<String, (String, Value)>>,
}

pub struct StripeServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropping it (with the server) stops the server.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl StripeServer {
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let (addr, stop) = serve_locally(app);
        Self {
            addr,
            shared,
            _stop: stop,
        }
    }

    /// The server arguments that point VeroField at this Stripe with the suite's secrets
    /// (quick retries; plain http on loopback allowed).
    pub fn server_args(&self) -> Vec<String> {
        [
            "--stripe-api-base",
            &format!("http://{}", self.addr),
            "--stripe-secret-key",
            TEST_SECRET_KEY,
            "--stripe-webhook-secret",
            TEST_WEBHOOK_SECRET,
            "--stripe-retry-base-ms",
            "10",
            "--outbound-allow-http",
            "--outbound-allow-cidr",
            "127.0.0.0/8",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Answers the next requests with these statuses (a Stripe error body each), one each.
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        self.shared.failures.lock().unwrap().extend(statuses);
    }

    pub fn calls(&self) -> Vec<StripeCall> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// PaymentIntents created (not replayed), on any account.
    pub fn payment_intents(&self) -> Vec<(String, Value)> {
        let objects = self.shared.objects.lock().unwrap();
        objects
            .values()
            .filter(|(_, object)| object["object"] == "payment_intent")
            .cloned()
            .collect()
    }

    /// POSTs `event` to `url` as Stripe would, signed at `timestamp` with `secret`.
    pub async fn send_webhook(
        url: &str,
        secret: &str,
        timestamp: i64,
        event: &Value,
    ) -> crate::Resp {
        let body = event.to_string();
        crate::send(
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json; charset=utf-8")
                .header(
                    "stripe-signature",
                    signature_header(secret, timestamp, &body),
                )
                .body(body),
        )
        .await
    }
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed by the whole secret>`,
/// computed here from Stripe's documentation, not with the server's code.
pub fn signature_header(secret: &str, timestamp: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// A Stripe event object (`"object": "event"`) of `event_type` on `account`.
pub fn stripe_event(id: &str, event_type: &str, account: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "account": account,
        "created": 1_733_493_600,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object},
    })
}

fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    decline: Option<&str>,
    message: &str,
) -> (u16, Value) {
    (
        status,
        json!({"error": {"type": kind, "code": code, "decline_code": decline, "message": message}}),
    )
}

fn random_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

/// `metadata[key]=value` pairs as an object.
fn metadata(form: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (key, value) in form {
        if let Some(name) = key
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            map.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = match method {
        Method::GET => serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default(),
        _ => serde_urlencoded::from_bytes(&body).unwrap_or_default(),
    };
    let call = StripeCall {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        form,
    };
    shared.calls.lock().unwrap().push(call.clone());
    let (status, body) = respond(&shared, &call);
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn respond(shared: &Shared, call: &StripeCall) -> (u16, Value) {
    if call.header("authorization") != Some(&format!("Bearer {TEST_SECRET_KEY}")) {
        return error(
            401,
            "invalid_request_error",
            None,
            None,
            "Invalid API Key provided",
        );
    }
    let Some(account) = call.header("stripe-account").map(str::to_owned) else {
        return error(
            400,
            "invalid_request_error",
            None,
            None,
            "the suite expects Stripe-Account",
        );
    };
    if call.header("stripe-version").is_none() {
        return error(
            400,
            "invalid_request_error",
            None,
            None,
            "the suite expects Stripe-Version",
        );
    }
    if let Some(status) = shared.failures.lock().unwrap().pop_front() {
        let kind = if status == 429 {
            "rate_limit_error"
        } else {
            "api_error"
        };
        return error(status, kind, None, None, "programmed failure");
    }
    // Stripe keeps keys per account; only POSTs are idempotent.
    let key = call
        .header("idempotency-key")
        .filter(|_| call.method == "POST")
        .map(|key| (account.clone(), key.to_owned()));
    let seen = key
        .as_ref()
        .and_then(|key| shared.idempotency.lock().unwrap().get(key).cloned());
    if let Some(first) = seen {
        if first.path != call.path || first.form != call.form {
            return error(
                400,
                "idempotency_error",
                None,
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        return (first.status, first.body);
    }
    let (status, body) = handle(shared, &account, call);
    if let Some(key) = key {
        let first = FirstAnswer {
            path: call.path.clone(),
            form: call.form.clone(),
            status,
            body: body.clone(),
        };
        shared.idempotency.lock().unwrap().insert(key, first);
    }
    (status, body)
}

fn handle(shared: &Shared, account: &str, call: &StripeCall) -> (u16, Value) {
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    let store = |object: Value| {
        let id = object["id"].as_str().unwrap().to_owned();
        shared
            .objects
            .lock()
            .unwrap()
            .insert(id, (account.to_owned(), object.clone()));
        (200, object)
    };
    let find = |id: &str| match shared.objects.lock().unwrap().get(id) {
        Some((owner, object)) if owner == account => (200, object.clone()),
        _ => error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            None,
            &format!("No such object: '{id}'"),
        ),
    };
    match (call.method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "payment_intents"]) => {
            let Some(amount) = call.field("amount").and_then(|a| a.parse::<i64>().ok()) else {
                return error(
                    400,
                    "invalid_request_error",
                    Some("parameter_missing"),
                    None,
                    "Missing required param: amount.",
                );
            };
            let method = call.field("payment_method");
            let confirm = call.field("confirm") == Some("true");
            if confirm && method == Some("pm_card_chargeDeclined") {
                return error(
                    402,
                    "card_error",
                    Some("card_declined"),
                    Some("generic_decline"),
                    "Your card was declined.",
                );
            }
            let id = random_id("pi");
            store(json!({
                "id": id, "object": "payment_intent", "amount": amount,
                "currency": call.field("currency"), "customer": call.field("customer"),
                "payment_method": method, "livemode": false, "metadata": metadata(&call.form),
                "client_secret": format!("{id}_secret_{}", random_id("s")),
                "status": if confirm { "succeeded" } else if method.is_some() { "requires_confirmation" } else { "requires_payment_method" },
            }))
        }
        ("GET", ["v1", "payment_intents", id]) => find(id),
        ("POST", ["v1", "payment_intents", id, "cancel"]) => match find(id) {
            (200, mut object) => {
                object["status"] = json!("canceled");
                store(object)
            }
            other => other,
        },
        ("POST", ["v1", "refunds"]) => match find(call.field("payment_intent").unwrap_or("")) {
            (200, intent) => {
                let amount = call.field("amount").and_then(|a| a.parse::<i64>().ok());
                store(json!({
                    "id": random_id("re"), "object": "refund", "status": "succeeded",
                    "amount": amount.unwrap_or(intent["amount"].as_i64().unwrap_or(0)),
                    "payment_intent": intent["id"], "metadata": metadata(&call.form),
                }))
            }
            other => other,
        },
        ("POST", ["v1", "customers"]) => store(json!({
            "id": random_id("cus"), "object": "customer", "email": call.field("email"),
            "name": call.field("name"), "metadata": metadata(&call.form), "livemode": false,
        })),
        ("GET", ["v1", "customers", id]) => find(id),
        ("POST", ["v1", "setup_intents"]) => {
            let id = random_id("seti");
            store(json!({
                "id": id, "object": "setup_intent", "status": "requires_payment_method",
                "customer": call.field("customer"), "usage": call.field("usage"),
                "client_secret": format!("{id}_secret_{}", random_id("s")),
                "metadata": metadata(&call.form),
            }))
        }
        _ => error(
            404,
            "invalid_request_error",
            None,
            None,
            &format!("Unrecognized request URL ({} {}).", call.method, call.path),
        ),
    }
}
