//! Waiting for what a request sets off in the background (event deliveries, retries): polls a
//! check until it yields, and fails the test with what was awaited after a generous deadline.
//! A deadline, not a timing: the tests assert what happened, never how fast.

use std::future::Future;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(120);
const PAUSE: Duration = Duration::from_millis(50);

/// The first `Some` the check yields.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "waited {DEADLINE:?} for {what}"
        );
        tokio::time::sleep(PAUSE).await;
    }
}
