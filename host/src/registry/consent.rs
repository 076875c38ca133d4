//! A tenant's consent to what an uploaded module may touch (`module_consents`, a tenant table
//! under RLS, read and written in the tenant's own transaction).
//!
//! Consent is kept per module name, not per version: binding a version whose grants
//! ([`Grants`]) are within what the tenant accepted needs no new consent (a patch release that
//! asks for nothing new installs with one call), and one that asks for more is refused until
//! the admin accepts the larger set, so until then the tenant stays on its version. Built-ins
//! need none. The row also holds whether the tenant agreed to be named to the publisher.

use crate::error::{Error, Result};
use crate::runtime::manifest::Grants;
use crate::tenancy::TenantTx;

/// What the tenant accepted for this module, if anything.
pub async fn accepted(tx: &mut TenantTx, module_name: &str) -> Result<Option<Grants>> {
    let grants: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT grants FROM module_consents WHERE tenant_id = $1 AND module_name = $2",
    )
    .bind(tx.tenant_id())
    .bind(module_name)
    .fetch_optional(tx.conn())
    .await?;
    // A row written by an older host that no longer parses is no consent: ask again.
    Ok(grants.and_then(|grants| serde_json::from_value(grants).ok()))
}

/// Records that the tenant accepts `grants` for the module (replacing an earlier consent).
pub async fn record(
    tx: &mut TenantTx,
    module_name: &str,
    digest: &str,
    grants: &Grants,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO module_consents (tenant_id, module_name, grants, digest, consented_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, module_name) DO UPDATE
         SET grants = EXCLUDED.grants, digest = EXCLUDED.digest,
             consented_by = EXCLUDED.consented_by, consented_at = EXCLUDED.consented_at",
    )
    .bind(tx.tenant_id())
    .bind(module_name)
    .bind(serde_json::to_value(grants).map_err(anyhow::Error::from)?)
    .bind(digest)
    .bind(tx.user_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether the publisher may see this tenant's name among those running the module.
pub async fn name_me_to_publisher(tx: &mut TenantTx, module_name: &str, named: bool) -> Result<()> {
    sqlx::query(
        "UPDATE module_consents SET name_me_to_publisher = $3 WHERE tenant_id = $1 AND module_name = $2",
    )
    .bind(tx.tenant_id())
    .bind(module_name)
    .bind(named)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// 422 `consent_required`, showing the grants to accept.
pub fn required(module_name: &str, grants: &Grants) -> Error {
    Error::problem(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "consent_required",
        format!(
            "binding `{module_name}` needs the tenant's consent to what it may touch: send \
             `\"accept\"` with exactly the `grants` shown"
        ),
    )
    .with_extension("grants", serde_json::to_value(grants).unwrap_or_default())
}
