//! Which uploaded versions each tenant may see and bind. An upload is private: only the
//! tenants the operator shares it with (`module_shares`, a tenant table under RLS) list it in
//! `GET /v1/modules` or may bind it; built-ins need no share, every tenant may bind them.
//! Unsharing stops new binds (a rebind or a rollback to it); a binding made before keeps
//! serving until the tenant moves off it, so that an operator's change of sharing never breaks
//! a tenant's running traffic unannounced.
//!
//! Tenants read their shares through their own transaction. The operator writes them in the
//! tenant's scope as well (the role that serves requests is not assumed to bypass RLS).

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;
use crate::tenancy::{TenantScope, TenantTx};

/// The digests shared with the transaction's tenant.
pub async fn shared_digests(tx: &mut TenantTx) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT digest FROM module_shares WHERE tenant_id = $1")
            .bind(tx.tenant_id())
            .fetch_all(tx.conn())
            .await?,
    )
}

pub async fn is_shared(tx: &mut TenantTx, digest: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM module_shares WHERE tenant_id = $1 AND digest = $2)",
    )
    .bind(tx.tenant_id())
    .bind(digest)
    .fetch_one(tx.conn())
    .await?)
}

/// Shares the versions with the tenants, in one transaction per tenant; sharing again is a
/// no-op.
pub async fn share(
    pool: &PgPool,
    digest: &str,
    tenants: &[Uuid],
    by: &str,
    statement_timeout: Duration,
) -> Result<()> {
    for &tenant_id in tenants {
        let mut tx = operator_tx(pool, tenant_id, statement_timeout).await?;
        sqlx::query(
            "INSERT INTO module_shares (tenant_id, digest, shared_by) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, digest) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(digest)
        .bind(by)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Withdraws a share; false when there was none.
pub async fn unshare(
    pool: &PgPool,
    digest: &str,
    tenant_id: Uuid,
    statement_timeout: Duration,
) -> Result<bool> {
    let mut tx = operator_tx(pool, tenant_id, statement_timeout).await?;
    let removed = sqlx::query("DELETE FROM module_shares WHERE tenant_id = $1 AND digest = $2")
        .bind(tenant_id)
        .bind(digest)
        .execute(tx.conn())
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(removed == 1)
}

/// A transaction in the tenant's scope for work the operator (or a publisher) does there.
pub(super) async fn operator_tx(
    pool: &PgPool,
    tenant_id: Uuid,
    statement_timeout: Duration,
) -> Result<TenantTx> {
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    Ok(TenantTx::begin(pool, scope, statement_timeout).await?)
}
