//! How long a solve may search: the budget the client asks for, capped by the call's own
//! deadline so that the module answers its best plan rather than being interrupted.
//!
//! The host sends the milliseconds left before the deadline in `x-verofield-deadline-ms`
//! when it hands over the request. After the search the module still builds the answer,
//! stores the plan and serialises it, so a safety margin is kept back: a tenth of the
//! deadline plus [`FIXED_MARGIN_MS`].

use std::time::{Duration, Instant};

use verofield_sdk::Request;

pub const DEADLINE_HEADER: &str = "x-verofield-deadline-ms";
pub const DEFAULT_BUDGET_MS: u64 = 2_000;
pub const MAX_BUDGET_MS: u64 = 600_000;
const FIXED_MARGIN_MS: u64 = 250;

/// The call's deadline as the module sees it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When the handler started (close enough to when the header was written).
    started: Instant,
    /// Milliseconds the host gave the call, if it said.
    total_ms: Option<u64>,
}

/// What the search was allowed, for the answer's `search` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub requested_ms: u64,
    pub effective_ms: u64,
    pub capped_by_deadline: bool,
}

impl Deadline {
    pub fn of(request: &Request) -> Self {
        Self {
            started: Instant::now(),
            total_ms: request
                .header(DEADLINE_HEADER)
                .and_then(|value| value.trim().parse().ok()),
        }
    }

    /// The budget left for the search now: the requested one, or less if the deadline
    /// (minus the margin, minus what the call already spent) is closer.
    pub fn budget(&self, requested_ms: u64) -> Budget {
        let Some(total) = self.total_ms else {
            return Budget {
                requested_ms,
                effective_ms: requested_ms,
                capped_by_deadline: false,
            };
        };
        let margin = total / 10 + FIXED_MARGIN_MS;
        let spent = self.started.elapsed().as_millis() as u64;
        let available = total.saturating_sub(margin).saturating_sub(spent);
        Budget {
            requested_ms,
            effective_ms: requested_ms.min(available),
            capped_by_deadline: available < requested_ms,
        }
    }
}

impl Budget {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.effective_ms)
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
    fn the_deadline_caps_the_budget_with_a_margin() {
        let free = Deadline::of(&with_deadline(None)).budget(10_000);
        assert_eq!(
            (free.effective_ms, free.capped_by_deadline),
            (10_000, false)
        );
        let roomy = Deadline::of(&with_deadline(Some("30000"))).budget(10_000);
        assert_eq!(
            (roomy.effective_ms, roomy.capped_by_deadline),
            (10_000, false)
        );
        let tight = Deadline::of(&with_deadline(Some("2000"))).budget(10_000);
        assert!(tight.capped_by_deadline);
        assert!(tight.effective_ms <= 2_000 - 200 - 250, "{tight:?}");
        assert!(tight.effective_ms >= 1_500, "{tight:?}");
        let gone = Deadline::of(&with_deadline(Some("100"))).budget(10_000);
        assert_eq!(gone.effective_ms, 0);
    }
}
