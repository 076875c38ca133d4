//! The tenant's connected Stripe account (`payments.stripe_accounts`, migration 0013): one per
//! tenant, each account at most one tenant's. Read and written in the tenant's transaction
//! (the app role sees only its own row); [`tenant_of`] is the webhook's look-up across tenants.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::tenancy::TenantTx;

/// `acct_` and letters or digits, as Stripe's account ids are (and the table's check).
pub fn is_account_id(text: &str) -> bool {
    text.strip_prefix("acct_").is_some_and(|rest| {
        (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

pub async fn get(tx: &mut TenantTx) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT stripe_account FROM payments.stripe_accounts WHERE tenant_id = $1")
        .bind(tx.tenant_id())
        .fetch_optional(tx.conn())
        .await
}

/// Sets (or replaces) the tenant's account. An account another tenant holds fails with a
/// unique violation on the primary key.
pub async fn set(tx: &mut TenantTx, account: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payments.stripe_accounts (stripe_account, tenant_id) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET stripe_account = $1, updated_at = EXCLUDED.updated_at",
    )
    .bind(account)
    .bind(tx.tenant_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The tenant an account belongs to, as the login role (outside any tenant scope).
pub async fn tenant_of(
    conn: &mut PgConnection,
    account: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT tenant_id FROM payments.stripe_accounts WHERE stripe_account = $1")
        .bind(account)
        .fetch_optional(conn)
        .await
}
