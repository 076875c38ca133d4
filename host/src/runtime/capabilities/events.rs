//! `events`: domain events into the outbox. This capability checks that the module's manifest
//! declares the event type in `events.emit`, that the payload is a JSON object under
//! [`MAX_PAYLOAD_BYTES`], and hands it to the call's [`EventSink`]; the real sink inserts an
//! outbox row in the request's tenant transaction, so the event commits with its data.

use std::sync::Arc;

use wasmtime::component::Linker;

use super::store::{BoxFuture, JsonObject};
use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::events as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

pub use wit::EventError;

pub const MAX_PAYLOAD_BYTES: usize = 64 << 10;

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
}

impl EventsState {
    pub fn new(sink: Box<dyn EventSink>, grants: Arc<Manifest>) -> Self {
        Self {
            sink,
            grants,
            unavailable: None,
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
        let payload = match serde_json::from_str(&payload) {
            Ok(serde_json::Value::Object(payload)) => payload,
            _ => {
                return Ok(Err(EventError::Invalid(
                    "the payload is not a JSON object".into(),
                )));
            }
        };
        let outcome = events.sink.emit(&event_type, payload).await;
        if let Err(EventError::Unavailable(reason)) = &outcome {
            events.unavailable.get_or_insert_with(|| reason.clone());
        }
        Ok(outcome)
    }
}
