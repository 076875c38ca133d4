//! Usage metering: per tenant, per module, per UTC hour, what module calls used (calls,
//! failures, wall time, CPU time, host calls, rows read and written, events emitted, outbound
//! requests, log bytes).
//!
//! No row is written per call: every module call (a request or an event delivery, through
//! [`crate::registry`]) adds its [`Usage`] to this host's [`Meter`] in memory, and a background
//! task flushes the meter every few seconds (`serve --usage-flush-ms`) and once more at
//! shutdown. A flush writes each tenant's figures in that tenant's own transaction
//! ([`TenantTx`], RLS like every tenant table) with an additive upsert, so several hosts may
//! write the same `(tenant, module, hour)` row. A flush that fails puts its figures back for the
//! next one. A crash loses what was gathered since the last flush: at most one interval.
//!
//! [`quota`] refuses module requests past a tenant's monthly call quota.
//! [`report`] reads the figures back for `GET /v1/tenant/usage` and the operator's view.

pub mod quota;
pub mod report;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::runtime::Usage;
use crate::storage::collections::retention::tables_of;
use crate::tenancy::{TenantScope, TenantTx};

/// What one tenant's module used in one hour, added up; also a row of the report.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema,
)]
#[schema(as = UsageCounts)]
pub struct Counts {
    pub calls: i64,
    pub failures: i64,
    pub wall_us: i64,
    /// CPU time of the calls' polls (the guest and the host's work for it), in µs.
    pub cpu_us: i64,
    pub host_calls: i64,
    pub rows_read: i64,
    pub rows_written: i64,
    pub events_emitted: i64,
    pub outbound_requests: i64,
    pub log_bytes: i64,
}

impl Counts {
    /// One call that answered, with what it used; `failed` for a 5xx answer.
    pub fn of_call(usage: &Usage, failed: bool) -> Self {
        Self {
            calls: 1,
            failures: i64::from(failed),
            wall_us: i64::try_from(usage.elapsed.as_micros()).unwrap_or(i64::MAX),
            cpu_us: i64::try_from(usage.cpu.as_micros()).unwrap_or(i64::MAX),
            host_calls: i64::from(usage.host_calls),
            rows_read: i64::from(usage.rows_returned),
            rows_written: i64::from(usage.rows_written),
            events_emitted: i64::from(usage.events_emitted),
            outbound_requests: i64::from(usage.outbound_requests),
            log_bytes: i64::try_from(usage.log_bytes).unwrap_or(i64::MAX),
        }
    }

    /// One call that trapped or broke a limit: it gave no usage back.
    pub fn of_failure() -> Self {
        Self {
            calls: 1,
            failures: 1,
            ..Self::default()
        }
    }

    fn add(&mut self, other: Counts) {
        self.calls = self.calls.saturating_add(other.calls);
        self.failures = self.failures.saturating_add(other.failures);
        self.wall_us = self.wall_us.saturating_add(other.wall_us);
        self.cpu_us = self.cpu_us.saturating_add(other.cpu_us);
        self.host_calls = self.host_calls.saturating_add(other.host_calls);
        self.rows_read = self.rows_read.saturating_add(other.rows_read);
        self.rows_written = self.rows_written.saturating_add(other.rows_written);
        self.events_emitted = self.events_emitted.saturating_add(other.events_emitted);
        self.outbound_requests = self
            .outbound_requests
            .saturating_add(other.outbound_requests);
        self.log_bytes = self.log_bytes.saturating_add(other.log_bytes);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant: Uuid,
    module: String,
    hour: DateTime<Utc>,
}

/// This host's figures not yet flushed. Recording takes a short lock and touches no database.
#[derive(Debug, Default)]
pub struct Meter {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<Key, Counts>,
    /// Figures a flush is writing, by the id of the transaction writing them. The quota check
    /// counts them until that transaction is visible in its own snapshot, so a flush in
    /// progress neither hides calls nor counts them twice.
    in_flight: HashMap<i64, Vec<(Key, Counts)>>,
}

/// A tenant's calls this host has not yet seen committed: the unflushed ones, and those of
/// each flush transaction still writing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unflushed {
    pub pending_calls: i64,
    pub in_flight: Vec<(i64, i64)>,
}

impl Meter {
    /// Adds a call of `module` for `tenant` to the current hour.
    pub fn record(&self, tenant: Uuid, module: &str, counts: Counts) {
        self.record_at(tenant, module, Utc::now(), counts);
    }

