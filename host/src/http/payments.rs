//! Payments over HTTP:
//! - `GET/PUT /v1/tenant/payments` `{"stripe_account": "acct_..."}`: the tenant's connected
//!   Stripe account (`settings.manage`). One per tenant; an account another tenant holds is
//!   409 `stripe_account_taken`.
//! - `POST /v1/webhooks/stripe`: Stripe's deliveries, no login: the `Stripe-Signature` is the
//!   credential. 400 `stripe_signature_invalid` / `stripe_signature_stale` when it fails;
//!   otherwise 200, whether the event was applied, a duplicate, for an unknown account or of
//!   an ignored type (Stripe would retry anything else for days).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::extract::{Json, Tenant};
use crate::auth::rbac::perm;
use crate::error::{Error, Result, Validator, is_unique_violation};
use crate::payments::accounts;
use crate::payments::signature::{self, SignatureError};
use crate::payments::webhook::{self, Outcome, StripeEvent};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant/payments", get(show).put(set))
        .route("/v1/webhooks/stripe", post(receive))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PaymentSettings {
    stripe_account: Option<String>,
}

async fn show(mut ctx: Tenant) -> Result<impl IntoResponse> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    let stripe_account = accounts::get(&mut ctx.tx).await?;
    Ok(Json(PaymentSettings { stripe_account }))
}

async fn set(mut ctx: Tenant, Json(body): Json<PaymentSettings>) -> Result<impl IntoResponse> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    let account = body.stripe_account.unwrap_or_default();
    let mut errors = Validator::new();
    errors.check(
        accounts::is_account_id(&account),
        "stripe_account",
        "a Stripe account id: `acct_` and letters or digits",
    );
    errors.finish()?;
    match accounts::set(&mut ctx.tx, &account).await {
        Err(error) if is_unique_violation(&error, Some("stripe_accounts_pkey")) => {
            return Err(Error::conflict(
                "stripe_account_taken",
                "this Stripe account is connected to another tenant",
            ));
        }
        outcome => outcome?,
    }
    let tenant_id = ctx.tx.tenant_id();
    ctx.audit(
        "payments.account_set",
        "tenant",
        tenant_id,
        json!({"stripe_account": account}),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(PaymentSettings {
        stripe_account: Some(account),
    }))
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse> {
    let header = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let secrets = &state.stripe.settings().webhook_secrets;
    let now = chrono::Utc::now().timestamp();
    signature::verify(header, &body, secrets, now).map_err(|error| match error {
        SignatureError::Stale(_) => Error::bad_request("stripe_signature_stale", error.to_string()),
        _ => Error::bad_request("stripe_signature_invalid", error.to_string()),
    })?;
    let event: StripeEvent = serde_json::from_slice(&body).map_err(|error| {
        Error::bad_request(
            "stripe_event_invalid",
            format!("not a Stripe event: {error}"),
        )
    })?;
    let stripe_event = event.id.clone();
    let outcome = webhook::receive(&state.pool, state.limits.statement_timeout, event).await?;
    let applied = match outcome {
        Outcome::Applied {
            tenant_id,
            event_id,
        } => {
            tracing::info!(%stripe_event, %tenant_id, %event_id, "Stripe event applied");
            "applied"
        }
        Outcome::Duplicate => "duplicate",
        Outcome::UnknownAccount => "unknown_account",
        Outcome::Ignored => "ignored",
    };
    Ok((
        StatusCode::OK,
        Json(Receipt {
            received: true,
            outcome: applied,
        }),
    ))
}

/// What Stripe is told of a delivery: received, and what came of it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = StripeReceipt)]
pub(super) struct Receipt {
    received: bool,
    /// `applied`, `duplicate`, `unknown_account` or `ignored`.
    outcome: &'static str,
}
