//! Webhooks for tenants: endpoints (a URL, event filters, a signing secret), Standard
//! Webhooks signing ([`signing`]), one delivery attempt ([`deliver_once`], no database) and
//! the bookkeeping around it ([`store`]: which endpoints want an event, the attempt log,
//! `failing_since` and automatic disabling). The retry loop belongs to the dispatcher, which
//! calls these; the HTTP API is `http::webhooks`.
//!
//! What a receiver gets, `POST <url>` with `content-type: application/json`:
//!
//! ```text
//! webhook-id: <event id, the same on every retry: deduplicate on it>
//! webhook-timestamp: <unix seconds of this attempt>
//! webhook-signature: v1,<base64 HMAC-SHA256> [v1,<...> during a secret rotation]
//!
//! {"id": "<event id>", "type": "job.completed", "timestamp": "<RFC 3339, when it happened>",
//!  "data": { ...the event's payload... }}
//! ```

pub mod signing;
pub mod store;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::outbound::{Outbound, OutboundError};

pub use store::{Endpoint, disable_if_failing, endpoints_for, record_attempt};

/// The event type of the ping `POST /v1/webhooks/endpoints/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";
/// The event the host emits when it disables a failing endpoint.
pub const ENDPOINT_DISABLED_EVENT: &str = "webhook.endpoint_disabled";

/// An event as webhooks carry it (an `event_outbox` row, less its bookkeeping).
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl WebhookEvent {
    /// The JSON body receivers get (the module documentation shows its shape).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": self.id,
            "type": self.event_type,
            "timestamp": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.payload,
        }))
        .expect("a JSON value serialises")
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptOutcome {
    /// The receiver answered 2xx.
    pub success: bool,
    /// None when no answer came (refused destination, timeout, connection failure).
    pub status_code: Option<u16>,
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    #[schema(value_type = u64)]
    pub duration: Duration,
    pub error: Option<String>,
    /// How much of the answer's body was read (at most the outbound client's limit).
    pub response_bytes: usize,
    /// The answer's body was longer than the limit and was cut.
    pub response_truncated: bool,
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}

/// Signs `event` for `endpoint` and POSTs it once through the hardened client. No database
/// access: the caller records the outcome ([`record_attempt`]) in its own transaction.
pub async fn deliver_once(
    client: &Outbound,
    endpoint: &Endpoint,
    event: &WebhookEvent,
) -> AttemptOutcome {
    let body = event.body();
    let id = event.id.to_string();
    let timestamp = Utc::now().timestamp();
    let secrets = endpoint.live_secrets(Utc::now());
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            signing::signature_header(&secrets, &id, timestamp, &body),
        ),
    ];
    let started = Instant::now();
    let result = client.post(&endpoint.url, &headers, body).await;
    let duration = started.elapsed();
    match result {
        Ok(response) => {
            let success = (200..300).contains(&response.status);
            AttemptOutcome {
                success,
                status_code: Some(response.status),
                duration,
                error: (!success).then(|| format!("the receiver answered {}", response.status)),
                response_bytes: response.body.len(),
                response_truncated: response.truncated,
            }
        }
        Err(error) => AttemptOutcome {
            success: false,
            status_code: None,
            duration,
            error: Some(describe(&error)),
            response_bytes: 0,
            response_truncated: false,
        },
    }
}

fn describe(error: &OutboundError) -> String {
    let text = error.to_string();
    // The log is for people; a transport error's chain can be long.
    text.chars().take(500).collect()
}
