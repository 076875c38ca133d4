//! `config`: the calling tenant's configuration and secrets for the calling module. Always
//! linked (a module without a `config` declaration reads `{}` and no secret). The call's
//! [`ConfigBackend`] reads the settings once, on the first call, in the tenant transaction,
//! keyed by the calling module's name (never a name the module passes), and opens the secrets;
//! a secret the manifest does not declare is answered none without a look-up.

use std::collections::HashMap;

use wasmtime::component::Linker;

use super::store::BoxFuture;
use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::config as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

/// One tenant's settings of one module, secrets decrypted.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// JSON object text.
    pub config: String,
    pub secrets: HashMap<String, String>,
}

/// Reads the settings of the call's tenant and module. Implementations hold the tenant
/// transaction and the key that opens the secrets.
pub trait ConfigBackend: Send {
    fn load(&mut self) -> BoxFuture<'_, anyhow::Result<Settings>>;
}

pub struct ConfigState {
    backend: Box<dyn ConfigBackend>,
    declared: Vec<String>,
    loaded: Option<Settings>,
}

impl ConfigState {
    pub fn new(backend: Box<dyn ConfigBackend>, grants: &Manifest) -> Self {
        Self {
            backend,
            declared: grants.config.secrets.clone(),
            loaded: None,
        }
    }

    /// The settings, read on first use. A failed read fails the call: the transaction is
    /// lost, and a module must not go on as if its tenant had set nothing.
    async fn settings(&mut self) -> wasmtime::Result<&Settings> {
        if self.loaded.is_none() {
            let settings = self.backend.load().await.map_err(|error| {
                wasmtime::Error::msg(format!("reading the module's settings: {error:#}"))
            })?;
            self.loaded = Some(settings);
        }
        Ok(self.loaded.get_or_insert_with(Settings::default))
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<ConfigState>>(linker, |call| Granted {
        state: &mut call.config,
        calls: &mut call.host_calls,
    })
}

impl wit::Host for Granted<'_, ConfigState> {
    async fn get(&mut self) -> wasmtime::Result<String> {
        self.calls.charge()?;
        Ok(self.state.settings().await?.config.clone())
    }

    async fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        self.calls.charge()?;
        if !self.state.declared.contains(&name) {
            return Ok(None);
        }
        Ok(self.state.settings().await?.secrets.get(&name).cloned())
    }
}
