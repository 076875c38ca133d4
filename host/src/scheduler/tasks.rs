//! Which tasks a tenant has: the host's own, and those the manifests of the modules serving
//! the tenant declare. Reconciling writes the difference into `scheduled_tasks` (new tasks get
//! their first run, a changed schedule is recomputed, tasks no module declares any more go)
//! and leaves unchanged rows alone, so it takes no lock a claim would have to skip.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::spec::Spec;
use crate::error::Result;
use crate::registry::Registry;
use crate::tenancy::TenantTx;

/// The host's pruning of the tenant's expired rows (`db::prune::prune_tenant`).
pub const PRUNE: &str = "prune";
const PRUNE_AT: &str = "daily 03:00";

/// A task as its declaration says it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// `<slot>:<task>` or `host:<task>`: unique per tenant.
    pub name: String,
    pub slot: Option<String>,
    pub task: String,
    pub schedule: String,
}

impl Declared {
    fn host(task: &str, schedule: &str) -> Self {
        Self {
            name: format!("host:{task}"),
            slot: None,
            task: task.into(),
            schedule: schedule.into(),
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.slot.is_some() {
            "module"
        } else {
            "host"
        }
    }
}

/// The tasks of a tenant with these bindings (slot -> digest). An error (a module that does
/// not load) leaves the tenant's tasks as they are until the next reconciliation.
pub async fn declared(
    registry: &Registry,
    bindings: &HashMap<String, String>,
) -> Result<Vec<Declared>> {
    let mut tasks = vec![Declared::host(PRUNE, PRUNE_AT)];
    for slot in registry.slots(bindings) {
        let Some(digest) = registry.serving(bindings, &slot) else {
            continue;
        };
        let module = registry.module(&digest).await?;
        for schedule in &module.manifest.schedules {
            tasks.push(Declared {
                name: format!("{slot}:{}", schedule.name),
                slot: Some(slot.clone()),
                task: schedule.name.clone(),
                schedule: schedule.at.clone(),
            });
        }
    }
    Ok(tasks)
}

/// Makes the tenant's rows match `declared`; returns how many rows changed.
pub async fn reconcile(
    tx: &mut TenantTx,
    declared: &[Declared],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<u64> {
    let tenant = tx.tenant_id();
    let existing: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT name, slot, schedule FROM scheduled_tasks WHERE tenant_id = $1 ORDER BY name",
    )
    .bind(tenant)
    .fetch_all(tx.conn())
    .await?;
    let mut changed = 0;
    for task in declared {
        let current = existing.iter().find(|(name, ..)| *name == task.name);
        if current
            .is_some_and(|(_, slot, schedule)| *slot == task.slot && *schedule == task.schedule)
        {
            continue;
        }
        // Manifests are validated when published, so a bad spec here is a host bug: skip it.
        let Ok(spec) = Spec::parse(&task.schedule) else {
            tracing::warn!(task = %task.name, "a declared schedule does not parse");
            continue;
        };
        changed += sqlx::query(
            "INSERT INTO scheduled_tasks (tenant_id, name, kind, slot, task, schedule, next_run_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, name) DO UPDATE SET
                 kind = EXCLUDED.kind, slot = EXCLUDED.slot, task = EXCLUDED.task,
                 schedule = EXCLUDED.schedule, next_run_at = EXCLUDED.next_run_at,
                 enabled = true, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenant)
        .bind(&task.name)
        .bind(task.kind())
        .bind(&task.slot)
        .bind(&task.task)
        .bind(&task.schedule)
        .bind(spec.next_after(now, tz))
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    let gone: Vec<&str> = existing
        .iter()
        .map(|(name, ..)| name.as_str())
        .filter(|name| !declared.iter().any(|task| task.name == *name))
        .collect();
    if !gone.is_empty() {
        changed +=
            sqlx::query("DELETE FROM scheduled_tasks WHERE tenant_id = $1 AND name = ANY($2)")
                .bind(tenant)
                .bind(&gone)
                .execute(tx.conn())
                .await?
                .rows_affected();
    }
    Ok(changed)
}
