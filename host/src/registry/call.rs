//! One module call, from a tenant's slot to the module's answer: the one place that knows how.
//!
//! [`Registry::route`] resolves the slot to the version serving the tenant and matches the
//! manifest route once ([`Manifest::route`](crate::runtime::Manifest::route)); the caller checks
//! the route's permission. [`Registry::call`] then runs the module inside the tenant's
//! transaction, with the store and the outbox bound to that transaction, records the call's
//! metrics, and hands the transaction back so that the caller decides to commit (an answer
//! below 400) or to roll back (anything else: dropping it does). A trap or a broken limit is an
//! error, and the transaction is dropped with it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;
use uuid::Uuid;

use super::Registry;
use crate::error::{Error, Result};
use crate::events::OutboxSink;
use crate::module_config::PgConfig;
use crate::payments::backend::PgPayments;
use crate::runtime::{
    CallContext, Caller, Event, ModuleHandle, Request, Response, RouteMatch, Usage,
};
use crate::storage::{PgStore, SharedTx};
use crate::tenancy::TenantTx;

/// A request for a slot, routed: the module serving it and the manifest route that matched.
pub struct Routed {
    pub module: ModuleHandle,
    route: RouteMatch,
}

impl Routed {
    /// The permission the caller needs for the matched route.
    pub fn permission(&self) -> &str {
        &self.module.manifest.routes[self.route.index].permission
    }
}

/// What the HTTP request gives the module, before routing adds the route and its parameters.
#[derive(Clone)]
pub struct ModuleRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The module's answer, what the call used, and the transaction to commit or drop.
pub struct Answer {
    pub response: Response,
    pub usage: Usage,
    /// None when the call's store gave the transaction up (it failed inside the database).
    pub tx: Option<TenantTx>,
}

impl Registry {
    /// The module serving `slot` for a tenant with these bindings (slot -> digest) and its
    /// route for `method` and `path` (relative to the slot). 404 for an unknown slot or path,
    /// 405 with the allowed methods when only the method is wrong.
    pub async fn route(
        &self,
        bindings: &HashMap<String, String>,
        slot: &str,
        method: &str,
        path: &str,
    ) -> Result<Routed> {
        // A host prefix is never a module's, whatever was stored before it was reserved.
        if crate::runtime::reserved_slots::is_reserved(slot) {
            return Err(Error::not_found("route"));
        }
        let digest = self
            .serving(bindings, slot)
            .ok_or_else(|| Error::not_found("route"))?;
        let module = self.module(&digest).await?;
        let route = module.manifest.route(method, path)?;
        Ok(Routed { module, route })
    }

    /// Runs a routed request in the tenant's transaction `tx` for `caller`.
    pub async fn call(
        &self,
        routed: Routed,
        tx: TenantTx,
        caller: Caller,
        request_id: String,
        request: ModuleRequest,
    ) -> Result<Answer> {
        let Routed { module, route } = routed;
        let tenant = tx.tenant_id();
        let request = Request {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
            route: module.manifest.routes[route.index].path.clone(),
            params: route.params,
        };
        let (context, shared) = self.bound(&module, tx, caller, request_id).await?;
        let outcome = self.runtime.handle(&module, context, request).await;
        let tx = shared.lock().await.take();
        let (response, usage) = self.metered(tenant, &module, outcome, |(r, _)| r.status >= 500)?;
        Ok(Answer {
            response,
            usage,
            tx,
        })
    }

    /// Delivers one event to `module` in the event's tenant transaction `tx`. The module acts
    /// for the platform (no user, no permissions) with its own grants and limits. The inner
    /// result is the module's own answer: an error is its refusal, to retry later.
    pub async fn deliver(
        &self,
        module: &ModuleHandle,
        tx: TenantTx,
        event: Event,
    ) -> Result<Delivered> {
        let tenant = tx.tenant_id();
        let request_id = format!("event-{}", event.id);
        let (context, shared) = self
            .bound(module, tx, Caller::platform(), request_id)
            .await?;
        let outcome = self.runtime.deliver(module, context, event).await;
        let tx = shared.lock().await.take();
        let (accepted, usage) = self.metered(tenant, module, outcome, |_| false)?;
        Ok(Delivered {
            accepted,
            usage,
            tx,
        })
    }

