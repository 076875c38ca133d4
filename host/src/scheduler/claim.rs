//! One tenant's turn: reconcile its tasks when they are due for it, claim the tasks that are
//! due, advance each before it runs, and run it.
//!
//! Claiming happens in the tenant's transaction with `FOR UPDATE SKIP LOCKED`: hosts visiting
//! the tenant at once skip each other's rows, and a host that finds a row after another
//! committed sees its `next_run_at` already advanced, so each run happens on one host. A
//! module task's run is the `schedule.tick` event appended in that same transaction (the
//! dispatcher delivers it to that one module); a host task is leased in it and run after the
//! commit, and its outcome recorded in a transaction of its own.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::spec::{Spec, zone};
use super::{Scheduler, tasks};
use crate::db::prune;
use crate::error::Result;
use crate::events::{self, NewEvent};
use crate::tenancy::{TenantScope, TenantTx};

/// Tasks claimed per tenant per visit.
const CLAIM_BATCH: i64 = 20;
/// How long a host task stays leased to the host running it.
const HOST_TASK_LEASE_SECS: f64 = 600.0;
/// The event type a module's scheduled entry point receives.
pub const TICK: &str = "schedule.tick";

#[derive(sqlx::FromRow)]
struct Due {
    name: String,
    slot: Option<String>,
    task: String,
    schedule: String,
    next_run_at: DateTime<Utc>,
}

/// A host task claimed for this host, to run after the claim commits.
struct Leased {
    name: String,
    task: String,
}

/// What a visit leaves for the hint: the tenant's earliest next run, if any.
pub struct Visit {
    pub due_at: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// Visits one tenant. `reconcile`: compare its tasks with its modules' manifests first.
    pub async fn visit(&self, tenant: Uuid, reconcile: bool) -> Result<Visit> {
        let scope = TenantScope {
            tenant_id: tenant,
            user_id: None,
        };
        let mut tx = TenantTx::begin(&self.pool, scope, self.statement_timeout).await?;
        let (status, time_zone): (String, String) =
            sqlx::query_as("SELECT status, time_zone FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_one(tx.conn())
                .await?;
        if status != "active" {
            return Ok(Visit { due_at: None });
        }
        let tz = zone(&time_zone);
        let now = Utc::now();
        if reconcile {
            let bindings = crate::registry::bindings_of(&mut tx).await?;
            let declared = tasks::declared(&self.registry, &bindings).await?;
            tasks::reconcile(&mut tx, &declared, tz, now).await?;
        }
        let due: Vec<Due> = sqlx::query_as(
            "SELECT name, slot, task, schedule, next_run_at FROM scheduled_tasks
             WHERE tenant_id = $1 AND enabled AND next_run_at <= now()
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY next_run_at, name
             LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind(tenant)
        .bind(CLAIM_BATCH)
        .fetch_all(tx.conn())
        .await?;
        let mut leased = Vec::new();
        for task in due {
            let Ok(spec) = Spec::parse(&task.schedule) else {
                disable(&mut tx, &task.name, "the schedule does not parse").await?;
                continue;
            };
            // The later of now and the run: a run missed for days runs once, now.
            let next = spec.next_after(now.max(task.next_run_at), tz);
            match &task.slot {
                Some(slot) => tick(&mut tx, slot, &task, &time_zone, next).await?,
                None => {
                    lease(&mut tx, &task.name, next, &self.host_id).await?;
                    leased.push(Leased {
                        name: task.name,
                        task: task.task,
                    });
                }
            }
        }
        let due_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT min(next_run_at) FROM scheduled_tasks WHERE tenant_id = $1 AND enabled",
        )
        .bind(tenant)
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        for task in leased {
            self.run_host_task(tenant, task).await?;
        }
        Ok(Visit { due_at })
    }

    /// Runs a leased host task and records its outcome.
    async fn run_host_task(&self, tenant: Uuid, task: Leased) -> Result<()> {
        let started = Utc::now();
        let clock = Instant::now();
        let outcome = match task.task.as_str() {
            tasks::PRUNE => prune::prune_tenant(&self.pool, tenant, &self.prune)
                .await
                .map(|pruned| tracing::info!(%tenant, ?pruned, "pruned")),
            other => Err(anyhow::anyhow!("no host task `{other}`")),
        };
        let error = outcome.err().map(|error| format!("{error:#}"));
        if let Some(error) = &error {
            tracing::warn!(%tenant, task = %task.name, %error, "a scheduled host task failed");
        }
        let scope = TenantScope {
            tenant_id: tenant,
            user_id: None,
        };
        let mut tx = TenantTx::begin(&self.pool, scope, self.statement_timeout).await?;
        sqlx::query(
            "UPDATE scheduled_tasks SET last_run_at = $3, last_error = $4, last_duration_ms = $5,
                 runs = runs + 1, lease_until = NULL, leased_by = NULL, updated_at = now()
             WHERE tenant_id = $1 AND name = $2 AND leased_by = $6",
        )
        .bind(tenant)
        .bind(&task.name)
        .bind(started)
        .bind(&error)
        .bind(duration_ms(clock.elapsed()))
        .bind(&self.host_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A module task's run: its tick in the outbox and the task advanced, in one transaction.
async fn tick(
    tx: &mut TenantTx,
    slot: &str,
    task: &Due,
    time_zone: &str,
    next: DateTime<Utc>,
) -> Result<()> {
    let target = format!("module:{slot}");
    let payload = json!({
        "task": task.task,
        "scheduled_for": task.next_run_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "timezone": time_zone,
    });
    events::append(
        tx,
        NewEvent {
            event_type: TICK,
            payload,
            source: "host",
            request_id: None,
            target: Some(&target),
        },
    )
    .await?;
    sqlx::query(
        "UPDATE scheduled_tasks SET next_run_at = $3, last_run_at = now(), last_error = NULL,
             last_duration_ms = NULL, runs = runs + 1, updated_at = now()
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tx.tenant_id())
    .bind(&task.name)
    .bind(next)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn lease(tx: &mut TenantTx, name: &str, next: DateTime<Utc>, host: &str) -> Result<()> {
    sqlx::query(
        "UPDATE scheduled_tasks SET next_run_at = $3,
             lease_until = now() + make_interval(secs => $4), leased_by = $5, updated_at = now()
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tx.tenant_id())
    .bind(name)
    .bind(next)
    .bind(HOST_TASK_LEASE_SECS)
    .bind(host)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn disable(tx: &mut TenantTx, name: &str, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE scheduled_tasks SET enabled = false, last_error = $3, updated_at = now()
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tx.tenant_id())
    .bind(name)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn duration_ms(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}
