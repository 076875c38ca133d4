//! Waiting for the server's background work (event deliveries, retries, the scheduler): polls
//! a check until it yields, and fails the test with what was awaited after a generous deadline.
//! A hang detector, not a timing: the tests assert what happened, never how fast.

use std::time::{Duration, Instant};

/// Long enough for a busy machine; a check still false after it is a hang.
pub const EVENTUALLY_LIMIT: Duration = Duration::from_secs(120);

/// Polls `check` every 50 ms until it returns `Some`, and returns that; panics naming `what`
/// after [`EVENTUALLY_LIMIT`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < EVENTUALLY_LIMIT,
            "still waiting after {EVENTUALLY_LIMIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
