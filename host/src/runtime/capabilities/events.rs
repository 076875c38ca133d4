//! `events`: domain events into the outbox. This capability checks that the module's manifest
//! declares the event type in `events.emit`, that the payload is a JSON object under
//! [`MAX_PAYLOAD_BYTES`], and hands it to the call's [`EventSink`]; the real sink inserts an
//! outbox row in the request's tenant transaction, so the event commits with its data.
//!
//! One call emits at most [`MAX_EVENTS_PER_CALL`] events of [`MAX_EVENT_BYTES_PER_CALL`] in
//! all (type and payload): past either cap `emit` answers `invalid` and writes nothing, so a
//! looping module cannot fill the outbox (and the transaction) without bound.

use std::sync::Arc;

use wasmtime::component::Linker;

use super::store::{BoxFuture, JsonObject};
use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::events as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

pub use wit::EventError;

pub const MAX_PAYLOAD_BYTES: usize = 64 << 10;
pub const MAX_EVENTS_PER_CALL: usize = 100;
pub const MAX_EVENT_BYTES_PER_CALL: usize = 1 << 20;

/// Where one call's events go. Implementations hold the request's `TenantTx`.
pub trait EventSink: Send {
    fn emit<'a>(
        &'a mut self,
        event_type: &'a str,
        payload: JsonObject,
    ) -> BoxFuture<'a, Result<(), EventError>>;
}

pub struct EventsState {
    sink: Box<dyn EventSink>,
    grants: Arc<Manifest>,
    unavailable: Option<String>,
    /// Events accepted so far in this call, and their bytes (type and payload).
    emitted: usize,
    emitted_bytes: usize,
}

impl EventsState {
    /// Events the sink accepted in this call (for usage metering).
    pub fn emitted(&self) -> u32 {
        u32::try_from(self.emitted).unwrap_or(u32::MAX)
    }

    pub fn new(sink: Box<dyn EventSink>, grants: Arc<Manifest>) -> Self {
        Self {
            sink,
            grants,
            unavailable: None,
            emitted: 0,
            emitted_bytes: 0,
        }
    }

    /// Why the sink became unavailable during the call, if it did.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<EventsState>>(linker, |call| Granted {
        state: &mut call.events,
        calls: &mut call.host_calls,
    })
}

impl wit::Host for Granted<'_, EventsState> {
    async fn emit(
        &mut self,
        event_type: String,
        payload: String,
    ) -> wasmtime::Result<Result<(), EventError>> {
        self.calls.charge()?;
        let events = &mut *self.state;
        if !events.grants.events.emit.contains(&event_type) {
            return Ok(Err(EventError::NotGranted(format!(
                "event type `{event_type}` is not declared"
            ))));
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Ok(Err(EventError::Invalid(format!(
                "payload over {MAX_PAYLOAD_BYTES} bytes"
            ))));
        }
        let bytes = event_type.len() + payload.len();
        if events.emitted >= MAX_EVENTS_PER_CALL {
            return Ok(Err(EventError::Invalid(format!(
                "more than {MAX_EVENTS_PER_CALL} events in one call"
            ))));
        }
        if events.emitted_bytes + bytes > MAX_EVENT_BYTES_PER_CALL {
            return Ok(Err(EventError::Invalid(format!(
                "events over {MAX_EVENT_BYTES_PER_CALL} bytes in one call"
            ))));
        }
        let payload = match serde_json::from_str(&payload) {
            Ok(serde_json::Value::Object(payload)) => payload,
            _ => {
                return Ok(Err(EventError::Invalid(
                    "the payload is not a JSON object".into(),
                )));
            }
        };
        let outcome = events.sink.emit(&event_type, payload).await;
        if outcome.is_ok() {
            events.emitted += 1;
            events.emitted_bytes += bytes;
        }
        if let Err(EventError::Unavailable(reason)) = &outcome {
            events.unavailable.get_or_insert_with(|| reason.clone());
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::HostCalls;

    /// Counts what reaches the outbox.
    struct Counting(Arc<std::sync::atomic::AtomicUsize>);

    impl EventSink for Counting {
        fn emit<'a>(
            &'a mut self,
            _: &'a str,
            _: JsonObject,
        ) -> BoxFuture<'a, Result<(), EventError>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async { Ok(()) })
        }
    }

    fn state(sink: Counting) -> EventsState {
        let manifest = Manifest::parse(
            r#"{"name": "flood", "version": "1.0.0", "slot": "flood", "routes": [],
                "events": {"emit": ["flood.step"], "subscribe": []}}"#,
        )
        .unwrap();
        EventsState::new(Box::new(sink), Arc::new(manifest))
    }

    async fn emit(state: &mut EventsState, payload: String) -> Result<(), EventError> {
        let mut calls = HostCalls::new(100_000);
        let mut granted = Granted {
            state,
            calls: &mut calls,
        };
        wit::Host::emit(&mut granted, "flood.step".into(), payload)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_call_emits_at_most_its_count_of_events() {
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut state = state(Counting(written.clone()));
        for _ in 0..MAX_EVENTS_PER_CALL {
            emit(&mut state, "{}".into()).await.unwrap();
        }
        let over = emit(&mut state, "{}".into()).await;
        assert!(
            matches!(over, Err(EventError::Invalid(ref m)) if m.contains("events in one call")),
            "{over:?}"
        );
        assert_eq!(
            written.load(std::sync::atomic::Ordering::Relaxed),
            MAX_EVENTS_PER_CALL
        );
    }

    #[tokio::test]
    async fn a_call_emits_at_most_its_bytes_of_events() {
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut state = state(Counting(written.clone()));
        // 60 KiB payloads: 17 fit in 1 MiB, the 18th does not (well under the count cap).
        let payload = format!(r#"{{"pad":"{}"}}"#, "x".repeat(60 << 10));
        let mut accepted = 0;
        for _ in 0..MAX_EVENTS_PER_CALL {
            if emit(&mut state, payload.clone()).await.is_err() {
                break;
            }
            accepted += 1;
        }
        assert_eq!(
            accepted,
            MAX_EVENT_BYTES_PER_CALL / (payload.len() + "flood.step".len())
        );
        assert_eq!(written.load(std::sync::atomic::Ordering::Relaxed), accepted);
    }
}
