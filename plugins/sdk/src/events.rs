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
