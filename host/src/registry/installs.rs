//! Which tenants run a publisher's versions: a count per version, and the names of only the
//! tenants that agreed to be named to the publisher (`name_me_to_publisher` on their consent).
//!
//! Bindings and consents are tenant data under forced RLS, and the login role does not bypass
//! it, so the answer is gathered one tenant transaction at a time (two indexed reads each).
//! That costs a round trip per tenant on a publisher's dashboard, never on a tenant's request;
//! a global tally kept beside the bindings would be faster but would be a table of
//! tenant facts outside RLS.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RunningTenants)]
pub struct Running {
    /// Tenants whose binding is this version now.
    pub count: u64,
    /// The names of those that agreed to be named.
    pub named: Vec<String>,
}

/// For each version (digest -> module name), who runs it now.
pub async fn running(
    pool: &PgPool,
    versions: &HashMap<String, String>,
    statement_timeout: Duration,
) -> Result<HashMap<String, Running>> {
    let mut running: HashMap<String, Running> = HashMap::new();
    if versions.is_empty() {
        return Ok(running);
    }
    let digests: Vec<&String> = versions.keys().collect();
    let tenants: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, name FROM tenants ORDER BY id")
        .fetch_all(pool)
        .await?;
    for (tenant_id, name) in tenants {
        let mut tx = super::shares::operator_tx(pool, tenant_id, statement_timeout).await?;
        let bound: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM (SELECT DISTINCT ON (slot) digest FROM module_bindings
                                 WHERE tenant_id = $1 ORDER BY slot, id DESC) current
             WHERE digest = ANY($2)",
        )
        .bind(tenant_id)
        .bind(&digests)
        .fetch_all(tx.conn())
        .await?;
        let named: Vec<String> = sqlx::query_scalar(
            "SELECT module_name FROM module_consents
             WHERE tenant_id = $1 AND name_me_to_publisher",
        )
        .bind(tenant_id)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        for digest in bound {
            let entry = running.entry(digest.clone()).or_default();
            entry.count += 1;
            if versions
                .get(&digest)
                .is_some_and(|module| named.contains(module))
            {
                entry.named.push(name.clone());
            }
        }
    }
    Ok(running)
}
