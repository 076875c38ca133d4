//! Emitting domain events into the host's transactional outbox: the event is delivered only
//! if the call's transaction commits, so emit right after the write it describes.

use serde::Serialize;

use crate::bindings::verofield::platform::events as wit;
use crate::problem::Problem;

/// Emits an event of a type the manifest declares, with a JSON object payload. Failing to
/// emit fails the request (the data and its event commit together or not at all).
pub fn emit(event_type: &str, payload: &impl Serialize) -> Result<(), Problem> {
    let payload = serde_json::to_string(payload)
        .map_err(|error| Problem::internal(&format!("event payload: {error}")))?;
    wit::emit(event_type, &payload).map_err(|error| match error {
        wit::EventError::Unavailable(_) => Problem::new(
            503,
            "events_unavailable",
            "the event outbox did not answer; retry later",
        ),
        wit::EventError::NotGranted(what) => {
            Problem::internal(&format!("event type not declared: {what}"))
        }
        wit::EventError::Invalid(why) => Problem::internal(&format!("event refused: {why}")),
    })
}

/// The event type of a scheduled run: the host delivers one to the module whose manifest
/// declares the task (`schedules`), with payload `{"task", "scheduled_for", "timezone"}`.
pub const SCHEDULE_TICK: &str = "schedule.tick";

/// The name of the task a `schedule.tick` event runs; None for any other event (or a tick
/// whose payload names no task).
pub fn scheduled_task(event: &crate::Event) -> Option<String> {
    if event.event_type != SCHEDULE_TICK {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(&event.payload).ok()?;
    payload.get("task")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, payload: &str) -> crate::Event {
        crate::Event {
            id: "0190b3a0-0000-7000-8000-000000000000".into(),
            event_type: event_type.into(),
            payload: payload.into(),
            occurred_at: "2026-12-06T06:00:00Z".into(),
            source: "host".into(),
        }
    }

    #[test]
    fn names_the_task_of_a_tick_only() {
        let tick = event(
            SCHEDULE_TICK,
            r#"{"task": "extend-horizon", "scheduled_for": "2026-12-06T06:00:00Z", "timezone": "UTC"}"#,
        );
        assert_eq!(scheduled_task(&tick).as_deref(), Some("extend-horizon"));
        assert_eq!(
            scheduled_task(&event("job.completed", r#"{"task": "x"}"#)),
            None
        );
        assert_eq!(scheduled_task(&event(SCHEDULE_TICK, "{}")), None);
    }
}