    /// Records a call's outcome in the metrics (module label only) and in the tenant's usage
    /// meter: a trap or a broken limit counts as a failed call, `failed` says which answers do.
    fn metered<T>(
        &self,
        tenant: Uuid,
        module: &ModuleHandle,
        outcome: Result<(T, Usage)>,
        failed: impl FnOnce(&(T, Usage)) -> bool,
    ) -> Result<(T, Usage)> {
        let name = &module.manifest.name;
        let counts = match &outcome {
            Ok(answered) => {
                record_usage(name, &answered.1);
                crate::usage::Counts::of_call(&answered.1, failed(answered))
            }
            Err(_) => crate::usage::Counts::of_failure(),
        };
        metrics::counter!("module_calls_total", "module" => name.clone()).increment(1);
        self.meter.record(tenant, name, counts);
        outcome
    }

    /// A call's context with the store and the outbox bound to the tenant transaction, and
    /// the handle to take the transaction back when the call ends.
    async fn bound(
        &self,
        module: &ModuleHandle,
        mut tx: TenantTx,
        caller: Caller,
        request_id: String,
    ) -> Result<(CallContext, SharedTx)> {
        let tenant_id = tx.tenant_id();
        let time_zone = self.time_zone(&mut tx).await?;
        let shared: SharedTx = Arc::new(Mutex::new(Some(tx)));
        let context = CallContext {
            tenant_id,
            time_zone,
            caller,
            request_id: request_id.clone(),
            store: Box::new(
                PgStore::new(shared.clone(), self.columns.snapshot()).for_module(&module.manifest),
            ),
            events: Box::new(OutboxSink::new(
                shared.clone(),
                module.manifest.name.clone(),
                request_id.clone(),
            )),
            payments: Box::new(PgPayments::new(
                shared.clone(),
                tenant_id,
                self.stripe.clone(),
            )),
            config: Box::new(PgConfig::new(
                shared.clone(),
                tenant_id,
                module.manifest.name.clone(),
                self.sealer.clone(),
            )),
            http: Box::new(self.outbound.clone()),
            extensions: Box::new(crate::extensions::PgExtensions::new(
                shared.clone(),
                self.runtime.clone(),
                self.reader.clone(),
                request_id,
            )),
        };
        Ok((context, shared))
    }

    /// The tenant's time zone: read in its transaction the first time, then from memory (a
    /// tenant's zone is fixed when it is created).
    async fn time_zone(&self, tx: &mut TenantTx) -> Result<String> {
        let tenant = tx.tenant_id();
        let known = self
            .time_zones
            .lock()
            .expect("time zones")
            .get(&tenant)
            .cloned();
        if let Some(zone) = known {
            return Ok(zone);
        }
        let zone: String = sqlx::query_scalar("SELECT time_zone FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(tx.conn())
            .await?;
        self.time_zones
            .lock()
            .expect("time zones")
            .insert(tenant, zone.clone());
        Ok(zone)
    }
}

/// A module's answer to an event, what the call used, and the transaction to commit or drop.
pub struct Delivered {
    /// `Err` is the module's refusal, with its reason.
    pub accepted: std::result::Result<(), String>,
    pub usage: Usage,
    pub tx: Option<TenantTx>,
}

/// The call's metrics, labelled by module only: a label per tenant would make a series per
/// tenant.
fn record_usage(module: &str, usage: &Usage) {
    let labels = [("module", module.to_owned())];
    metrics::histogram!("module_call_duration_seconds", &labels)
        .record(usage.elapsed.as_secs_f64());
    metrics::counter!("module_host_calls_total", &labels).increment(u64::from(usage.host_calls));
    metrics::counter!("module_rows_returned_total", &labels)
        .increment(u64::from(usage.rows_returned));
    metrics::counter!("module_rows_written_total", &labels)
        .increment(u64::from(usage.rows_written));
    metrics::counter!("module_events_emitted_total", &labels)
        .increment(u64::from(usage.events_emitted));
}
