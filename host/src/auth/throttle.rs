//! Failed-login throttling, per account and per client address.
//!
//! Counters live in PostgreSQL (`login_throttle`), so every host behind a load balancer
//! applies the same limits. Keys are sha256 digests: the table holds no email addresses.
//! The account key is built from the tenant slug and email as typed, whether or not the
//! account exists, so throttling itself reveals nothing about which accounts exist.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    pub account_max_failures: i32,
    pub address_max_failures: i32,
    /// Failures older than this no longer count.
    pub window: Duration,
    /// How long a key stays locked once it reaches its maximum.
    pub lockout: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account_max_failures: 5,
            address_max_failures: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// The two keys one login attempt counts against, with their limits.
pub struct AttemptKeys {
    account: String,
    address: String,
}

impl AttemptKeys {
    pub fn new(tenant_slug: &str, email: &str, address: IpAddr) -> Self {
        Self {
            account: digest(&format!(
                "account\0{}\0{}",
                tenant_slug,
                email.to_lowercase()
            )),
            address: digest(&format!("address\0{address}")),
        }
    }
}

fn digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How much longer either key stays locked, if it is.
pub async fn locked_for(
    pool: &PgPool,
    keys: &AttemptKeys,
) -> Result<Option<Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT max(extract(epoch FROM locked_until - now()))::float8 FROM login_throttle
         WHERE key = ANY($1) AND locked_until > now()",
    )
    .bind([keys.account.as_str(), keys.address.as_str()])
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

pub async fn record_failure(
    pool: &PgPool,
    keys: &AttemptKeys,
    settings: &ThrottleSettings,
) -> Result<(), sqlx::Error> {
    for (key, max) in [
        (&keys.account, settings.account_max_failures),
        (&keys.address, settings.address_max_failures),
    ] {
        sqlx::query(
            "INSERT INTO login_throttle AS t (key, failures, window_started_at) VALUES ($1, 1, now())
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN t.window_started_at < now() - make_interval(secs => $2)
                               THEN 1 ELSE t.failures + 1 END,
               window_started_at = CASE WHEN t.window_started_at < now() - make_interval(secs => $2)
                                        THEN now() ELSE t.window_started_at END",
        )
        .bind(key)
        .bind(settings.window.as_secs_f64())
        .execute(pool)
        .await?;
        sqlx::query(
            "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $3), failures = 0,
                    window_started_at = now()
             WHERE key = $1 AND failures >= $2",
        )
        .bind(key)
        .bind(max)
        .bind(settings.lockout.as_secs_f64())
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// A successful login clears the account's counter (the address keeps its own).
pub async fn record_success(pool: &PgPool, keys: &AttemptKeys) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(&keys.account)
        .execute(pool)
        .await?;
    Ok(())
}

/// Drops counters that can no longer matter; run periodically.
pub async fn prune(pool: &PgPool, settings: &ThrottleSettings) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM login_throttle
         WHERE window_started_at < now() - make_interval(secs => $1)
           AND (locked_until IS NULL OR locked_until < now())",
    )
    .bind(settings.window.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
