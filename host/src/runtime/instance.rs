//! One call of a module: a fresh `Store` with the call's limits and capability state,
//! instantiated from the pre-instantiated component, one export called, then dropped, whether
//! the export returned or trapped (a trapped instance is poisoned and never entered again).
//! Nothing outlives the call but what the capabilities wrote through the call's backends.
//!
//! Failures map to problems with stable codes:
//! | cause | status | code |
//! |---|---|---|
//! | deadline | 503 | `module_timeout` |
//! | memory growth refused, then a trap | 507 | `module_memory_exceeded` |
//! | host-call budget spent | 500 | `module_host_call_limit` |
//! | any other trap (panic, unreachable, stack overflow, ...) | 500 | `module_trap` |
//! | response body over the cap | 502 | `module_response_too_large` |
//! | store or events unavailable during the call | 503 | `module_backend_unavailable` |
//! | every pooling allocator slot in use | 503 | `module_busy` |

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use uuid::Uuid;
use wasmtime::{PoolConcurrencyLimitError, ResourceLimiter, Store, Trap, UpdateDeadline};

use super::LoadedModule;
use super::bindings::exports::verofield::platform::module::{Event, Request, Response};
use super::capabilities::config::{ConfigBackend, ConfigState, Settings};
use super::capabilities::context::{Caller, ContextState};
use super::capabilities::events::{EventError, EventSink, EventsState};
use super::capabilities::extensions::{ExtensionError, ExtensionsBackend, ExtensionsState};
use super::capabilities::http::{HttpBackend, HttpState};
use super::capabilities::log::{ModuleLog, Origin as LogOrigin};
use super::capabilities::payments::{PaymentsBackend, PaymentsState};
use super::capabilities::store::{
    AggregateQuery, BoxFuture, JsonObject, Page, Row, SelectQuery, StoreBackend, StoreError,
    StoreResult, StoreState,
};
use super::capabilities::wasi::WasiState;
use super::capabilities::{HostCallLimitExceeded, HostCalls};
use crate::error::{Error, Result};

/// The request header carrying the milliseconds left before the call's deadline, set by the
/// host on every `handle` call (see `wit/README.md`).
pub const DEADLINE_HEADER: &str = "x-verofield-deadline-ms";

/// Who a call is for, and the backends its capabilities use (holding the request's tenant
/// transaction). The runtime drops the backends when the call ends.
pub struct CallContext {
    pub tenant_id: Uuid,
    /// The tenant's IANA time zone (`context.tenant-time-zone`).
    pub time_zone: String,
    pub caller: Caller,
    pub request_id: String,
    pub store: Box<dyn StoreBackend>,
    pub events: Box<dyn EventSink>,
    /// Stripe on the tenant's connected account (`payments`).
    pub payments: Box<dyn PaymentsBackend>,
    /// The tenant's settings of this module (`config`).
    pub config: Box<dyn ConfigBackend>,
    /// The hardened client for `http` requests.
    pub http: Box<dyn HttpBackend>,
    /// The tenant's installed extensions (`extensions`).
    pub extensions: Box<dyn ExtensionsBackend>,
}

impl CallContext {
    /// A call whose store and events refuse everything (`not-granted`): for modules or calls
    /// that need no storage, and for benchmarks.
    pub fn without_storage(tenant_id: Uuid, caller: Caller, request_id: String) -> Self {
        Self {
            tenant_id,
            time_zone: "UTC".into(),
            caller,
            request_id,
            store: Box::new(NoBackend),
            events: Box::new(NoBackend),
            payments: Box::new(NoBackend),
            config: Box::new(NoBackend),
            http: Box::new(crate::outbound::Outbound::default()),
            extensions: Box::new(NoBackend),
        }
    }

    /// The context of `manifest()` at publication: no tenant, no caller, no storage.
    pub(super) fn publishing() -> Self {
        Self::without_storage(Uuid::nil(), Caller::platform(), "publish".into())
    }
}

/// What a call used, for metrics per tenant and module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub elapsed: Duration,
    /// CPU time of the call's polls ([`super::cpu`]): the guest and the host's work for it.
    pub cpu: Duration,
    pub host_calls: u32,
    pub rows_returned: u32,
    /// Store rows inserted, updated or deleted.
    pub rows_written: u32,
    /// Events the module emitted (into the outbox; they are delivered only if the call commits).
    pub events_emitted: u32,
    /// Outbound HTTP requests the module asked for within its per-call cap.
    pub outbound_requests: u32,
    pub log_bytes: usize,
    pub log_truncated: bool,
}

