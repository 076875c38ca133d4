//! Password resets: one-time, expiring tokens that let a person set a new password.
//!
//! Issuing a reset spends the user's earlier open ones, so only the newest link works.
//! Redeeming is two steps around the argon2 work, like accepting an invitation: [`pending`]
//! finds the open reset in a short transaction of its own, then [`redeem`] spends it, sets the
//! password and revokes every refresh-token family of the user, atomically and under the same
//! conditions again (the reset may have been used while the password was hashed).

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::one_time::{self, Issued, Presented, RESET_PREFIX};
use super::refresh;
use crate::tenancy::TenantTx;

/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(3600);

/// Issues a reset for `user_id`; `issued_by` is the admin, or None when the user asked.
pub async fn issue(
    tx: &mut TenantTx,
    user_id: Uuid,
    issued_by: Option<Uuid>,
) -> Result<Issued, sqlx::Error> {
    spend_open(tx, user_id).await?;
    let minted = one_time::mint(RESET_PREFIX, tx.tenant_id());
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO password_resets (tenant_id, id, user_id, token_hash, issued_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         RETURNING expires_at",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(&minted.digest)
    .bind(issued_by)
    .bind(RESET_TTL.as_secs_f64())
    .fetch_one(tx.conn())
    .await?;
    Ok(Issued {
        token: minted.token,
        expires_at,
    })
}

/// Whether the user asked for a reset in the last minute: a forgotten-password request is
/// then not mailed again, so the form cannot be used to flood someone's mailbox.
pub async fn asked_recently(tx: &mut TenantTx, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM password_resets WHERE tenant_id = $1 AND user_id = $2
           AND issued_by IS NULL AND created_at > now() - interval '1 minute')",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .fetch_one(tx.conn())
    .await
}

/// The user an open (unused, unexpired) reset belongs to, if it is still an active user.
pub async fn pending(
    tx: &mut TenantTx,
    presented: &Presented,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.user_id FROM password_resets r
         JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id
         WHERE r.tenant_id = $1 AND r.token_hash = $2 AND r.used_at IS NULL
           AND r.expires_at > now() AND u.status = 'active'",
    )
    .bind(tx.tenant_id())
    .bind(&presented.digest)
    .fetch_optional(tx.conn())
    .await
}

/// Spends the reset, sets the password and signs the user out everywhere. None when the
/// reset is no longer open.
pub async fn redeem(
    tx: &mut TenantTx,
    presented: &Presented,
    password_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let spent: Option<Uuid> = sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now()
         WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
    )
    .bind(tx.tenant_id())
    .bind(&presented.digest)
    .fetch_optional(tx.conn())
    .await?;
    let Some(user_id) = spent else {
        return Ok(None);
    };
    let changed = sqlx::query(
        "UPDATE users SET password_hash = $3, version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .bind(password_hash)
    .execute(tx.conn())
    .await?;
    if changed.rows_affected() == 0 {
        return Ok(None);
    }
    spend_open(tx, user_id).await?;
    refresh::revoke_user(tx, user_id, None).await?;
    Ok(Some(user_id))
}

async fn spend_open(tx: &mut TenantTx, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE password_resets SET used_at = now()
         WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
