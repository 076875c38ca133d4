//! `context`: who calls, for which tenant, and the time. Read-only and granted to every module;
//! the values are fixed when the call starts, so the clock is constant during a call.

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;
use wasmtime::component::Linker;

use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::context::{self, Instant, Principal};
use crate::runtime::instance::CallState;

/// The authenticated caller a module sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl Caller {
    /// The platform itself (event deliveries, scheduled ticks, publication): the nil user,
    /// no roles, no permissions. A module acts with its own grants only.
    pub fn platform() -> Self {
        Self {
            user_id: Uuid::nil(),
            roles: Vec::new(),
            permissions: Vec::new(),
        }
    }
}

pub struct ContextState {
    tenant_id: Uuid,
    time_zone: String,
    caller: Caller,
    request_id: String,
    now: Instant,
}

impl ContextState {
    pub fn new(tenant_id: Uuid, time_zone: String, caller: Caller, request_id: String) -> Self {
        let now = Utc::now();
        Self {
            tenant_id,
            time_zone,
            caller,
            request_id,
            now: Instant {
                rfc3339: now.to_rfc3339_opts(SecondsFormat::Millis, true),
                unix_ms: now.timestamp_millis(),
            },
        }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    context::add_to_linker::<_, Capability<ContextState>>(linker, |call| Granted {
        state: &mut call.context,
        calls: &mut call.host_calls,
    })
}

impl context::Host for Granted<'_, ContextState> {
    fn tenant_id(&mut self) -> wasmtime::Result<String> {
        self.calls.charge()?;
        Ok(self.state.tenant_id.to_string())
    }

    fn tenant_time_zone(&mut self) -> wasmtime::Result<String> {
        self.calls.charge()?;
        Ok(self.state.time_zone.clone())
    }

    fn caller(&mut self) -> wasmtime::Result<Principal> {
        self.calls.charge()?;
        let caller = &self.state.caller;
        Ok(Principal {
            user_id: caller.user_id.to_string(),
            roles: caller.roles.clone(),
            permissions: caller.permissions.clone(),
        })
    }

    fn request_id(&mut self) -> wasmtime::Result<String> {
        self.calls.charge()?;
        Ok(self.state.request_id.clone())
    }

    fn now(&mut self) -> wasmtime::Result<Instant> {
        self.calls.charge()?;
        Ok(self.state.now.clone())
    }
}