/// The data of a call's `Store`: one field per capability, plus the limits.
pub struct CallState {
    pub(super) host_calls: HostCalls,
    pub(super) context: ContextState,
    pub(super) log: ModuleLog,
    pub(super) store: StoreState,
    pub(super) events: EventsState,
    pub(super) payments: PaymentsState,
    pub(super) config: ConfigState,
    pub(super) http: HttpState,
    pub(super) extensions: ExtensionsState,
    pub(super) wasi: WasiState,
    memory: MemoryCap,
    deadline: Instant,
}

pub(super) enum Export {
    Manifest,
    Handle(Request),
    OnEvent(Event),
}

pub(super) enum Returned {
    Manifest(String),
    Handle(Response),
    OnEvent(Result<(), String>),
}

pub(super) async fn call(
    engine: &wasmtime::Engine,
    module: &LoadedModule,
    call: CallContext,
    export: Export,
) -> Result<(Returned, Usage)> {
    let started = Instant::now();
    let limits = &module.limits;
    let log = ModuleLog::new(limits.log_bytes);
    let request_id = call.request_id.clone();
    let tenant_id = call.tenant_id;
    let deadline = started + limits.deadline;
    let state = CallState {
        host_calls: HostCalls::new(limits.host_calls),
        context: ContextState::new(call.tenant_id, call.time_zone, call.caller, call.request_id),
        store: StoreState::new(call.store, module.manifest.clone(), limits.rows_returned),
        events: EventsState::new(call.events, module.manifest.clone()),
        payments: PaymentsState::new(call.payments, &module.manifest),
        config: ConfigState::new(call.config, &module.manifest),
        http: HttpState::new(call.http, &module.manifest, tenant_id, deadline),
        extensions: ExtensionsState::new(call.extensions),
        wasi: WasiState::new(&log),
        log,
        memory: MemoryCap::new(limits.memory_bytes),
        deadline,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    // Yield to the executor at every epoch tick; stop at the deadline.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|store| {
        Ok(if Instant::now() >= store.data().deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });

    let (returned, cpu) = super::cpu::measured(async {
        let instance = module.pre.instantiate_async(&mut store).await?;
        let exports = instance.verofield_platform_module();
        Ok::<_, wasmtime::Error>(match export {
            Export::Manifest => Returned::Manifest(exports.call_manifest(&mut store).await?),
            Export::Handle(mut request) => {
                // The module learns its own deadline (to stop an anytime search in time);
                // a client cannot send this header in its place.
                let remaining = store
                    .data()
                    .deadline
                    .saturating_duration_since(Instant::now());
                request
                    .headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case(DEADLINE_HEADER));
                request.headers.push((
                    DEADLINE_HEADER.to_owned(),
                    remaining.as_millis().to_string(),
                ));
                Returned::Handle(exports.call_handle(&mut store, &request).await?)
            }
            Export::OnEvent(event) => {
                Returned::OnEvent(exports.call_on_event(&mut store, &event).await?)
            }
        })
    })
    .await;

    let state = store.into_data();
    let name = &module.manifest.name;
    state.log.flush(&LogOrigin {
        tenant_id,
        module: if name.is_empty() { "unpublished" } else { name },
        version: &module.manifest.version,
        digest: &module.digest.to_string(),
        request_id: &request_id,
    });
    let (log_bytes, log_truncated) = state.log.size();
    let usage = Usage {
        elapsed: started.elapsed(),
        cpu,
        host_calls: state.host_calls.made(),
        rows_returned: state.store.rows_returned(),
        rows_written: state.store.rows_written(),
        events_emitted: state.events.emitted(),
        outbound_requests: state.http.sent(),
        log_bytes,
        log_truncated,
    };
    let returned = returned.map_err(|error| classify(&error, &state, module))?;
    if let Some(reason) = state
        .store
        .unavailable()
        .or(state.events.unavailable())
        .or(state.extensions.unavailable())
    {
        return Err(Error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "module_backend_unavailable",
            format!("storage failed during the call: {reason}"),
        ));
    }
    if let Some(why) = state
        .store
        .denied()
        .or(state.payments.denied())
        .or(state.http.denied())
    {
        return Err(Error::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "module_not_granted",
            format!("the module reached outside its manifest's grants: {why}"),
        ));
    }
    if let Returned::Handle(response) = &returned
        && response.body.len() > limits.response_bytes
    {
        return Err(Error::problem(
            StatusCode::BAD_GATEWAY,
            "module_response_too_large",
            format!(
                "the module answered {} bytes, over the limit of {}",
                response.body.len(),
                limits.response_bytes
            ),
        ));
    }
    Ok((returned, usage))
}

