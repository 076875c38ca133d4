//! Refresh tokens: opaque, single-use, rotated on every refresh, grouped in families.
//!
//! A token reads `vfr_<tenant id>_<32 random bytes>`: the tenant id lets the host open the
//! right tenant transaction before it knows the user; only the sha256 of the whole token is
//! stored. Using a token marks it rotated and issues its successor in the same family;
//! presenting a rotated token again means it was stolen or replayed, so the whole family is
//! revoked (RFC 9700, section 4.14.2).

use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenancy::TenantTx;

const PREFIX: &str = "vfr_";

/// A refresh token split into its tenant and the digest to look it up by.
pub struct Presented {
    pub tenant_id: Uuid,
    digest: Vec<u8>,
}

impl Presented {
    pub fn parse(token: &str) -> Option<Self> {
        let rest = token.strip_prefix(PREFIX)?;
        let (tenant, secret) = rest.split_once('_')?;
        if secret.len() != 43 || tenant.len() != 32 {
            return None;
        }
        Some(Self {
            tenant_id: Uuid::try_parse(tenant).ok()?,
            digest: Sha256::digest(token.as_bytes()).to_vec(),
        })
    }
}

pub enum Rotation {
    Rotated {
        user_id: Uuid,
        token: String,
    },
    /// A rotated or revoked token was presented again; its family is now revoked.
    Reused,
    Unknown,
    Expired,
}

/// Issues a token for `user_id`, in a new family unless `family_id` is given.
pub async fn issue(
    tx: &mut TenantTx,
    user_id: Uuid,
    family_id: Option<Uuid>,
    ttl: Duration,
) -> Result<String, sqlx::Error> {
    let secret: [u8; 32] = rand::random();
    let token = format!(
        "{PREFIX}{}_{}",
        tx.tenant_id().simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let tenant_id = tx.tenant_id();
    sqlx::query(
        "INSERT INTO refresh_tokens (tenant_id, id, family_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(family_id.unwrap_or_else(Uuid::now_v7))
    .bind(user_id)
    .bind(&Sha256::digest(token.as_bytes())[..])
    .bind(ttl.as_secs_f64())
    .execute(tx.conn())
    .await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct Stored {
    family_id: Uuid,
    user_id: Uuid,
    spent: bool,
    expired: bool,
}

pub async fn rotate(
    tx: &mut TenantTx,
    presented: &Presented,
    ttl: Duration,
) -> Result<Rotation, sqlx::Error> {
    let tenant_id = tx.tenant_id();
    let stored: Option<Stored> = sqlx::query_as(
        "SELECT family_id, user_id,
                (rotated_at IS NOT NULL OR revoked_at IS NOT NULL) AS spent,
                expires_at <= now() AS expired
         FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE",
    )
    .bind(tenant_id)
    .bind(&presented.digest)
    .fetch_optional(tx.conn())
    .await?;
    let Some(stored) = stored else {
        return Ok(Rotation::Unknown);
    };
    if stored.spent {
        revoke_family(tx, stored.family_id).await?;
        return Ok(Rotation::Reused);
    }
    if stored.expired {
        return Ok(Rotation::Expired);
    }
    sqlx::query(
        "UPDATE refresh_tokens SET rotated_at = now() WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant_id)
    .bind(&presented.digest)
    .execute(tx.conn())
    .await?;
    let token = issue(tx, stored.user_id, Some(stored.family_id), ttl).await?;
    Ok(Rotation::Rotated {
        user_id: stored.user_id,
        token,
    })
}

/// Revokes the family the presented token belongs to; false when the token is unknown.
pub async fn revoke_family_of(
    tx: &mut TenantTx,
    presented: &Presented,
) -> Result<bool, sqlx::Error> {
    let family: Option<Uuid> = sqlx::query_scalar(
        "SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tx.tenant_id())
    .bind(&presented.digest)
    .fetch_optional(tx.conn())
    .await?;
    match family {
        Some(family) => revoke_family(tx, family).await.map(|_| true),
        None => Ok(false),
    }
}

async fn revoke_family(tx: &mut TenantTx, family_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
    )
    .bind(tx.tenant_id())
    .bind(family_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revokes every refresh token of a user (deactivation, a password reset), or every one but
/// those of `keep_family` (the session that changed its own password).
pub async fn revoke_user(
    tx: &mut TenantTx,
    user_id: Uuid,
    keep_family: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
           AND ($3::uuid IS NULL OR family_id <> $3)",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .bind(keep_family)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The family of a presented token, when it is a live token of `user_id`.
pub async fn live_family_of(
    tx: &mut TenantTx,
    presented: &Presented,
    user_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2
           AND user_id = $3 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(tx.tenant_id())
    .bind(&presented.digest)
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await
}
