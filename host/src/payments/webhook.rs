//! Stripe's webhook deliveries, after the signature is verified (`signature`): deduplicated by
//! Stripe's event id, routed by the event's `account` to the tenant that connected it, and
//! appended to that tenant's outbox as `stripe.<type>` in ONE transaction with the
//! deduplication row, so an event is applied exactly once however often Stripe redelivers.
//!
//! Only [`FORWARDED`] types are kept; others are acknowledged and dropped. An event for an
//! account no tenant holds (or a platform event without `account`) is acknowledged, logged,
//! and not recorded, so that a redelivery after the account is connected still applies.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::accounts;
use crate::events::{self, NewEvent};
use crate::tenancy::{TenantScope, TenantTx};

/// Stripe event types appended to the outbox (as `stripe.<type>`).
pub const FORWARDED: [&str; 5] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "setup_intent.succeeded",
];

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Appended to the tenant's outbox as this event id.
    Applied { tenant_id: Uuid, event_id: Uuid },
    /// The Stripe event id was applied before.
    Duplicate,
    /// No tenant holds the account.
    UnknownAccount,
    /// A type the platform does not forward.
    Ignored,
}

/// The fields of Stripe's event object the host reads; `data.object` is passed on as is.
#[derive(Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub account: Option<String>,
    pub created: i64,
    pub data: EventData,
}

#[derive(Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// Applies one verified event.
pub async fn receive(
    pool: &PgPool,
    statement_timeout: Duration,
    event: StripeEvent,
) -> Result<Outcome, sqlx::Error> {
    if !FORWARDED.contains(&event.event_type.as_str()) {
        return Ok(Outcome::Ignored);
    }
    let mut tx = pool.begin().await?;
    let tenant = match &event.account {
        Some(account) => accounts::tenant_of(&mut tx, account).await?,
        None => None,
    };
    let Some(tenant_id) = tenant else {
        tracing::warn!(
            stripe_event = %event.id,
            account = event.account.as_deref().unwrap_or("<none>"),
            "a Stripe event for an account no tenant holds was acknowledged and not applied"
        );
        return Ok(Outcome::UnknownAccount);
    };
    let first = sqlx::query(
        "INSERT INTO payments.stripe_events (id, event_type, tenant_id) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.event_type)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        return Ok(Outcome::Duplicate);
    }
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    let mut tx = TenantTx::enter(tx, scope, statement_timeout).await?;
    let event_type = format!("stripe.{}", event.event_type);
    let event_id = events::append(
        &mut tx,
        NewEvent {
            event_type: &event_type,
            payload: json!({
                "stripe_event_id": event.id,
                "type": event.event_type,
                "account": event.account,
                "created": event.created,
                "object": event.data.object,
            }),
            source: "host",
            request_id: None,
            target: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::Applied {
        tenant_id,
        event_id,
    })
}