fn classify(error: &wasmtime::Error, state: &CallState, module: &LoadedModule) -> Error {
    let limits = &module.limits;
    if let Some(limit) = error.downcast_ref::<HostCallLimitExceeded>() {
        return Error::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "module_host_call_limit",
            format!("the module exceeded its limit of {} host calls", limit.cap),
        );
    }
    if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return Error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "module_busy",
            "every module instance slot is in use; retry shortly",
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "module_timeout",
            format!(
                "the module ran past its deadline of {} ms",
                limits.deadline.as_millis()
            ),
        ),
        Some(_) if state.memory.refused => Error::problem(
            StatusCode::INSUFFICIENT_STORAGE,
            "module_memory_exceeded",
            format!(
                "the module needed more than {} bytes of memory",
                limits.memory_bytes
            ),
        ),
        Some(trap) => Error::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "module_trap",
            format!("the module trapped: {trap}"),
        ),
        None => Error::Internal(anyhow::anyhow!(
            "calling module {}: {error:?}",
            module.digest
        )),
    }
}

/// Caps the instance's linear memory below the pooling slot size, and remembers a refusal so
/// that the trap which usually follows it is reported as what it is.
pub(super) struct MemoryCap {
    cap: usize,
    pub(super) refused: bool,
    /// The largest size a memory was allowed to reach (its high-water mark).
    pub(super) peak: usize,
}

impl MemoryCap {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            cap,
            refused: false,
            peak: 0,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.cap;
        self.refused |= !allowed;
        if allowed {
            self.peak = self.peak.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// An extensions backend for calls with no tenant installations: every point runs empty.
pub fn no_extensions() -> Box<dyn ExtensionsBackend> {
    Box::new(NoBackend)
}

/// A payments backend that answers `not-configured`, for calls without payments (tests,
/// benchmarks).
pub fn no_payments() -> Box<dyn PaymentsBackend> {
    Box::new(NoBackend)
}

/// The backends of a call without storage, such as `manifest()` at publication.
struct NoBackend;

fn not_now<T>() -> StoreResult<T> {
    Err(StoreError::NotGranted("no storage in this call".into()))
}

impl StoreBackend for NoBackend {
    fn get<'a>(&'a mut self, _: &'a str, _: Uuid) -> BoxFuture<'a, StoreResult<Option<Row>>> {
        Box::pin(async { not_now() })
    }
    fn select(&mut self, _: SelectQuery) -> BoxFuture<'_, StoreResult<Page>> {
        Box::pin(async { not_now() })
    }
    fn insert<'a>(&'a mut self, _: &'a str, _: JsonObject) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async { not_now() })
    }
    fn update<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: u64,
        _: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async { not_now() })
    }
    fn delete<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async { not_now() })
    }
    fn aggregate(&mut self, _: AggregateQuery) -> BoxFuture<'_, StoreResult<Vec<JsonObject>>> {
        Box::pin(async { not_now() })
    }
}

/// A config backend with nothing set, for calls without a tenant's settings (tests).
pub fn no_config() -> Box<dyn ConfigBackend> {
    Box::new(NoBackend)
}

impl ConfigBackend for NoBackend {
    fn load(&mut self) -> BoxFuture<'_, anyhow::Result<Settings>> {
        Box::pin(async {
            Ok(Settings {
                config: "{}".into(),
                ..Settings::default()
            })
        })
    }
}

impl PaymentsBackend for NoBackend {
    fn send(
        &mut self,
        _: crate::payments::stripe::StripeRequest,
    ) -> BoxFuture<'_, Result<serde_json::Value, crate::payments::stripe::StripeError>> {
        Box::pin(async {
            Err(crate::payments::stripe::StripeError::NotConfigured(
                "no payments in this call".into(),
            ))
        })
    }
}

impl EventSink for NoBackend {
    fn emit<'a>(&'a mut self, _: &'a str, _: JsonObject) -> BoxFuture<'a, Result<(), EventError>> {
        Box::pin(async { Err(EventError::NotGranted("no events in this call".into())) })
    }
}

/// Calls without a tenant's installations (publication, tests, benchmarks) run every point
/// as a tenant with nothing installed would: the input checked, the point's empty result.
impl ExtensionsBackend for NoBackend {
    fn run<'a>(
        &'a mut self,
        point: &'a str,
        input: &'a str,
    ) -> BoxFuture<'a, std::result::Result<String, ExtensionError>> {
        Box::pin(async move { crate::extensions::uninstalled(point, input) })
    }
}
