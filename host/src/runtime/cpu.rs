//! The CPU time one module call uses: the calling thread's CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`) read around every poll of the call's future, summed. A call is
//! async and may hop threads between polls (an epoch yield, a store query awaited), so one
//! reading at each end would count other tasks' work or miss this one's; within a poll the
//! thread runs only this call. What it counts: the guest's instructions and the host's work
//! for it inside the poll (capabilities, encoding, the database driver); not the database
//! server's CPU, nor other tasks (the outbox delivering its events). Fuel would count guest
//! instructions deterministically but slows every instruction; see docs/ARCHITECTURE.md,
//! "Usage metering", for the numbers.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use nix::time::{ClockId, clock_gettime};

/// This thread's CPU time so far (zero if the clock cannot be read: the figure then under-
/// counts rather than fail the call).
fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Runs `future` to completion and returns its output with the CPU time its polls used.
pub async fn measured<F: Future>(future: F) -> (F::Output, Duration) {
    let mut future = pin!(future);
    let mut spent = Duration::ZERO;
    let output = std::future::poll_fn(|cx| -> Poll<F::Output> {
        let before = thread_cpu();
        let poll = future.as_mut().poll(cx);
        spent += thread_cpu().saturating_sub(before);
        poll
    })
    .await;
    (output, spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_busy_polls_and_not_sleeps() {
        // Spin until this thread has used 30 ms of CPU, however loaded the machine is.
        let ((), busy) = measured(async {
            let start = thread_cpu();
            while thread_cpu() - start < Duration::from_millis(30) {
                std::hint::black_box(0u64);
            }
        })
        .await;
        assert!(busy >= Duration::from_millis(30), "{busy:?}");
        let ((), idle) = measured(tokio::time::sleep(Duration::from_millis(50))).await;
        assert!(idle < busy, "{idle:?}");
    }
}
