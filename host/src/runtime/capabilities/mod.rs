//! Capabilities: what a module can reach, one file per WIT import interface, in the style of
//! Spin's factors. Each file holds the capability's per-call state, how it links into the
//! `Linker`, and the manifest grant it checks. Adding a capability is one file, one field in
//! [`CallState`](super::instance::CallState) and one line in [`add_to_linker`].
//!
//! Every call into a capability is charged to the call's [`HostCalls`] budget first; past the
//! budget the import traps, which fails the call with `module_host_call_limit`. (WASI calls are
//! not charged: they reach no tenant data, and the deadline bounds them.)

pub mod config;
pub mod context;
pub mod events;
pub mod extensions;
pub mod http;
pub mod log;
pub mod payments;
pub mod store;
pub(super) mod wasi;

use wasmtime::component::{HasData, Linker};

use super::instance::CallState;

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    context::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    store::add_to_linker(linker)?;
    events::add_to_linker(linker)?;
    payments::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    http::add_to_linker(linker)?;
    extensions::add_to_linker(linker)?;
    Ok(())
}

/// The per-call count of host calls and its cap.
#[derive(Debug)]
pub struct HostCalls {
    made: u32,
    cap: u32,
}

/// The trap a capability raises when the module exceeds its host-call budget.
#[derive(Debug, thiserror::Error)]
#[error("the module made more than {cap} host calls")]
pub struct HostCallLimitExceeded {
    pub cap: u32,
}

impl HostCalls {
    pub fn new(cap: u32) -> Self {
        Self { made: 0, cap }
    }

    pub fn made(&self) -> u32 {
        self.made
    }

    /// Counts one call, or traps if the budget is spent.
    pub fn charge(&mut self) -> wasmtime::Result<()> {
        if self.made >= self.cap {
            return Err(wasmtime::Error::new(HostCallLimitExceeded {
                cap: self.cap,
            }));
        }
        self.made += 1;
        Ok(())
    }
}

/// What a capability's host functions see: its own state and the shared host-call budget.
pub struct Granted<'a, S> {
    pub state: &'a mut S,
    pub calls: &'a mut HostCalls,
}

/// `HasData` marker for a capability whose state is `S`.
pub struct Capability<S>(std::marker::PhantomData<S>);

impl<S: 'static> HasData for Capability<S> {
    type Data<'a> = Granted<'a, S>;
}
