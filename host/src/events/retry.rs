//! When a failed delivery is tried again, and when it is given up.
//!
//! The delay grows fourfold per attempt from `base` up to `max_delay`, with ±20 % jitter so
//! that the deliveries one outage failed together do not come back together. A module
//! subscriber is given up after `module_attempts` attempts (its failures are bugs or limits,
//! and a retry an hour later rarely helps); a webhook for `webhook_window` after its delivery
//! was created (receivers go down for maintenance: 3 days by default, then the endpoint is
//! disabled if it never succeeded meanwhile).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::deliveries::{Claimed, Next};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_delay: Duration,
    pub module_attempts: i32,
    pub webhook_window: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(6 * 3600),
            module_attempts: 10,
            webhook_window: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The pause after the `attempts`-th failure, before jitter.
    pub fn delay(&self, attempts: i32) -> Duration {
        let factor = 4u32.saturating_pow(attempts.clamp(1, 16) as u32 - 1);
        self.base.saturating_mul(factor).min(self.max_delay)
    }

    /// What follows a failed attempt of a module delivery.
    pub fn after_module_failure(&self, claimed: &Claimed, now: DateTime<Utc>) -> Next {
        if claimed.attempts >= self.module_attempts {
            return Next::Bury;
        }
        Next::RetryAt(now + jittered(self.delay(claimed.attempts)))
    }

    /// What follows a failed attempt of a webhook delivery.
    pub fn after_webhook_failure(&self, claimed: &Claimed, now: DateTime<Utc>) -> Next {
        let at = now + jittered(self.delay(claimed.attempts));
        let window =
            chrono::Duration::from_std(self.webhook_window).unwrap_or(chrono::Duration::MAX);
        if at > claimed.created_at + window {
            Next::Bury
        } else {
            Next::RetryAt(at)
        }
    }
}

fn jittered(delay: Duration) -> chrono::Duration {
    let factor = rand::rng().random_range(0.8..1.2);
    chrono::Duration::from_std(delay.mul_f64(factor)).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_fourfold_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1), Duration::from_secs(1));
        assert_eq!(policy.delay(2), Duration::from_secs(4));
        assert_eq!(policy.delay(5), Duration::from_secs(256));
        assert_eq!(policy.delay(12), Duration::from_secs(6 * 3600));
        assert_eq!(policy.delay(1_000), Duration::from_secs(6 * 3600));
    }

    #[test]
    fn the_default_webhook_schedule_spans_about_three_days() {
        let policy = RetryPolicy::default();
        let mut elapsed = Duration::ZERO;
        let mut attempts = 0;
        while elapsed < policy.webhook_window {
            attempts += 1;
            elapsed += policy.delay(attempts);
        }
        assert!((15..=20).contains(&attempts), "{attempts} attempts");
    }
}
