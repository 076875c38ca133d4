//! `extensions`: a module runs a named extension point (`crate::extensions`). Always linked:
//! the points are the platform's, and what runs at one is the calling tenant's choice, read by
//! the call's [`ExtensionsBackend`] in the tenant transaction. A backend that cannot read the
//! installations answers `unavailable` and fails the call, as the store does.

use wasmtime::component::Linker;

use super::store::BoxFuture;
use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::extensions as wit;
use crate::runtime::instance::CallState;

pub use wit::ExtensionError;

/// Runs a point for the call's tenant: the point's combined output, or why the input was
/// refused. An extension's own failure is never an error here (the point's rule applies).
pub trait ExtensionsBackend: Send {
    fn run<'a>(
        &'a mut self,
        point: &'a str,
        input: &'a str,
    ) -> BoxFuture<'a, Result<String, ExtensionError>>;
}

pub struct ExtensionsState {
    backend: Box<dyn ExtensionsBackend>,
    unavailable: Option<String>,
}

impl ExtensionsState {
    pub fn new(backend: Box<dyn ExtensionsBackend>) -> Self {
        Self {
            backend,
            unavailable: None,
        }
    }

    /// Why the installations could not be read, if they could not: the call then fails.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<ExtensionsState>>(linker, |call| Granted {
        state: &mut call.extensions,
        calls: &mut call.host_calls,
    })
}

impl wit::Host for Granted<'_, ExtensionsState> {
    async fn run(
        &mut self,
        point: String,
        input: String,
    ) -> wasmtime::Result<Result<String, ExtensionError>> {
        self.calls.charge()?;
        let answer = self.state.backend.run(&point, &input).await;
        if let Err(ExtensionError::Unavailable(why)) = &answer {
            self.state.unavailable.get_or_insert_with(|| why.clone());
        }
        Ok(answer)
    }
}
