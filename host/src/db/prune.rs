//! Pruning what only grows: idempotency keys past their 24 hours, expired refresh tokens,
//! delivered outbox rows past their retention, and a tenant's rows in the collections of a
//! module it stopped using, past theirs (`storage::collections::retention`).
//!
//! One pass at a time across every host: a pass holds the session advisory lock
//! [`PRUNE_LOCK`] on a connection of its own and skips the round when another host holds it
//! (`pg_try_advisory_lock`). It goes tenant by tenant, each delete in its own short transaction
//! of at most [`BATCH`] rows, with `app.tenant_id` set: the tables are FORCEd, so the login
//! role (their owner) sees one tenant's rows at a time, and each statement names one tenant as
//! Citus needs. Serving runs a pass on an interval (`serve --prune-interval-secs`);
//! `verofield prune` runs one now. The scheduler also prunes each tenant daily at 03:00
//! tenant time ([`prune_tenant`], task `host:prune`); the interval pass stays as a backstop.

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// The key of the session advisory lock held by the host that prunes (ASCII "vfprune").
const PRUNE_LOCK: i64 = 0x0076_6670_7275_6e65;
/// Rows per delete: short transactions, short locks.
const BATCH: i64 = 1_000;

#[derive(Debug, Clone)]
pub struct PruneSettings {
    /// How long a delivered outbox row is kept.
    pub outbox_retention: Duration,
    /// How long a tenant's rows in a module's collections outlive its use of the module.
    pub module_data_retention: Duration,
}

/// Rows deleted by one pass.
#[derive(Debug, Default, Serialize)]
pub struct Pruned {
    pub idempotency_keys: u64,
    pub refresh_tokens: u64,
    pub outbox_events: u64,
    pub module_rows: u64,
}

/// One pass over every tenant; `None` when another host is pruning.
pub async fn prune_once(pool: &PgPool, settings: &PruneSettings) -> Result<Option<Pruned>> {
    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(PRUNE_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        return Ok(None);
    }
    let outcome = prune_tenants(&mut conn, settings).await;
    // The connection is detached from the pool: closing it releases the lock whatever happened.
    let _ = conn.close().await;
    outcome.map(Some)
}

async fn prune_tenants(conn: &mut PgConnection, settings: &PruneSettings) -> Result<Pruned> {
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let mut pruned = Pruned::default();
    for tenant in tenants {
        pruned.add(prune_one(conn, tenant, settings).await?);
    }
    Ok(pruned)
}

/// One tenant's pass, as the scheduler's daily `host:prune` task runs it. Without the lock:
/// the scheduler runs a tenant's task on one host, and a pass racing `prune_once` deletes
/// nothing twice.
pub async fn prune_tenant(pool: &PgPool, tenant: Uuid, settings: &PruneSettings) -> Result<Pruned> {
    let mut conn = pool.acquire().await?;
    prune_one(&mut conn, tenant, settings).await
}

async fn prune_one(
    conn: &mut PgConnection,
    tenant: Uuid,
    settings: &PruneSettings,
) -> Result<Pruned> {
    let retention_secs = settings.outbox_retention.as_secs() as i64;
    let idempotency = format!(
        "DELETE FROM idempotency_keys WHERE (tenant_id, user_id, key) IN (
             SELECT tenant_id, user_id, key FROM idempotency_keys
             WHERE tenant_id = $1 AND created_at < now() - interval '{}'
             LIMIT $2)",
        crate::http::idempotency::RETENTION
    );
    // An expired token is spent whether it was rotated, revoked or never used: it can no
    // longer be exchanged, and its family's replay detection only matters while it could be.
    let refresh = "DELETE FROM refresh_tokens WHERE (tenant_id, id) IN (
             SELECT tenant_id, id FROM refresh_tokens
             WHERE tenant_id = $1 AND expires_at < now()
             LIMIT $2)";
    let outbox = "DELETE FROM event_outbox WHERE (tenant_id, id) IN (
             SELECT tenant_id, id FROM event_outbox
             WHERE tenant_id = $1 AND delivered_at < now() - make_interval(secs => $3)
             LIMIT $2)";
    Ok(Pruned {
        idempotency_keys: delete_in_batches(conn, tenant, &idempotency, None).await?,
        refresh_tokens: delete_in_batches(conn, tenant, refresh, None).await?,
        outbox_events: delete_in_batches(conn, tenant, outbox, Some(retention_secs)).await?,
        module_rows: crate::storage::collections::retention::prune_departed(
            conn,
            tenant,
            settings.module_data_retention,
        )
        .await?,
    })
}

impl Pruned {
    fn add(&mut self, other: Pruned) {
        self.idempotency_keys += other.idempotency_keys;
        self.refresh_tokens += other.refresh_tokens;
        self.outbox_events += other.outbox_events;
        self.module_rows += other.module_rows;
    }
}

/// Runs `statement` (tenant `$1`, batch size `$2`, optional `$3`) in one-batch transactions
/// scoped to `tenant` until a batch comes back short.
async fn delete_in_batches(
    conn: &mut PgConnection,
    tenant: Uuid,
    statement: &str,
    extra: Option<i64>,
) -> Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = conn.begin().await?;
        // A parsed Uuid: nothing in it can close the quote.
        tx.execute(
            format!("SET LOCAL app.tenant_id = '{tenant}'; SET LOCAL statement_timeout = 30000")
                .as_str(),
        )
        .await?;
        let mut query = sqlx::query(statement).bind(tenant).bind(BATCH);
        if let Some(extra) = extra {
            query = query.bind(extra as f64);
        }
        let deleted = query
            .execute(&mut *tx)
            .await
            .with_context(|| format!("pruning for tenant {tenant}"))?
            .rows_affected();
        tx.commit().await?;
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Runs a pass every `interval` for as long as the server serves. A failed pass is logged
/// and retried at the next tick.
pub fn spawn(
    pool: PgPool,
    settings: PruneSettings,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match prune_once(&pool, &settings).await {
                Ok(Some(pruned)) => tracing::info!(?pruned, "pruned"),
                Ok(None) => tracing::debug!("another host is pruning"),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "pruning failed"),
            }
        }
    })
}