    fn record_at(&self, tenant: Uuid, module: &str, at: DateTime<Utc>, counts: Counts) {
        let hour = at
            .duration_trunc(TimeDelta::hours(1))
            .expect("an hour divides any time");
        let key = Key {
            tenant,
            module: module.to_owned(),
            hour,
        };
        self.lock().pending.entry(key).or_default().add(counts);
    }

    /// This host's calls of `tenant` in hours from `since` on that no flush has committed.
    pub fn unflushed_calls(&self, tenant: Uuid, since: DateTime<Utc>) -> Unflushed {
        let state = self.lock();
        Unflushed {
            pending_calls: calls_of(state.pending.iter(), tenant, since),
            in_flight: state
                .in_flight
                .iter()
                .map(|(xid, rows)| {
                    (
                        *xid,
                        calls_of(rows.iter().map(|(k, c)| (k, c)), tenant, since),
                    )
                })
                .filter(|(_, calls)| *calls > 0)
                .collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain counters: still good to add to.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes what is pending, one transaction per tenant. Figures of a tenant whose write
    /// failed are put back for the next flush. Returns how many rows were upserted.
    pub async fn flush(&self, pool: &PgPool, statement_timeout: Duration) -> usize {
        let mut tenants: Vec<Uuid> = self.lock().pending.keys().map(|k| k.tenant).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let mut written = 0;
        for tenant in tenants {
            match self.flush_tenant(pool, tenant, statement_timeout).await {
                Ok(rows) => written += rows,
                Err(error) => {
                    tracing::warn!(%error, %tenant, "flushing usage failed; kept for the next flush")
                }
            }
        }
        written
    }

    /// Moves the tenant's pending figures in flight under the writing transaction's id, writes
    /// them, and forgets them once committed (or puts them back if the write failed).
    async fn flush_tenant(
        &self,
        pool: &PgPool,
        tenant: Uuid,
        statement_timeout: Duration,
    ) -> Result<usize, sqlx::Error> {
        let scope = TenantScope {
            tenant_id: tenant,
            user_id: None,
        };
        let mut tx = TenantTx::begin(pool, scope, statement_timeout).await?;
        let (xid,): (i64,) = sqlx::query_as("SELECT pg_current_xact_id()::text::bigint")
            .fetch_one(tx.conn())
            .await?;
        let rows = {
            let mut state = self.lock();
            let rows: Vec<(Key, Counts)> = state
                .pending
                .extract_if(|key, _| key.tenant == tenant)
                .collect();
            state.in_flight.insert(xid, rows);
            state.in_flight[&xid].clone()
        };
        let outcome = match write_rows(&mut tx, tenant, &rows).await {
            Ok(()) => tx.commit().await,
            Err(error) => Err(error),
        };
        let rows = {
            let mut state = self.lock();
            let rows = state.in_flight.remove(&xid).unwrap_or_default();
            if let Err(error) = outcome {
                for (key, counts) in rows {
                    state.pending.entry(key).or_default().add(counts);
                }
                return Err(error);
            }
            rows
        };
        // The counts are safe; a sample that fails (a statement timeout on a huge collection)
        // leaves the last one standing and is only logged.
        let sampled = async {
            let mut tx = TenantTx::begin(pool, scope, statement_timeout).await?;
            sample_storage(&mut tx, &rows).await?;
            tx.commit().await
        };
        if let Err(error) = sampled.await {
            tracing::warn!(%error, %tenant, "sampling collection storage failed");
        }
        Ok(rows.len())
    }

    /// Flushes every `interval` until aborted.
    pub fn spawn(
        self: std::sync::Arc<Self>,
        pool: PgPool,
        interval: Duration,
        statement_timeout: Duration,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.flush(&pool, statement_timeout).await;
            }
        })
    }
}

/// The calls among `rows` of `tenant` in hours from `since` on.
fn calls_of<'a>(
    rows: impl Iterator<Item = (&'a Key, &'a Counts)>,
    tenant: Uuid,
    since: DateTime<Utc>,
) -> i64 {
    rows.filter(|(key, _)| key.tenant == tenant && key.hour >= since)
        .map(|(_, counts)| counts.calls)
        .sum()
}

