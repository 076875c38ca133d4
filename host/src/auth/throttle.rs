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

/// Counts this attempt against both keys *before* the password is checked, so that parallel
/// guesses cannot outrun the limit: the attempt that goes over a key's maximum locks that
/// key, and every attempt while a key is locked is refused. Returns how long to wait when
/// the attempt is refused. A successful login then gives the attempt back
/// ([`record_success`]).
pub async fn begin_attempt(
    pool: &PgPool,
    keys: &AttemptKeys,
    settings: &ThrottleSettings,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut wait: Option<f64> = None;
    for (key, max) in [
        (&keys.account, settings.account_max_failures),
        (&keys.address, settings.address_max_failures),
    ] {
        let locked_for: Option<f64> = sqlx::query_scalar(
            "INSERT INTO login_throttle AS t (key, failures, window_started_at) VALUES ($1, 1, now())
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE
                   WHEN t.locked_until > now() THEN t.failures
                   WHEN t.window_started_at < now() - make_interval(secs => $2) THEN 1
                   WHEN t.failures + 1 > $3 THEN 0
                   ELSE t.failures + 1 END,
               window_started_at = CASE
                   WHEN t.locked_until > now() THEN t.window_started_at
                   WHEN t.window_started_at < now() - make_interval(secs => $2) OR t.failures + 1 > $3
                       THEN now()
                   ELSE t.window_started_at END,
               locked_until = CASE
                   WHEN t.locked_until > now() THEN t.locked_until
                   WHEN t.window_started_at >= now() - make_interval(secs => $2) AND t.failures + 1 > $3
                       THEN now() + make_interval(secs => $4)
                   ELSE NULL END
             RETURNING extract(epoch FROM t.locked_until - now())::float8",
        )
        .bind(key)
        .bind(settings.window.as_secs_f64())
        .bind(max)
        .bind(settings.lockout.as_secs_f64())
        .fetch_one(pool)
        .await?;
        if let Some(seconds) = locked_for.filter(|s| *s > 0.0) {
            wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
        }
    }
    Ok(wait.map(Duration::from_secs_f64))
}

/// A successful login clears the account's counter and gives the address its attempt back.
pub async fn record_success(pool: &PgPool, keys: &AttemptKeys) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())",
    )
    .bind(&keys.account)
    .execute(pool)
    .await?;
    sqlx::query("UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1")
        .bind(&keys.address)
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
