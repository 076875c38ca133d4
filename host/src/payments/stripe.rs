//! The Stripe API client: form-encoded requests (nested keys such as `metadata[invoice_id]`),
//! the platform's secret key as bearer, `Stripe-Account` for the tenant's connected account
//! (Connect direct charges), the API version pinned in `Stripe-Version`, and an
//! `Idempotency-Key` on every POST. 429, 409 (Stripe's "another request with this key is in
//! flight") and 5xx answers and transport failures are retried with exponential backoff and
//! the SAME key, so a retry is Stripe's replay of the first attempt, never a second charge.
//!
//! Every request leaves through [`Outbound`] (address rules, pinned DNS, timeouts). The key is
//! never logged or returned: errors carry Stripe's message or a fixed text.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::outbound::{Outbound, OutboundError};

/// The API version every request pins, so that Stripe's object shapes cannot change under us.
pub const API_VERSION: &str = "2024-06-20";

/// How the host reaches Stripe (`serve --stripe-*`).
#[derive(Clone, Default)]
pub struct StripeSettings {
    /// `sk_live_...` / `sk_test_...`; none: every payment call answers `not-configured`.
    pub secret_key: Option<String>,
    /// Signing secrets of the platform's webhook endpoint(s), `whsec_...`.
    pub webhook_secrets: Vec<String>,
    /// `https://api.stripe.com` unless a test points it at its own server.
    pub api_base: String,
    /// Attempts after the first, for 429, 409, 5xx and transport failures.
    pub retries: u32,
    /// The first backoff; each retry doubles it.
    pub retry_base: Duration,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("api_base", &self.api_base)
            .field("retries", &self.retries)
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

/// One request to Stripe, before the account and the key prefix are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    pub method: Method,
    /// `/v1/payment_intents`, ...
    pub path: String,
    /// The module's own key (POST only); sent as `vf-<tenant id>-<key>`.
    pub idempotency_key: Option<String>,
    /// Form fields with Stripe's bracketed keys, in order.
    pub form: Vec<(String, String)>,
}

/// What went wrong, in the terms the `payments` capability answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    #[error("not configured: {0}")]
    NotConfigured(String),
    #[error("declined: {code} ({decline_code:?}): {message}")]
    Declined {
        code: String,
        decline_code: Option<String>,
        message: String,
    },
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("rate limited")]
    RateLimited,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The client; cheap to clone. The default has no key (every call: `not-configured`).
#[derive(Clone, Default)]
pub struct Stripe {
    outbound: Outbound,
    settings: std::sync::Arc<StripeSettings>,
}

impl Stripe {
    pub fn new(outbound: Outbound, settings: StripeSettings) -> Self {
        Self {
            outbound,
            settings: std::sync::Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &StripeSettings {
        &self.settings
    }

    /// Sends `request` on `account` (`acct_...`) for `tenant`, retrying what may be retried.
    pub async fn send(
        &self,
        tenant: uuid::Uuid,
        account: &str,
        request: &StripeRequest,
    ) -> Result<Value, StripeError> {
        let Some(key) = &self.settings.secret_key else {
            return Err(StripeError::NotConfigured(
                "the platform has no Stripe API key".into(),
            ));
        };
        let mut headers = vec![
            ("authorization", format!("Bearer {key}")),
            ("stripe-version", API_VERSION.to_owned()),
            ("stripe-account", account.to_owned()),
        ];
        if let Some(idempotency_key) = &request.idempotency_key {
            headers.push(("idempotency-key", format!("vf-{tenant}-{idempotency_key}")));
        }
        let form = serde_urlencoded::to_string(&request.form)
            .map_err(|error| StripeError::Invalid(error.to_string()))?;
        let (url, body) = if request.method == Method::GET {
            let query = if form.is_empty() {
                String::new()
            } else {
                format!("?{form}")
            };
            (
                format!("{}{}{query}", self.base(), request.path),
                Vec::new(),
            )
        } else {
            headers.push(("content-type", "application/x-www-form-urlencoded".into()));
            (
                format!("{}{}", self.base(), request.path),
                form.into_bytes(),
            )
        };
        let mut attempt = 0;
        loop {
            let answer = self
                .outbound
                .send(request.method.clone(), &url, &headers, body.clone())
                .await;
            let last = attempt >= self.settings.retries;
            match answer {
                Ok(response) if (200..300).contains(&response.status) => {
                    return serde_json::from_slice(&response.body).map_err(|_| {
                        StripeError::Unavailable("Stripe answered something other than JSON".into())
                    });
                }
                Ok(response) if retryable(response.status) && !last => {}
                Ok(response) => return Err(refusal(response.status, &response.body)),
                Err(OutboundError::InvalidUrl(why) | OutboundError::Refused(why)) => {
                    tracing::error!(%why, "the Stripe API base URL is not reachable by policy");
                    return Err(StripeError::Unavailable("Stripe is not reachable".into()));
                }
                Err(error) if last => {
                    tracing::warn!(%error, path = %request.path, "Stripe request failed");
                    return Err(StripeError::Unavailable("Stripe did not answer".into()));
                }
                Err(_) => {}
            }
            tokio::time::sleep(self.settings.retry_base * 2u32.saturating_pow(attempt)).await;
            attempt += 1;
        }
    }

    fn base(&self) -> &str {
        self.settings.api_base.trim_end_matches('/')
    }
}

/// Worth sending again with the same key: rate limits, a concurrent request holding the key
/// (409), and Stripe's own failures.
fn retryable(status: u16) -> bool {
    status == 429 || status == 409 || status >= 500
}

/// A final non-2xx answer as a typed error (Stripe's body: `{"error": {"type", "code",
/// "decline_code", "message"}}`).
fn refusal(status: u16, body: &[u8]) -> StripeError {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| body.get("error").cloned())
        .unwrap_or(Value::Null);
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
    let message = text("message").unwrap_or_else(|| format!("Stripe answered {status}"));
    match (status, text("type").as_deref()) {
        (_, Some("card_error")) | (402, _) => StripeError::Declined {
            code: text("code").unwrap_or_else(|| "card_declined".into()),
            decline_code: text("decline_code"),
            message,
        },
        (429, _) => StripeError::RateLimited,
        (401, _) => {
            tracing::error!("Stripe refused the platform's API key (401)");
            StripeError::NotConfigured("Stripe refused the platform's credentials".into())
        }
        (403, _) => StripeError::NotConfigured(
            "the platform may not act on this tenant's Stripe account".into(),
        ),
        (status, _) if status >= 500 || status == 409 => StripeError::Unavailable(message),
        _ => StripeError::Invalid(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_errors_are_declines_with_their_codes() {
        let body = br#"{"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}"#;
        assert_eq!(
            refusal(402, body),
            StripeError::Declined {
                code: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                message: "Your card has insufficient funds.".into(),
            }
        );
    }

    #[test]
    fn other_refusals_keep_their_kind() {
        let invalid = br#"{"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert!(
            matches!(refusal(400, invalid), StripeError::Invalid(m) if m.contains("same parameters"))
        );
        assert_eq!(refusal(429, b"{}"), StripeError::RateLimited);
        assert!(matches!(refusal(401, b""), StripeError::NotConfigured(_)));
        assert!(matches!(refusal(503, b"oops"), StripeError::Unavailable(m) if m.contains("503")));
        assert!(retryable(429) && retryable(409) && retryable(502) && !retryable(402));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let settings = StripeSettings {
            secret_key: Some("sk_test_secret".into()),
            ..StripeSettings::default()
        };
        assert!(!format!("{settings:?}").contains("sk_test_secret"));
    }
}
