//! The job lifecycle: `unscheduled -> scheduled -> dispatched -> en_route -> in_progress ->
//! completed`, plus `on_hold` and `canceled`, with only the legal transitions.

pub const UNSCHEDULED: &str = "unscheduled";
pub const SCHEDULED: &str = "scheduled";
pub const DISPATCHED: &str = "dispatched";
pub const EN_ROUTE: &str = "en_route";
pub const IN_PROGRESS: &str = "in_progress";
pub const COMPLETED: &str = "completed";
pub const ON_HOLD: &str = "on_hold";
pub const CANCELED: &str = "canceled";

pub const ALL: [&str; 8] = [
    UNSCHEDULED,
    SCHEDULED,
    DISPATCHED,
    EN_ROUTE,
    IN_PROGRESS,
    COMPLETED,
    ON_HOLD,
    CANCELED,
];

/// Statuses a job holds a technician's time in (for overlap checks) and can still change.
pub const OPEN: [&str; 6] = [
    UNSCHEDULED,
    SCHEDULED,
    DISPATCHED,
    EN_ROUTE,
    IN_PROGRESS,
    ON_HOLD,
];

/// Whether `from -> to` is a legal transition.
pub fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        (UNSCHEDULED, SCHEDULED | ON_HOLD | CANCELED)
            | (SCHEDULED, UNSCHEDULED | DISPATCHED | ON_HOLD | CANCELED)
            | (DISPATCHED, SCHEDULED | EN_ROUTE | ON_HOLD | CANCELED)
            | (EN_ROUTE, IN_PROGRESS | ON_HOLD | CANCELED)
            | (IN_PROGRESS, COMPLETED | ON_HOLD)
            | (ON_HOLD, UNSCHEDULED | SCHEDULED | CANCELED)
    )
}

/// The transitions a technician makes on their own job from the field.
pub fn field_transition(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        (DISPATCHED, EN_ROUTE) | (EN_ROUTE, IN_PROGRESS) | (IN_PROGRESS, COMPLETED)
    )
}

/// The job column holding the time of the latest move into `status`.
pub fn timestamp_column(status: &str) -> Option<&'static str> {
    Some(match status {
        SCHEDULED => "scheduled_at",
        DISPATCHED => "dispatched_at",
        EN_ROUTE => "en_route_at",
        IN_PROGRESS => "started_at",
        COMPLETED => "completed_at",
        ON_HOLD => "on_hold_at",
        CANCELED => "canceled_at",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_legal_transitions() {
        let path = [
            UNSCHEDULED,
            SCHEDULED,
            DISPATCHED,
            EN_ROUTE,
            IN_PROGRESS,
            COMPLETED,
        ];
        for pair in path.windows(2) {
            assert!(allowed(pair[0], pair[1]), "{pair:?}");
        }
        assert!(!allowed(UNSCHEDULED, COMPLETED));
        assert!(!allowed(COMPLETED, SCHEDULED));
        assert!(!allowed(CANCELED, SCHEDULED));
        assert!(!allowed(IN_PROGRESS, CANCELED));
        assert!(!allowed(SCHEDULED, SCHEDULED));
        for from in ALL {
            assert!(!allowed(from, "bogus"));
            for to in ALL {
                if field_transition(from, to) {
                    assert!(allowed(from, to));
                }
            }
        }
    }
}
