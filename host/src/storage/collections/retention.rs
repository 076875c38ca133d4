//! What happens to a tenant's rows in a module's collections when the tenant stops using the
//! module. Nothing at once: switching a slot away records the departure
//! (`module_departures`, one row per tenant and module, the first departure kept), switching
//! back erases it. The rows stay readable through the export ([`export`], JSON lines) for the
//! retention period (`serve --module-data-retention-days`, 30), then the pruning job deletes
//! them ([`prune_departed`]) in short batches, each of which checks again that the departure
//! still stands and is old enough, so a tenant that came back meanwhile keeps its rows.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::schema::{LIKE_PATTERN, schema_name};
use crate::tenancy::TenantTx;

/// Rows per statement, when deleting and when exporting.
const BATCH: i64 = 500;

/// Records, in the tenant's transaction, that a slot moved from the module `leaving` (if any)
/// to `arriving`.
pub async fn record_switch(
    tx: &mut TenantTx,
    leaving: Option<&str>,
    arriving: &str,
) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    if let Some(leaving) = leaving.filter(|leaving| *leaving != arriving) {
        sqlx::query(
            "INSERT INTO module_departures (tenant_id, module) VALUES ($1, $2)
             ON CONFLICT (tenant_id, module) DO NOTHING",
        )
        .bind(tenant)
        .bind(leaving)
        .execute(tx.conn())
        .await?;
    }
    sqlx::query("DELETE FROM module_departures WHERE tenant_id = $1 AND module = $2")
        .bind(tenant)
        .bind(arriving)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes one tenant's rows of every module it left more than `retention` ago, then the
/// departure itself. Runs as the login role, one short transaction per batch with the
/// tenant's `app.tenant_id` (the collections are FORCEd). Returns the rows deleted.
pub async fn prune_departed(
    conn: &mut PgConnection,
    tenant: Uuid,
    retention: Duration,
) -> anyhow::Result<u64> {
    let retention_secs = retention.as_secs() as f64;
    let mut tx = conn.begin().await?;
    scope(&mut tx, tenant).await?;
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT module FROM module_departures
         WHERE tenant_id = $1 AND left_at < now() - make_interval(secs => $2)",
    )
    .bind(tenant)
    .bind(retention_secs)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut deleted = 0;
    for module in due {
        let schema = schema_name(&module);
        for table in tables_of(conn, &schema).await? {
            deleted += delete_rows(conn, tenant, &module, &table, retention_secs).await?;
        }
        let mut tx = conn.begin().await?;
        scope(&mut tx, tenant).await?;
        sqlx::query(
            "DELETE FROM module_departures
             WHERE tenant_id = $1 AND module = $2 AND left_at < now() - make_interval(secs => $3)",
        )
        .bind(tenant)
        .bind(&module)
        .bind(retention_secs)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(deleted)
}

async fn scope(conn: &mut PgConnection, tenant: Uuid) -> sqlx::Result<()> {
    // A parsed Uuid: nothing in it can close the quote.
    conn.execute(
        format!("SET LOCAL app.tenant_id = '{tenant}'; SET LOCAL statement_timeout = 30000")
            .as_str(),
    )
    .await?;
    Ok(())
}

/// The tables of a module's schema, schema-qualified and quoted (names from pg_catalog).
/// The tables of a module's collections schema, as quoted `schema.table` names.
pub async fn tables_of(conn: &mut PgConnection, schema: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND n.nspname LIKE $2 AND c.relkind = 'r'
         ORDER BY c.relname",
    )
    .bind(schema)
    .bind(LIKE_PATTERN)
    .fetch_all(conn)
    .await
}

async fn delete_rows(
    conn: &mut PgConnection,
    tenant: Uuid,
    module: &str,
    table: &str,
    retention_secs: f64,
) -> anyhow::Result<u64> {
    let statement = format!(
        "DELETE FROM {table} WHERE (tenant_id, id) IN (
             SELECT tenant_id, id FROM {table} WHERE tenant_id = $1 LIMIT $2)
           AND EXISTS (SELECT 1 FROM module_departures d
                       WHERE d.tenant_id = $1 AND d.module = $3
                         AND d.left_at < now() - make_interval(secs => $4))"
    );
    let mut total = 0;
    loop {
        let mut tx = conn.begin().await?;
        scope(&mut tx, tenant).await?;
        let deleted = sqlx::query(&statement)
            .bind(tenant)
            .bind(BATCH)
            .bind(module)
            .bind(retention_secs)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Streams the tenant's rows of `collections` (a module's tables, by bare name) as JSON
/// lines, `{"collection", "id", "version", "values"}`, a page at a time by id, in the
/// request's transaction, which the stream owns and ends.
pub fn export(mut tx: TenantTx, schema: String, collections: Vec<String>) -> JsonLines {
    let (sender, receiver) = mpsc::channel(2);
    tokio::spawn(async move {
        let tenant = tx.tenant_id();
        for collection in collections {
            let table = format!(
                "\"{}\".\"{}\"",
                schema.replace('"', "\"\""),
                collection.replace('"', "\"\"")
            );
            let statement = format!(
                "SELECT t.id, t.version, to_jsonb(t.*) - 'tenant_id' - 'id' - 'version' AS values
                 FROM {table} t WHERE t.tenant_id = $1 AND t.id > $2 ORDER BY t.id LIMIT $3"
            );
            let mut after = Uuid::nil();
            loop {
                let rows: Result<Vec<(Uuid, i64, Value)>, _> = sqlx::query_as(&statement)
                    .bind(tenant)
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(tx.conn())
                    .await;
                let rows = match rows {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::warn!(%error, "exporting module data failed");
                        let _ = sender
                            .send(Err(std::io::Error::other("export failed")))
                            .await;
                        return;
                    }
                };
                let mut chunk = Vec::new();
                for (id, version, values) in &rows {
                    let line = json!({"collection": collection, "id": id, "version": version, "values": values});
                    chunk.extend_from_slice(line.to_string().as_bytes());
                    chunk.push(b'\n');
                }
                if !chunk.is_empty() && sender.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return; // the client left
                }
                match rows.last() {
                    Some((id, ..)) if rows.len() as i64 == BATCH => after = *id,
                    _ => break,
                }
            }
        }
        let _ = tx.rollback().await;
    });
    JsonLines(receiver)
}

/// A response body fed by an export task, chunk by chunk (this module's JSON lines, and the
/// CSV exports of `imports::export`).
pub struct JsonLines(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl JsonLines {
    /// A body that sends what the task feeds into `receiver`, ending when the task drops it.
    pub fn fed_by(receiver: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Self {
        Self(receiver)
    }
}

impl http_body::Body for JsonLines {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}
