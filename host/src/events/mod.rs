//! The event outbox. A module's `events.emit` inserts a row into `event_outbox` in the
//! request's own tenant transaction, so an event commits exactly when the data it describes
//! commits, and a failed request leaves none. Delivery to subscribers (after commit, with
//! `FOR UPDATE SKIP LOCKED` so that many hosts can share the work) comes with the first
//! subscribing module.

use uuid::Uuid;

use crate::runtime::EventError;
use crate::runtime::EventSink;
use crate::runtime::capabilities::store::{BoxFuture, JsonObject};
use crate::storage::SharedTx;

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
            let tenant_id = tx.tenant_id();
            sqlx::query(
                "INSERT INTO event_outbox (tenant_id, id, event_type, payload, source, request_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant_id)
            .bind(Uuid::now_v7())
            .bind(event_type)
            .bind(serde_json::Value::Object(payload))
            .bind(&self.source)
            .bind(&self.request_id)
            .execute(tx.conn())
            .await
            .map(|_| ())
            .map_err(|error| {
                tracing::warn!(%error, "writing an outbox event failed");
                EventError::Unavailable("the outbox did not accept the event".into())
            })
        })
    }
}
