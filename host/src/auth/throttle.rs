//! Failed-login throttling, per account and per client address.
//!
//! Counters live in PostgreSQL (`login_throttle`), so every host behind a load balancer
//! applies the same limits. Keys are sha256 digests: the table holds no email addresses.
//! The account key is built from the tenant slug and email as typed, whether or not the
//! account exists, so throttling itself reveals nothing about which accounts exist.
//!
//! The two keys are treated differently, because anyone who knows an owner's email can fail
//! logins on that account:
//! - an *address* (an IPv6 client by its /64, [`client_address`](super::client_address)) has
//!   a hard limit: past `address_max_failures` attempts in the window it is locked out;
//! - an *account* is never locked. Past `account_max_failures` failures each further attempt
//!   must wait after the last one: 16 s, then twice as long after each further failure, up to
//!   `account_max_delay` (answered 429 with `Retry-After`), unless it comes from an address
//!   with no recent failures: the owner at their own address still gets in while someone
//!   else hammers the account, and the attacker's own guesses slow to a dozen an hour.

use std::net::IpAddr;
use std::time::Duration;

use super::client_address::{Cidr, throttle_key};

use sha2::{Digest, Sha256};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    pub account_max_failures: i32,
    pub address_max_failures: i32,
    /// Failures older than this no longer count.
    pub window: Duration,
    /// How long an address stays locked once it reaches its maximum.
    pub lockout: Duration,
    /// The longest delay between attempts on an account past its failures.
    pub account_max_delay: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`serve --trusted-proxies`).
    pub trusted_proxies: Vec<Cidr>,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account_max_failures: 5,
            address_max_failures: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            account_max_delay: Duration::from_secs(5 * 60),
            trusted_proxies: Vec::new(),
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
            address: digest(&format!("address\0{}", throttle_key(address))),
        }
    }
}

fn digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Counts this attempt *before* the password is checked, so that parallel guesses cannot
/// outrun the limits: first against the address (the attempt that goes over its maximum
/// locks it, and every attempt while it is locked is refused), then against the account
/// (past its failures, an attempt within the delay from an address that has failed recently
/// is refused and not counted). Each key is one atomic upsert, both in one transaction: the
/// address's row stays locked until the account's is counted, so parallel attempts from one
/// address are counted in one order and only the first can be the "fresh" one. Returns how
/// long to wait when the attempt is refused. A successful login then gives the attempt back
/// ([`record_success`]).
pub async fn begin_attempt(
    pool: &PgPool,
    keys: &AttemptKeys,
    settings: &ThrottleSettings,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The clock is a parameter: Citus refuses `now()` in `DO UPDATE SET` and `RETURNING`.
    let now = chrono::Utc::now();
    let (locked_until, address_failures): (Option<chrono::DateTime<chrono::Utc>>, i32) =
        sqlx::query_as(
            "INSERT INTO login_throttle AS t (key, failures, window_started_at) VALUES ($1, 1, $5)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE
               WHEN t.locked_until > $5 THEN t.failures
               WHEN t.window_started_at < $5 - make_interval(secs => $2) THEN 1
               WHEN t.failures + 1 > $3 THEN 0
               ELSE t.failures + 1 END,
           window_started_at = CASE
               WHEN t.locked_until > $5 THEN t.window_started_at
               WHEN t.window_started_at < $5 - make_interval(secs => $2) OR t.failures + 1 > $3
                   THEN $5
               ELSE t.window_started_at END,
           locked_until = CASE
               WHEN t.locked_until > $5 THEN t.locked_until
               WHEN t.window_started_at >= $5 - make_interval(secs => $2) AND t.failures + 1 > $3
                   THEN $5 + make_interval(secs => $4)
               ELSE NULL END
         RETURNING t.locked_until, t.failures",
        )
        .bind(&keys.address)
        .bind(settings.window.as_secs_f64())
        .bind(settings.address_max_failures)
        .bind(settings.lockout.as_secs_f64())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    if let Some(wait) = locked_until
        .and_then(|until| (until - now).to_std().ok())
        .filter(|wait| !wait.is_zero())
    {
        tx.commit().await?;
        return Ok(Some(wait));
    }
    // This attempt is the address's only one in the window.
    let fresh_address = address_failures == 1;

    // For an account, `window_started_at` is its last counted failure: the window restarts
    // with each, so a steady attack never lets the delay fall back. `locked_until` is unused.
    // The row is read locked and decided here, against the clock after the lock is granted
    // (`now()` is when the transaction began, possibly before an attempt that held the lock).
    let last: Option<(i32, f64)> = sqlx::query_as(
        "SELECT failures, extract(epoch FROM clock_timestamp() - window_started_at)::float8
         FROM login_throttle WHERE key = $1 FOR UPDATE",
    )
    .bind(&keys.account)
    .fetch_optional(&mut *tx)
    .await?;
    let expired = last.is_none_or(|(_, age)| age > settings.window.as_secs_f64());
    if let Some((failures, age)) = last
        && !expired
        && !fresh_address
        && failures >= settings.account_max_failures
    {
        let delay = account_delay(failures - settings.account_max_failures, settings);
        if age < delay {
            tx.commit().await?;
            return Ok(Some(Duration::from_secs_f64(delay - age)));
        }
    }
    sqlx::query(
        "INSERT INTO login_throttle AS t (key, failures, window_started_at)
         VALUES ($1, 1, clock_timestamp())
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN $2 THEN 1 ELSE t.failures + 1 END,
           window_started_at = EXCLUDED.window_started_at",
    )
    .bind(&keys.account)
    .bind(expired)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(None)
}

/// Seconds an account waits after its last failure, `past` failures beyond its free ones:
/// 16 s, doubling, up to the maximum.
fn account_delay(past: i32, settings: &ThrottleSettings) -> f64 {
    let doubled = 2f64.powi(past.clamp(0, 30) + 4);
    doubled.min(settings.account_max_delay.as_secs_f64())
}

/// A successful login clears the account's counter and gives the address its attempt back.
pub async fn record_success(pool: &PgPool, keys: &AttemptKeys) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_delay_doubles_up_to_its_maximum() {
        let settings = ThrottleSettings::default();
        let delays: Vec<f64> = (0..7).map(|past| account_delay(past, &settings)).collect();
        assert_eq!(delays, [16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]);
        assert_eq!(account_delay(i32::MAX - 10, &settings), 300.0);
    }
}
