//! Waiting for the server's background work (the scheduler, event deliveries): poll a check
//! until it holds. The limit is a hang detector, not an assertion about speed.

use std::time::{Duration, Instant};

/// Long enough for a busy machine; a check still false after it is a hang.
pub const EVENTUALLY_LIMIT: Duration = Duration::from_secs(60);

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
