//! Writing the outbox: the one way an event enters it, from a module (`events.emit`), the
//! host itself (a webhook endpoint disabled) or the scheduler (a tick for one module).
//!
//! An event is inserted in the writer's own tenant transaction, so it commits exactly when the
//! data it describes commits, and a rolled-back transaction leaves none. A `NOTIFY` sent in
//! the same transaction wakes the dispatchers at commit. It is sent by the host, not by a
//! trigger: on Citus a trigger fires on the worker holding the shard, where no host listens.

use serde_json::Value;
use uuid::Uuid;

use crate::runtime::EventError;
use crate::runtime::EventSink;
use crate::runtime::capabilities::store::{BoxFuture, JsonObject};
use crate::storage::SharedTx;
use crate::tenancy::TenantTx;

/// An event to append.
pub struct NewEvent<'a> {
    pub event_type: &'a str,
    pub payload: Value,
    /// The module's name, or `host`.
    pub source: &'a str,
    pub request_id: Option<&'a str>,
    /// One subscriber only (`module:<slot>`), instead of every subscriber of the type.
    pub target: Option<&'a str>,
}

/// Appends an event in the transaction's tenant; returns its id.
pub async fn append(tx: &mut TenantTx, event: NewEvent<'_>) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO event_outbox
             (tenant_id, id, event_type, payload, source, request_id, aggregate, target)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(event.event_type)
    .bind(&event.payload)
    .bind(event.source)
    .bind(event.request_id)
    .bind(aggregate(event.event_type, &event.payload))
    .bind(event.target)
    .execute(tx.conn())
    .await?;
    wake_dispatchers(tx).await?;
    Ok(id)
}

/// The channel the dispatchers `LISTEN` on; the payload is the tenant's id.
pub const CHANNEL: &str = "verofield_outbox";

/// Wakes every host's dispatchers when the transaction commits (PostgreSQL folds the same
/// notification sent twice in one transaction into one); nothing if it rolls back.
pub async fn wake_dispatchers(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2::text)")
        .bind(CHANNEL)
        .bind(tx.tenant_id())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The aggregate an event is about, which orders its deliveries: the type's first segment
/// and the payload's `<segment>_id` (`job.completed` with `job_id` is `job:<id>`), else its
/// `id`. None when the payload names neither: such events are delivered in no set order.
pub fn aggregate(event_type: &str, payload: &Value) -> Option<String> {
    let kind = event_type
        .split('.')
        .next()
        .filter(|kind| !kind.is_empty())?;
    let id = payload
        .get(format!("{kind}_id"))
        .or_else(|| payload.get("id"))?
        .as_str()?;
    Some(format!("{kind}:{id}"))
}

/// A module's `events.emit`, bound to the request's transaction.
pub struct OutboxSink {
    tx: SharedTx,
    source: String,
    request_id: String,
}

impl OutboxSink {
    pub fn new(tx: SharedTx, source: String, request_id: String) -> Self {
        Self {
            tx,
            source,
            request_id,
        }
    }
}

impl EventSink for OutboxSink {
    fn emit<'a>(
        &'a mut self,
        event_type: &'a str,
        payload: JsonObject,
    ) -> BoxFuture<'a, Result<(), EventError>> {
        Box::pin(async move {
            let mut guard = self.tx.lock().await;
            let tx = guard.as_mut().ok_or_else(|| {
                EventError::Unavailable("the request's transaction has ended".into())
            })?;
            let event = NewEvent {
                event_type,
                payload: Value::Object(payload),
                source: &self.source,
                request_id: Some(&self.request_id),
                target: None,
            };
            append(tx, event).await.map(|_| ()).map_err(|error| {
                tracing::warn!(%error, "writing an outbox event failed");
                EventError::Unavailable("the outbox did not accept the event".into())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_aggregate_comes_from_the_type_and_the_payload() {
        assert_eq!(
            aggregate("job.completed", &json!({"job_id": "j1", "id": "x"})),
            Some("job:j1".into())
        );
        assert_eq!(
            aggregate("customer.created", &json!({"id": "c1"})),
            Some("customer:c1".into())
        );
        assert_eq!(aggregate("job.completed", &json!({"job_id": 7})), None);
        assert_eq!(aggregate("tick", &json!({})), None);
    }
}
