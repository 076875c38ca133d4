//! Who receives an event: the modules serving the tenant whose manifest subscribes to its type
//! (`module:<slot>`), and the tenant's enabled webhook endpoints whose filters take it
//! (`webhook:<endpoint id>`). Read once per fan-out batch, in the tenant's transaction.
//!
//! A module subscription names the slot, not the version: a delivery goes to whatever version
//! serves the slot when it is delivered, so a rebind applies to the events still queued.

use uuid::Uuid;

use super::types;
use crate::error::Result;
use crate::registry::{self, Registry};
use crate::runtime::ModuleHandle;
use crate::tenancy::TenantTx;
use crate::webhooks;

/// A subscriber, as its delivery row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriber {
    Module(String),
    Webhook(Uuid),
}

impl Subscriber {
    pub fn parse(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("module", slot) => Some(Self::Module(slot.to_owned())),
            ("webhook", id) => id.parse().ok().map(Self::Webhook),
            _ => None,
        }
    }

    pub fn key(&self) -> String {
        match self {
            Self::Module(slot) => format!("module:{slot}"),
            Self::Webhook(id) => format!("webhook:{id}"),
        }
    }
}

/// The tenant's subscriptions at one moment.
pub struct Subscriptions {
    /// (slot, patterns) of each serving module that subscribes to anything.
    modules: Vec<(String, Vec<String>)>,
    /// (endpoint, filters) of each enabled endpoint.
    webhooks: Vec<(Uuid, Vec<String>)>,
}

impl Subscriptions {
    pub async fn load(tx: &mut TenantTx, registry: &Registry) -> Result<Self> {
        let bindings = registry::bindings_of(tx).await?;
        let mut modules = Vec::new();
        for slot in registry.slots(&bindings) {
            if let Some(module) = serving(registry, &bindings, &slot).await?
                && !module.manifest.events.subscribe.is_empty()
            {
                modules.push((slot, module.manifest.events.subscribe.clone()));
            }
        }
        let webhooks = webhooks::store::enabled_filters(tx).await?;
        Ok(Self { modules, webhooks })
    }

    /// The subscribers of an event type.
    pub fn of(&self, event_type: &str) -> Vec<Subscriber> {
        let modules = self
            .modules
            .iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| types::selects(p, event_type)))
            .map(|(slot, _)| Subscriber::Module(slot.clone()));
        let webhooks = self
            .webhooks
            .iter()
            .filter(|(_, filters)| webhooks::store::filters_match(filters, event_type))
            .map(|(id, _)| Subscriber::Webhook(*id));
        modules.chain(webhooks).collect()
    }
}

/// The module serving `slot` for a tenant with these bindings, if any.
pub async fn serving(
    registry: &Registry,
    bindings: &std::collections::HashMap<String, String>,
    slot: &str,
) -> Result<Option<ModuleHandle>> {
    match registry.serving(bindings, slot) {
        Some(digest) => registry.module(&digest).await.map(Some),
        None => Ok(None),
    }
}
