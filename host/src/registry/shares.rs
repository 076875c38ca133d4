//! Which uploaded versions each tenant may see and bind. An upload is private: only the
//! tenants the operator shares it with (`module_shares`, a tenant table under RLS) list it in
//! `GET /v1/modules` or may bind it; built-ins need no share, every tenant may bind them.
//! Unsharing stops new binds (a rebind or a rollback to it); a binding made before keeps
//! serving until the tenant moves off it, so that an operator's change of sharing never breaks
//! a tenant's running traffic unannounced.
//!
//! Tenants read their shares through their own transaction. The operator writes them in the
//! tenant's scope as well (the role that serves requests is not assumed to bypass RLS).
//!
//! A publisher shares by tenant slug and is answered alike whether or not the tenant exists,
//! so that it cannot enumerate the platform's customers: its share is recorded by slug
//! (`publisher_shares`, global) and becomes the tenant's `module_shares` row at once when the
//! tenant exists, or when the operator creates a tenant with that slug ([`adopt`]). The
//! operator, who sees every tenant anyway, keeps its precise answers. An operator's share is
//! the operator's: a publisher withdrawing its own never removes it.

use std::time::Duration;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::publishers::Publisher;
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
/// no-op, except that the operator's share takes over a publisher's.
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
             ON CONFLICT (tenant_id, digest) DO UPDATE SET shared_by = EXCLUDED.shared_by
             WHERE EXCLUDED.shared_by = $4",
        )
        .bind(tenant_id)
        .bind(digest)
        .bind(by)
        .bind(OPERATOR)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Who an operator's share is by (`module_shares.shared_by`); a publisher's is
/// `publisher:<namespace>`.
pub const OPERATOR: &str = "operator";

/// A publisher's share of one of its versions, as the publisher lists it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PublisherShare {
    #[serde(skip)]
    #[schema(ignore)]
    pub id: Uuid,
    pub digest: String,
    /// The tenant's slug, as the publisher named it.
    pub tenant: String,
    pub shared_at: chrono::DateTime<chrono::Utc>,
}

/// Records a publisher's share of `digest` with the tenant of `slug`, and shares it with that
/// tenant now if there is one; the same work and answer either way. Sharing again is a no-op.
pub async fn share_by_slug(
    pool: &PgPool,
    publisher: &Publisher,
    digest: &str,
    slug: &str,
    statement_timeout: Duration,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    lock_slug(&mut tx, slug).await?;
    sqlx::query(
        "INSERT INTO publisher_shares (id, publisher_id, digest, tenant_slug)
         VALUES ($1, $2, $3, $4) ON CONFLICT (digest, tenant_slug) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(publisher.id)
    .bind(digest)
    .bind(slug)
    .execute(&mut *tx)
    .await?;
    let Some(tenant_id) = tenant_of_slug(&mut tx, slug).await? else {
        return Ok(tx.commit().await?);
    };
    let mut tx = TenantTx::enter(tx, scope_of(tenant_id), statement_timeout).await?;
    sqlx::query(
        "INSERT INTO module_shares (tenant_id, digest, shared_by) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, digest) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(digest)
    .bind(shared_by(publisher))
    .execute(tx.conn())
    .await?;
    Ok(tx.commit().await?)
}

/// Withdraws a publisher's share by slug: false when it recorded none (whether or not the
/// tenant exists). The tenant's row goes with it unless the operator shared it too.
pub async fn withdraw_by_slug(
    pool: &PgPool,
    publisher: &Publisher,
    digest: &str,
    slug: &str,
    statement_timeout: Duration,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    lock_slug(&mut tx, slug).await?;
    let removed =
        sqlx::query("DELETE FROM publisher_shares WHERE digest = $1 AND tenant_slug = $2")
            .bind(digest)
            .bind(slug)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let Some(tenant_id) = tenant_of_slug(&mut tx, slug).await? else {
        tx.commit().await?;
        return Ok(removed == 1);
    };
    let mut tx = TenantTx::enter(tx, scope_of(tenant_id), statement_timeout).await?;
    sqlx::query(
        "DELETE FROM module_shares WHERE tenant_id = $1 AND digest = $2 AND shared_by = $3",
    )
    .bind(tenant_id)
    .bind(digest)
    .bind(shared_by(publisher))
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(removed == 1)
}

/// Forgets a publisher's record of a share the operator withdrew; true when there was one.
pub async fn forget_by_slug(pool: &PgPool, digest: &str, slug: &str) -> Result<bool> {
    let removed =
        sqlx::query("DELETE FROM publisher_shares WHERE digest = $1 AND tenant_slug = $2")
            .bind(digest)
            .bind(slug)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(removed == 1)
}

/// A page of the shares a publisher recorded for its version, oldest first.
pub async fn list_by_slug(
    pool: &PgPool,
    digest: &str,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PublisherShare>> {
    Ok(sqlx::query_as(
        "SELECT id, digest, tenant_slug AS tenant, shared_at FROM publisher_shares
         WHERE digest = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(digest)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Gives a tenant being created the shares publishers recorded for its slug, inside the
/// creating transaction: call it as the login role (before entering the tenant's scope), and
/// write what it returns with [`record_adopted`] once inside.
pub async fn adopt(tx: &mut PgConnection, slug: &str) -> Result<Vec<(String, String)>> {
    lock_slug(tx, slug).await?;
    Ok(sqlx::query_as(
        "SELECT s.digest, 'publisher:' || p.namespace FROM publisher_shares s
         JOIN publishers p ON p.id = s.publisher_id WHERE s.tenant_slug = $1",
    )
    .bind(slug)
    .fetch_all(tx)
    .await?)
}

/// Writes the shares [`adopt`] found, in the new tenant's scope.
pub async fn record_adopted(tx: &mut TenantTx, adopted: &[(String, String)]) -> Result<()> {
    for (digest, by) in adopted {
        sqlx::query("INSERT INTO module_shares (tenant_id, digest, shared_by) VALUES ($1, $2, $3)")
            .bind(tx.tenant_id())
            .bind(digest)
            .bind(by)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

fn shared_by(publisher: &Publisher) -> String {
    format!("publisher:{}", publisher.namespace)
}

/// Serialises a publisher's share and the creation of a tenant with the same slug, so that
/// neither commits without the other seeing it.
async fn lock_slug(conn: &mut PgConnection, slug: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenant-slug:' || $1, 0))")
        .bind(slug)
        .execute(conn)
        .await?;
    Ok(())
}

async fn tenant_of_slug(conn: &mut PgConnection, slug: &str) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await?)
}

fn scope_of(tenant_id: Uuid) -> TenantScope {
    TenantScope {
        tenant_id,
        user_id: None,
    }
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
    Ok(TenantTx::begin(pool, scope_of(tenant_id), statement_timeout).await?)
}