/// One tenant's rows in one statement: arrays unnested, added to what other flushes wrote.
async fn write_rows(
    tx: &mut TenantTx,
    tenant: Uuid,
    rows: &[(Key, Counts)],
) -> Result<(), sqlx::Error> {
    let column = |pick: fn(&Counts) -> i64| rows.iter().map(|(_, c)| pick(c)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO module_usage
             (tenant_id, module, hour, calls, failures, wall_us, host_calls, rows_read,
              rows_written, events_emitted, outbound_requests, log_bytes, cpu_us)
         SELECT $1, * FROM UNNEST($2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[],
                                  $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                                  $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
         ON CONFLICT (tenant_id, module, hour) DO UPDATE SET
             calls = module_usage.calls + EXCLUDED.calls,
             failures = module_usage.failures + EXCLUDED.failures,
             wall_us = module_usage.wall_us + EXCLUDED.wall_us,
             host_calls = module_usage.host_calls + EXCLUDED.host_calls,
             rows_read = module_usage.rows_read + EXCLUDED.rows_read,
             rows_written = module_usage.rows_written + EXCLUDED.rows_written,
             events_emitted = module_usage.events_emitted + EXCLUDED.events_emitted,
             outbound_requests = module_usage.outbound_requests + EXCLUDED.outbound_requests,
             log_bytes = module_usage.log_bytes + EXCLUDED.log_bytes,
             cpu_us = module_usage.cpu_us + EXCLUDED.cpu_us",
    )
    .bind(tenant)
    .bind(
        rows.iter()
            .map(|(k, _)| k.module.clone())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|(k, _)| k.hour).collect::<Vec<_>>())
    .bind(column(|c| c.calls))
    .bind(column(|c| c.failures))
    .bind(column(|c| c.wall_us))
    .bind(column(|c| c.host_calls))
    .bind(column(|c| c.rows_read))
    .bind(column(|c| c.rows_written))
    .bind(column(|c| c.events_emitted))
    .bind(column(|c| c.outbound_requests))
    .bind(column(|c| c.log_bytes))
    .bind(column(|c| c.cpu_us))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Samples the bytes of the tenant's rows in the collections of each module that wrote rows
/// in this flush (only writes change them; the pruning job's deletes show at the next
/// sample) and sets them on that module's latest flushed hour. One scan of the tenant's rows
/// per such module and flush: RLS keeps it to the tenant. Runs after the counts committed,
/// in a transaction of its own.
async fn sample_storage(tx: &mut TenantTx, rows: &[(Key, Counts)]) -> Result<(), sqlx::Error> {
    let mut latest: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for (key, _) in rows.iter().filter(|(_, counts)| counts.rows_written > 0) {
        let hour = latest.entry(&key.module).or_insert(key.hour);
        *hour = (*hour).max(key.hour);
    }
    for (module, hour) in latest {
        let schema = crate::storage::collections::schema_name(module);
        let tables = tables_of(tx.conn(), &schema).await?;
        if tables.is_empty() {
            continue;
        }
        // The names come quoted from the catalog (`format('%I.%I')`), never from a request.
        let sizes: Vec<String> = tables
            .iter()
            .map(|table| format!("(SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t)"))
            .collect();
        let bytes: i64 = sqlx::query_scalar(&format!("SELECT ({})::bigint", sizes.join(" + ")))
            .fetch_one(tx.conn())
            .await?;
        sqlx::query(
            "UPDATE module_usage SET storage_bytes = $4
             WHERE tenant_id = $1 AND module = $2 AND hour = $3",
        )
        .bind(tx.tenant_id())
        .bind(module)
        .bind(hour)
        .bind(bytes)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn calls_in_one_hour_add_up_and_the_next_hour_starts_a_row() {
        let meter = Meter::default();
        let tenant = Uuid::now_v7();
        let call = Counts {
            calls: 1,
            wall_us: 10,
            ..Counts::default()
        };
        meter.record_at(tenant, "crm", at("2026-12-07T03:00:00Z"), call);
        meter.record_at(tenant, "crm", at("2026-12-07T03:59:59Z"), call);
        meter.record_at(tenant, "crm", at("2026-12-07T04:00:00Z"), call);
        let pending = &meter.lock().pending;
        assert_eq!(pending.len(), 2);
        let first = Key {
            tenant,
            module: "crm".into(),
            hour: at("2026-12-07T03:00:00Z"),
        };
        assert_eq!(pending[&first].calls, 2);
        assert_eq!(pending[&first].wall_us, 20);
    }
}
