//! The database side of webhooks: which endpoints want an event, the attempt log, and the
//! health of an endpoint (`failing_since`, disabling after sustained failure). Every function
//! takes the caller's tenant transaction; the tenant comes from it, never from an argument.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AttemptOutcome, ENDPOINT_DISABLED_EVENT, WebhookEvent};
use crate::error::Result;
use crate::events::{self, NewEvent};
use crate::tenancy::TenantTx;

/// What a delivery needs of an endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

pub const SELECT_ENDPOINT: &str = "SELECT id, url, event_types, enabled, secret, previous_secret,
        previous_secret_expires_at FROM webhook_endpoints";

impl Endpoint {
    /// The secrets a delivery is signed with: the current one, and the previous one until
    /// it expires.
    pub fn live_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(expires)) =
            (&self.previous_secret, self.previous_secret_expires_at)
            && expires > now
        {
            secrets.push(previous);
        }
        secrets
    }

    pub fn wants(&self, event_type: &str) -> bool {
        filters_match(&self.event_types, event_type)
    }
}

/// An empty filter list takes everything; otherwise any pattern of
/// [`events::types`](crate::events::types) that selects the type.
pub fn filters_match(filters: &[String], event_type: &str) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|filter| events::types::selects(filter, event_type))
}

/// The tenant's enabled endpoints whose filters take `event_type`.
pub async fn endpoints_for(tx: &mut TenantTx, event_type: &str) -> Result<Vec<Endpoint>> {
    let endpoints: Vec<Endpoint> = sqlx::query_as(&format!(
        "{SELECT_ENDPOINT} WHERE tenant_id = $1 AND enabled ORDER BY id"
    ))
    .bind(tx.tenant_id())
    .fetch_all(tx.conn())
    .await?;
    Ok(endpoints
        .into_iter()
        .filter(|endpoint| endpoint.wants(event_type))
        .collect())
}

/// Each enabled endpoint of the tenant with its filters (the dispatcher's fan-out).
pub async fn enabled_filters(tx: &mut TenantTx) -> Result<Vec<(Uuid, Vec<String>)>> {
    Ok(sqlx::query_as(
        "SELECT id, event_types FROM webhook_endpoints WHERE tenant_id = $1 AND enabled ORDER BY id",
    )
    .bind(tx.tenant_id())
    .fetch_all(tx.conn())
    .await?)
}

/// One endpoint of the tenant, enabled or not.
pub async fn load_endpoint(tx: &mut TenantTx, id: Uuid) -> Result<Option<Endpoint>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT_ENDPOINT} WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Writes one attempt into the endpoint's delivery log and keeps `failing_since`: set at the
/// first failure of a run, cleared by a success. Returns the attempt's id.
pub async fn record_attempt(
    tx: &mut TenantTx,
    endpoint_id: Uuid,
    event: &WebhookEvent,
    attempt: i32,
    outcome: &AttemptOutcome,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO webhook_attempts (tenant_id, id, endpoint_id, event_id, event_type, attempt,
             status_code, duration_ms, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(endpoint_id)
    .bind(event.id)
    .bind(&event.event_type)
    .bind(attempt)
    .bind(outcome.status_code.map(i32::from))
    .bind(i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX))
    .bind(&outcome.error)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE webhook_endpoints
         SET failing_since = CASE WHEN $3 THEN NULL ELSE coalesce(failing_since, now()) END
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant_id())
    .bind(endpoint_id)
    .bind(outcome.success)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Disables the endpoint once `event` has run out its retry window (`window`) without the
/// endpoint answering any delivery successfully since the event's first attempt, and emits
/// `webhook.endpoint_disabled` into the outbox (in this transaction) so that the tenant hears
/// of it. Returns whether it disabled the endpoint.
pub async fn disable_if_failing(
    tx: &mut TenantTx,
    endpoint_id: Uuid,
    event_id: Uuid,
    window: Duration,
) -> Result<bool> {
    let reason = match window.as_secs() {
        secs if secs >= 3600 => format!("every delivery failed for {} hours", secs / 3600),
        secs => format!("every delivery failed for {secs} seconds"),
    };
    let disabled: Option<(String, DateTime<Utc>, i64, DateTime<Utc>)> = sqlx::query_as(
        "UPDATE webhook_endpoints
         SET enabled = false, disabled_reason = $4, version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND enabled
           AND failing_since <= (SELECT min(attempted_at) FROM webhook_attempts
                                 WHERE tenant_id = $1 AND endpoint_id = $2 AND event_id = $3)
         RETURNING url, failing_since, version, updated_at",
    )
    .bind(tx.tenant_id())
    .bind(endpoint_id)
    .bind(event_id)
    .bind(&reason)
    .fetch_optional(tx.conn())
    .await?;
    let Some((url, failing_since, version, disabled_at)) = disabled else {
        return Ok(false);
    };
    // `webhook_id` is the ordering key (the type's kind is `webhook`); docs/EVENTS.md.
    let payload = serde_json::json!({
        "webhook_id": endpoint_id,
        "endpoint_id": endpoint_id,
        "version": version,
        "disabled_at": disabled_at,
        "url": url,
        "failing_since": failing_since,
        "reason": reason,
    });
    let event = NewEvent {
        event_type: ENDPOINT_DISABLED_EVENT,
        payload,
        source: "host",
        request_id: None,
        target: None,
    };
    events::append(tx, event).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_take_exact_types_and_prefixes() {
        assert!(filters_match(&[], "anything.at_all"));
        let job = filters(&["job.*", "customer.created"]);
        assert!(filters_match(&job, "job.created"));
        assert!(filters_match(&job, "job.status.changed"));
        assert!(filters_match(&job, "customer.created"));
        assert!(!filters_match(&job, "customer.updated"));
        assert!(!filters_match(&job, "jobs.created"));
        assert!(!filters_match(&job, "job"));
    }
}
