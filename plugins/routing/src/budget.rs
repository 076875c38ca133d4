//! How long a solve may search: the budget the client asks for, capped by the call's own
//! deadline ([`Deadline`], from the SDK) so that the module answers its best plan rather
//! than being interrupted.

use std::time::Duration;

use verofield_sdk::Deadline;

pub const DEFAULT_BUDGET_MS: u64 = 2_000;
pub const MAX_BUDGET_MS: u64 = 600_000;

/// What the search was allowed, for the answer's `search` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub requested_ms: u64,
    pub effective_ms: u64,
    pub capped_by_deadline: bool,
}

impl Budget {
    /// The budget left for the search now: the requested one, or less if what the
    /// deadline leaves is less.
    pub fn within(deadline: &Deadline, requested_ms: u64) -> Self {
        let Some(available) = deadline.available_ms() else {
            return Self {
                requested_ms,
                effective_ms: requested_ms,
                capped_by_deadline: false,
            };
        };
        Self {
            requested_ms,
            effective_ms: requested_ms.min(available),
            capped_by_deadline: available < requested_ms,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.effective_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_deadline(ms: Option<u64>) -> Deadline {
        Deadline::starting_now(ms)
    }

    #[test]
    fn the_deadline_caps_the_budget_with_a_margin() {
        let free = Budget::within(&with_deadline(None), 10_000);
        assert_eq!(
            (free.effective_ms, free.capped_by_deadline),
            (10_000, false)
        );
        let roomy = Budget::within(&with_deadline(Some(30_000)), 10_000);
        assert_eq!(
            (roomy.effective_ms, roomy.capped_by_deadline),
            (10_000, false)
        );
        let tight = Budget::within(&with_deadline(Some(2_000)), 10_000);
        assert!(tight.capped_by_deadline);
        assert!(tight.effective_ms <= 2_000 - 200 - 250, "{tight:?}");
        assert!(tight.effective_ms >= 1_500, "{tight:?}");
        let gone = Budget::within(&with_deadline(Some(100)), 10_000);
        assert_eq!(gone.effective_ms, 0);
    }
}
