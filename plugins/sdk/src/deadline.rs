//! The call's deadline as the module sees it, so that long work stops in time and answers
//! what it has (a routing search, a batch of generated jobs) instead of being interrupted.
//!
//! The host sends the milliseconds left before the call's deadline in
//! `x-verofield-deadline-ms` when it hands over the request. The module still has to build,
//! store and serialise its answer after the work, so a margin is kept back: a tenth of the
//! deadline plus [`FIXED_MARGIN_MS`]. How long a host call takes depends on the host's load,
//! which is why work bounded only by a count is not enough.

use std::time::Instant;

use crate::Request;

pub const DEADLINE_HEADER: &str = "x-verofield-deadline-ms";
const FIXED_MARGIN_MS: u64 = 250;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When the handler started (close enough to when the header was written).
    started: Instant,
    /// Milliseconds the host gave the call, if it said.
    total_ms: Option<u64>,
}

impl Deadline {
    pub fn of(request: &Request) -> Self {
        Self::starting_now(
            request
                .header(DEADLINE_HEADER)
                .and_then(|value| value.trim().parse().ok()),
        )
    }

    /// A deadline `total_ms` from now (`None`: no deadline).
    pub fn starting_now(total_ms: Option<u64>) -> Self {
        Self {
            started: Instant::now(),
            total_ms,
        }
    }

    /// Milliseconds that may still go to work, the margin kept back; `None` when the host
    /// gave no deadline (native tests).
    pub fn available_ms(&self) -> Option<u64> {
        let total = self.total_ms?;
        let margin = total / 10 + FIXED_MARGIN_MS;
        let spent = self.started.elapsed().as_millis() as u64;
        Some(total.saturating_sub(margin).saturating_sub(spent))
    }

    /// Whether work should stop now and the answer go out.
    pub fn exhausted(&self) -> bool {
        self.available_ms() == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_deadline(ms: Option<&str>) -> Request {
        Request {
            headers: ms
                .map(|ms| vec![(DEADLINE_HEADER.to_owned(), ms.to_owned())])
                .unwrap_or_default(),
            ..Request::default()
        }
    }

    #[test]
    fn the_margin_is_kept_back_and_no_header_means_no_limit() {
        assert_eq!(Deadline::of(&with_deadline(None)).available_ms(), None);
        assert!(!Deadline::of(&with_deadline(None)).exhausted());
        assert_eq!(
            Deadline::of(&with_deadline(Some("junk"))).available_ms(),
            None
        );
        let tight = Deadline::of(&with_deadline(Some("2000")))
            .available_ms()
            .unwrap();
        assert!((1_500..=2_000 - 200 - 250).contains(&tight), "{tight}");
        let gone = Deadline::of(&with_deadline(Some("100")));
        assert_eq!(gone.available_ms(), Some(0));
        assert!(gone.exhausted());
    }
}
