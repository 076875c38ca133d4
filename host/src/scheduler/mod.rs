//! The scheduler: per-tenant recurring tasks in the tenant's time zone, run once across all
//! hosts, with PostgreSQL as the only coordination (no external cron).
//!
//! Every host runs one loop (`serve --scheduler-interval-ms`, default 1000; `--no-scheduler`
//! turns it off). Each tick it
//! 1. gives every active tenant without one a row in the hint table `dispatch.due_tasks`
//!    (migrations/0012_scheduler.sql), so a new tenant is picked up within a tick;
//! 2. takes the tenants whose tasks were last reconciled over a minute ago (claiming them with
//!    `FOR UPDATE SKIP LOCKED`, so one host does each) and those with a task due;
//! 3. visits each ([`claim`]): reconciles its tasks with its modules' manifests when taken for
//!    that ([`tasks`]), claims the due tasks, advances them and runs them, then writes the
//!    tenant's earliest next run back into the hint.
//!
//! Binding a module drops the tenant's reconciliation time ([`reconcile_soon`]), so the new
//! version's schedules appear at the next tick rather than within the minute.
//! Schedules: [`spec`]. A module task's run is a `schedule.tick` event for that module
//! (`claim::TICK`); the host's own task (`host:prune`) runs here.

pub mod claim;
pub mod spec;
pub mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::prune::PruneSettings;
use crate::registry::Registry;

/// How often each tenant's tasks are compared with its modules' manifests.
const RECONCILE_EVERY_SECS: f64 = 60.0;
/// Tenants visited per tick at most, for each reason.
const TENANTS_PER_TICK: i64 = 100;

#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    pub enabled: bool,
    /// Time between ticks.
    pub interval: Duration,
}

/// One host's scheduler.
pub struct Scheduler {
    pool: PgPool,
    registry: Arc<Registry>,
    prune: PruneSettings,
    statement_timeout: Duration,
    /// Names this host in leases of host tasks.
    host_id: String,
}

impl Scheduler {
    pub fn new(
        pool: PgPool,
        registry: Arc<Registry>,
        prune: PruneSettings,
        statement_timeout: Duration,
    ) -> Self {
        Self {
            pool,
            registry,
            prune,
            statement_timeout,
            host_id: format!(
                "host-{}-{}",
                std::process::id(),
                &crate::secrets::random_hex()[..8]
            ),
        }
    }

    /// Runs a tick every `interval` for as long as the server serves. A failed tick or
    /// visit is logged; the hint keeps the tenant due, so the next tick tries again.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = self.tick().await {
                    tracing::warn!(error = %format!("{error:#}"), "a scheduler tick failed");
                }
            }
        })
    }

    /// One round over the tenants that need a visit.
    pub async fn tick(&self) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO dispatch.due_tasks (tenant_id, due_at, reconciled_at)
             SELECT t.id, now(), '-infinity' FROM tenants t
             WHERE t.status = 'active'
               AND NOT EXISTS (SELECT 1 FROM dispatch.due_tasks d WHERE d.tenant_id = t.id)
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .execute(&self.pool)
        .await?;
        let stale: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE dispatch.due_tasks SET reconciled_at = now()
             WHERE tenant_id IN (
                 SELECT tenant_id FROM dispatch.due_tasks
                 WHERE reconciled_at < now() - make_interval(secs => $1)
                 ORDER BY reconciled_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING tenant_id",
        )
        .bind(RECONCILE_EVERY_SECS)
        .bind(TENANTS_PER_TICK)
        .fetch_all(&self.pool)
        .await?;
        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT d.tenant_id FROM dispatch.due_tasks d JOIN tenants t ON t.id = d.tenant_id
             WHERE d.due_at <= now() AND t.status = 'active'
             ORDER BY d.due_at LIMIT $1",
        )
        .bind(TENANTS_PER_TICK)
        .fetch_all(&self.pool)
        .await?;
        let mut visits: BTreeMap<Uuid, bool> = due.into_iter().map(|t| (t, false)).collect();
        visits.extend(stale.into_iter().map(|t| (t, true)));
        for (tenant, reconcile) in visits {
            match self.visit(tenant, reconcile).await {
                Ok(visit) => self.hint(tenant, visit.due_at).await?,
                Err(error) => tracing::warn!(%tenant, %error, "a scheduler visit failed"),
            }
        }
        Ok(())
    }

    /// Records when the tenant next has a task due (none: when it next gets one).
    async fn hint(&self, tenant: Uuid, due_at: Option<DateTime<Utc>>) -> anyhow::Result<()> {
        sqlx::query("UPDATE dispatch.due_tasks SET due_at = $2 WHERE tenant_id = $1")
            .bind(tenant)
            .bind(due_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Has the tenant's tasks reconciled at the next tick (a module was bound or rolled back).
/// Best effort: the minute's reconciliation catches up with a failure.
pub async fn reconcile_soon(pool: &PgPool, tenant: Uuid) {
    let result = sqlx::query(
        "UPDATE dispatch.due_tasks SET reconciled_at = '-infinity' WHERE tenant_id = $1",
    )
    .bind(tenant)
    .execute(pool)
    .await;
    if let Err(error) = result {
        tracing::warn!(%tenant, %error, "marking a tenant's schedules for reconciliation failed");
    }
}
