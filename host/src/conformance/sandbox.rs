//! The throwaway tenant a pack runs in: `conformance-<short id>`, with one owner, the
//! candidate bound for its slot (no consent: the tenant is the platform's own) and the
//! tenant's built-ins serving every other slot, so steps may lean on them (a job needs a
//! customer from `crm`).
//!
//! Afterwards the tenant is suspended (no request, scheduled task or module tick runs for
//! it again) and its data deleted: the rows of every table with a `tenant_id` column, in
//! foreign-key order read from pg_catalog, then the tenant itself, in one transaction. Chosen
//! over keeping suspended tenants to prune later: each run would leave a tenant's worth of
//! rows behind, one per upload. If the deletion fails (an event delivery wrote a row
//! meanwhile, say), the tenant stays suspended and the failure is logged; nothing serves it.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;
use crate::http::AppState;
use crate::registry::{self, Version};
use crate::tenancy::provision::{CreatedTenant, NewTenant, create_tenant};
use crate::tenancy::{TenantScope, TenantTx};

const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Sandbox {
    pub tenant_id: Uuid,
    pub slug: String,
    pub token: String,
}

/// Creates the tenant, binds `version` for its slot and mints its owner a token.
pub async fn open(state: &AppState, version: &Version) -> Result<Sandbox> {
    let short = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let slug = format!("conformance-{short}");
    let created = create_tenant(
        &state.pool,
        NewTenant {
            name: format!("Conformance run of {}@{}", version.name, version.version)
                .chars()
                .take(200)
                .collect(),
            slug: slug.clone(),
            time_zone: None,
            admin_email: format!("owner@{slug}.conformance.verofield.test"),
            admin_password: Uuid::new_v4().simple().to_string(),
        },
        STATEMENT_TIMEOUT,
    )
    .await?;
    let mut sandbox = Sandbox {
        tenant_id: created.tenant_id,
        slug,
        token: String::new(),
    };
    // A tenant that could not be readied is removed at once, like one that ran.
    match ready(state, &created, version).await {
        Ok(token) => {
            sandbox.token = token;
            Ok(sandbox)
        }
        Err(error) => {
            close(&state.pool, &sandbox).await;
            Err(error)
        }
    }
}

/// Binds the candidate for the new tenant and mints its owner a token.
async fn ready(state: &AppState, created: &CreatedTenant, version: &Version) -> Result<String> {
    let scope = TenantScope {
        tenant_id: created.tenant_id,
        user_id: Some(created.admin_user_id),
    };
    let mut tx = TenantTx::begin(&state.pool, scope, STATEMENT_TIMEOUT).await?;
    registry::bind(&mut tx, version).await?;
    tx.commit().await?;
    Ok(state
        .tokens
        .issue(created.tenant_id, created.admin_user_id)?)
}

/// Suspends the tenant, then deletes everything it holds (see the module comment).
pub async fn close(pool: &PgPool, sandbox: &Sandbox) {
    let suspended =
        sqlx::query("UPDATE tenants SET status = 'suspended', updated_at = now() WHERE id = $1")
            .bind(sandbox.tenant_id)
            .execute(pool)
            .await;
    if let Err(error) = suspended {
        tracing::warn!(%error, tenant = %sandbox.slug, "suspending a conformance tenant failed");
        return;
    }
    if let Err(error) = delete_tenant(pool, sandbox.tenant_id).await {
        tracing::warn!(%error, tenant = %sandbox.slug, "deleting a conformance tenant failed; it stays suspended");
    }
}

async fn delete_tenant(pool: &PgPool, tenant_id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    // The tenant tables force RLS on their owner too: the deletes see this tenant's rows.
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "SET LOCAL statement_timeout = {}",
        STATEMENT_TIMEOUT.as_millis()
    ))
    .execute(&mut *tx)
    .await?;
    for table in deletion_order(&mut tx).await? {
        // `table` is a name PostgreSQL printed (`regclass`), quoted where needed; never input.
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Every table with a `tenant_id` column, each after the tables whose foreign keys point at
/// it (a table referencing itself is deleted in one statement, which is fine).
async fn deletion_order(tx: &mut sqlx::PgConnection) -> Result<Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
         WHERE contype = 'f' AND conrelid <> confrelid",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(children_first(tables, &edges))
}

/// A topological order of `tables` in which a referencing table comes before the table it
/// references; tables caught in a cycle come last, in name order (their deletion may fail,
/// which leaves the tenant suspended).
fn children_first(tables: Vec<String>, edges: &[(String, String)]) -> Vec<String> {
    let mut remaining: BTreeSet<String> = tables.into_iter().collect();
    let mut referenced_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (child, parent) in edges {
        referenced_by
            .entry(parent.as_str())
            .or_default()
            .push(child.as_str());
    }
    let mut order = Vec::with_capacity(remaining.len());
    loop {
        let ready: Vec<String> = remaining
            .iter()
            .filter(|table| {
                referenced_by
                    .get(table.as_str())
                    .is_none_or(|children| children.iter().all(|c| !remaining.contains(*c)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            break;
        }
        for table in ready {
            remaining.remove(&table);
            order.push(table);
        }
    }
    order.extend(remaining);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referencing_tables_go_first() {
        let tables = ["users", "user_roles", "roles", "audit_log"]
            .map(String::from)
            .to_vec();
        let edges = [
            ("user_roles", "users"),
            ("user_roles", "roles"),
            ("users", "tenants"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let order = children_first(tables, &edges);
        let at = |t: &str| order.iter().position(|x| x == t).unwrap();
        assert!(at("user_roles") < at("users") && at("user_roles") < at("roles"));
        assert_eq!(order.len(), 4);
    }
}
