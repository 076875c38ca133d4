//! A fixed pause before every store statement, so that tests of deadline behaviour (a job
//! generation that stops in time, say) see the same number of store calls fit in a deadline
//! on an idle machine and on a loaded one. Set with `serve --test-store-delay-ms`, which only
//! debug builds accept (`cli.rs` refuses it in a release build); unset, the store never waits.

use std::sync::OnceLock;
use std::time::Duration;

static DELAY: OnceLock<Duration> = OnceLock::new();

/// Sets the pause for this process; the first setting stays.
pub fn install(delay: Duration) {
    if !delay.is_zero() {
        let _ = DELAY.set(delay);
        tracing::warn!(?delay, "every store statement waits first (a test setting)");
    }
}

pub(super) async fn wait() {
    if let Some(delay) = DELAY.get() {
        tokio::time::sleep(*delay).await;
    }
}
