//! The module runtime: runs domain modules (WebAssembly components of the world
//! `verofield:platform/domain-module`, see `wit/`) so that a misbehaving module fails only its
//! own call.
//!
//! One [`Runtime`] holds one wasmtime `Engine` for the whole process, configured once:
//! - the pooling allocator, so that instantiating is a slot reuse (copy-on-write memory images,
//!   lazily initialised tables) rather than an mmap per call;
//! - epoch interruption, driven by a ticker thread every [`EPOCH_TICK`]: a running module yields
//!   to the async executor at every tick and is interrupted at its wall-clock deadline. (Fuel
//!   would make the CPU limit deterministic but costs about 20 % on every instruction; the
//!   deadline is what a client feels, so it is the one limit we pay for.)
//!
//! A module is compiled once per sha256 digest of its component ([`compile`]), kept on disk as
//! precompiled code and in memory as a pre-instantiated component ([`ModuleHandle`]). Every call
//! gets a fresh `Store` with its own limits and capability state, and drops it when the call
//! ends, whether it returned or trapped ([`instance`]). Imports are capabilities, one file each
//! under [`capabilities`].

mod bindings;
pub mod capabilities;
mod compile;
mod cpu;
pub mod extension;
mod instance;
pub mod manifest;
pub mod reserved_slots;
pub mod route_schema;
pub mod routes;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::http::StatusCode;
use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, ModuleVersionStrategy, PoolingAllocationConfig,
};

pub use self::bindings::exports::verofield::platform::module::{Event, Request, Response};
pub use self::capabilities::context::Caller;
pub use self::capabilities::events::{EventError, EventSink};
pub use self::capabilities::store::StoreBackend;
pub use self::compile::{Digest, Origin};
pub use self::extension::{
    AskedBudget, ExtensionBudget, ExtensionFailure, ExtensionManifest, ExtensionRunner,
    LoadedExtension, RunCost,
};
pub use self::instance::{
    CallContext, DEADLINE_HEADER, Usage, no_config, no_extensions, no_payments,
};
pub use self::manifest::{Manifest, RequestedLimits};
pub use self::routes::{NoRoute, RouteMatch};
pub use self::schedule::CallShares;

use self::bindings::DomainModulePre;
use self::instance::{CallState, Export, Returned};
use self::schedule::Scheduler;
use crate::error::{Error, Result};

/// How often the epoch ticks: the granularity of deadlines and of yielding to the executor.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits of one call. The defaults apply to every module; the operator may raise them per
/// module (a manifest only requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Wall-clock time of the whole call, host calls included. Exceeding it: 503 `module_timeout`.
    pub deadline: Duration,
    /// Linear memory of the instance. Exceeding it: 507 `module_memory_exceeded`.
    pub memory_bytes: usize,
    /// Calls into `context`, `log`, `store` and `events`. Exceeding it: 500 `module_host_call_limit`.
    pub host_calls: u32,
    /// Rows and groups the store returns in one call; past it the store answers
    /// `limit-exceeded("rows")` and the module decides.
    pub rows_returned: u32,
    /// Response body. Exceeding it: 502 `module_response_too_large`.
    pub response_bytes: usize,
    /// Module log (the `log` import, stdout and stderr). Past it the log is truncated and
    /// marked, and the call goes on: a chatty module is not a failed request.
    pub log_bytes: usize,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            host_calls: 10_000,
            rows_returned: 10_000,
            response_bytes: 8 << 20,
            log_bytes: 64 << 10,
        }
    }
}

impl ModuleLimits {
    /// The limits a trusted module (a built-in) gets: what its manifest requests, each value
    /// clamped to the operator's `max`; what it does not request stays at `self` (the
    /// defaults). Uploaded modules never get this: they keep the defaults.
    pub fn granting(&self, requested: &RequestedLimits, max: &ModuleLimits) -> ModuleLimits {
        let clamp = |asked: Option<u64>, default: u64, max: u64| asked.unwrap_or(default).min(max);
        ModuleLimits {
            deadline: Duration::from_millis(clamp(
                requested.deadline_ms,
                self.deadline.as_millis() as u64,
                max.deadline.as_millis() as u64,
            )),
            memory_bytes: clamp(
                requested.memory_mib.map(|mib| u64::from(mib) << 20),
                self.memory_bytes as u64,
                max.memory_bytes as u64,
            ) as usize,
            host_calls: clamp(
                requested.host_calls.map(u64::from),
                u64::from(self.host_calls),
                u64::from(max.host_calls),
            ) as u32,
            rows_returned: clamp(
                requested.rows_returned.map(u64::from),
                u64::from(self.rows_returned),
                u64::from(max.rows_returned),
            ) as u32,
            ..self.clone()
        }
    }
}

/// Process-wide settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where precompiled modules are kept (`<data-dir>/cache/modules`); private to this host.
    pub cache_dir: PathBuf,
    /// Limits of every call unless a module has its own.
    pub limits: ModuleLimits,
    /// The most a trusted (built-in) module may be granted of what its manifest requests
    /// (`serve --module-max-deadline-ms` sets the deadline). Memory is further capped by
    /// `max_memory_bytes`.
    pub trusted_max: ModuleLimits,
    /// Largest memory limit any module may be given: the size of a pooling allocator slot.
    pub max_memory_bytes: usize,
    /// Instances that may run at once (pooling allocator slots).
    pub max_instances: u32,
    /// Pre-reserve instance slots (fast instantiation) rather than mapping memory per call.
    /// Off only where virtual address space is scarce.
    pub pooling: bool,
    /// Write `/tmp/perf-<pid>.map` so that `perf` names the functions of module code
    /// (profiling a module in production conditions; off by default).
    pub perf_map: bool,
    /// The host build, recorded in precompiled code: code another build compiled is never
    /// loaded. [`HOST_BUILD`] but in tests.
    pub build: String,
    /// Calls in flight per tenant, and where long calls run ([`schedule`]).
    pub shares: CallShares,
    /// The time limit of an uploaded component's compile ([`Runtime::load_upload`]).
    pub upload_compile: UploadCompile,
    /// What one run of one extension may use unless granted more ([`extension`]).
    pub extension_budget: ExtensionBudget,
    /// The most the operator may grant one extension at upload.
    pub extension_ceiling: ExtensionBudget,
}

/// How an upload's compile is bounded: one at a time across the process, `wait` at most for
/// the slot (then 503 `server_busy`), `timeout` at most for the compile (then 422
/// `module_compile_timeout`).
#[derive(Debug, Clone)]
pub struct UploadCompile {
    pub timeout: Duration,
    pub wait: Duration,
}

impl Default for UploadCompile {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            wait: Duration::from_secs(10),
        }
    }
}

/// This host's build: crate version and the build id `build.rs` made (git commit and build
/// time, or `VEROFIELD_BUILD_ID` when the packager sets one).
pub const HOST_BUILD: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("VEROFIELD_BUILD_ID"));

impl RuntimeConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            limits: ModuleLimits::default(),
            trusted_max: ModuleLimits {
                deadline: Duration::from_secs(30),
                memory_bytes: 256 << 20,
                host_calls: 100_000,
                rows_returned: 100_000,
                ..ModuleLimits::default()
            },
            max_memory_bytes: 256 << 20,
            max_instances: 1_000,
            pooling: true,
            perf_map: false,
            build: HOST_BUILD.to_owned(),
            shares: CallShares::default(),
            upload_compile: UploadCompile::default(),
            extension_budget: ExtensionBudget::default(),
            extension_ceiling: ExtensionBudget::ceiling(),
        }
    }
}

/// 422 `module_compile_timeout`: an upload took longer to compile than `limit`.
fn compile_timeout(limit: Duration) -> Error {
    Error::problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "module_compile_timeout",
        format!(
            "compiling the component took longer than this host allows ({} ms, \
             --module-compile-timeout-ms); make its functions smaller",
            limit.as_millis()
        ),
    )
}

/// A loaded module: its digest, its manifest, and its pre-instantiated component.
pub type ModuleHandle = Arc<LoadedModule>;

pub struct LoadedModule {
    pub digest: Digest,
    pub manifest: Arc<Manifest>,
    /// Where the compiled code came from on this load (for logs and tests).
    pub origin: Origin,
    limits: ModuleLimits,
    pre: DomainModulePre<CallState>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("digest", &self.digest)
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    pub fn limits(&self) -> &ModuleLimits {
        &self.limits
    }

    /// An owned handle sharing this module's code, for a call that runs on another thread.
    fn detached(&self) -> ModuleHandle {
        Arc::new(Self {
            manifest: self.manifest.clone(),
            limits: self.limits.clone(),
            pre: self.pre.clone(),
            ..*self
        })
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    modules: RwLock<HashMap<Digest, ModuleHandle>>,
    scheduler: Scheduler,
    /// The one compile slot of uploads: a compile that outlives its time limit keeps it until
    /// it really ends, so compile bombs cannot pile up.
    upload_compiles: Arc<tokio::sync::Semaphore>,
    /// Extensions, on their own fuel-metered engine.
    extensions: ExtensionRunner,
    /// Dropping it stops the epoch ticker.
    _ticker: mpsc::Sender<()>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&config)?)
            .map_err(|error| anyhow::anyhow!("creating the wasmtime engine: {error}"))?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker)
            .map_err(|error| anyhow::anyhow!("linking capabilities: {error}"))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.cache_dir)
            .with_context(|| format!("creating {}", config.cache_dir.display()))?;
        compile::check_private_dir(&config.cache_dir)?;
        let extensions = ExtensionRunner::new(
            config.cache_dir.join("extensions"),
            &config.build,
            config.extension_budget.clone(),
            config.extension_ceiling.clone(),
        )?;
        Ok(Self {
            extensions,
            _ticker: start_epoch_ticker(engine.clone()),
            engine,
            linker,
            scheduler: Scheduler::new(config.shares.clone()),
            upload_compiles: Arc::new(tokio::sync::Semaphore::new(1)),
            config,
            modules: RwLock::default(),
        })
    }

    /// The runner of extensions (`crate::extensions`).
    pub fn extensions(&self) -> &ExtensionRunner {
        &self.extensions
    }

    /// Compiles (or finds in the caches) a component, pre-instantiates it and reads its
    /// manifest. Loading the same bytes again returns the same handle.
    pub async fn load(&self, component: &[u8]) -> Result<ModuleHandle> {
        self.load_with_limits(component, self.config.limits.clone())
            .await
    }

    /// Loads a trusted module (a built-in published from `plugins/`): it gets the limits its
    /// manifest requests, clamped by [`RuntimeConfig::trusted_max`] and the memory slot size.
    pub async fn load_trusted(&self, component: &[u8]) -> Result<ModuleHandle> {
        // Already loaded (with any limits): reuse its manifest rather than re-limiting it to
        // the defaults first, which would briefly serve the module with the wrong limits.
        let module = match self.loaded(&Digest::of(component)) {
            Some(module) => module,
            None => self.load(component).await?,
        };
        let granted = self
            .config
            .limits
            .granting(&module.manifest.limits, &self.max_limits());
        if granted == module.limits {
            return Ok(module);
        }
        self.load_with_limits(component, granted).await
    }

    /// [`Runtime::load`] with limits the operator set for this module. Loading loaded code
    /// with other limits is cheap: the new handle shares the compiled code.
    pub async fn load_with_limits(
        &self,
        component: &[u8],
        limits: ModuleLimits,
    ) -> Result<ModuleHandle> {
        if limits.memory_bytes > self.config.max_memory_bytes {
            return Err(anyhow::anyhow!(
                "memory limit {} exceeds the runtime's slot size {}",
                limits.memory_bytes,
                self.config.max_memory_bytes
            )
            .into());
        }
        let digest = Digest::of(component);
        if let Some(module) = self.loaded(&digest) {
            if module.limits == limits {
                return Ok(module);
            }
            // New limits from the operator: same code and manifest, new handle.
            let module = Arc::new(LoadedModule {
                limits,
                pre: module.pre.clone(),
                manifest: module.manifest.clone(),
                ..*module
            });
            self.remember(&module);
            return Ok(module);
        }
        let engine = self.engine.clone();
        let cache_dir = self.config.cache_dir.clone();
        let bytes = component.to_vec();
        let (component, origin) = tokio::task::spawn_blocking(move || {
            compile::load_or_compile(&engine, &cache_dir, digest, &bytes, None)
        })
        .await
        .map_err(|error| anyhow::anyhow!("compiling a module panicked: {error}"))??;
        self.prepare(digest, component, origin, limits).await
    }

    /// Loads an uploaded component with the default limits, its compile bounded
    /// ([`UploadCompile`]): one upload compiles at a time, on a blocking thread, and one that
    /// takes longer than the limit is refused while its thread runs on to the end, holding
    /// the slot.
    pub async fn load_upload(&self, component: &[u8]) -> Result<ModuleHandle> {
        let digest = Digest::of(component);
        if let Some(module) = self.loaded(&digest) {
            return Ok(module);
        }
        let bounds = &self.config.upload_compile;
        let permit =
            tokio::time::timeout(bounds.wait, self.upload_compiles.clone().acquire_owned())
                .await
                .map_err(|_| {
                    Error::problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "server_busy",
                        "another upload is compiling; retry shortly",
                    )
                    .with_retry_after(bounds.wait.as_secs().max(1))
                })?
                .map_err(|error| anyhow::anyhow!("the compile slot is closed: {error}"))?;
        let engine = self.engine.clone();
        let cache_dir = self.config.cache_dir.clone();
        let bytes = component.to_vec();
        let limit = Some((std::time::Instant::now() + bounds.timeout, bounds.timeout));
        let compiling = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            compile::load_or_compile(&engine, &cache_dir, digest, &bytes, limit)
        });
        let (component, origin) = tokio::time::timeout(bounds.timeout, compiling)
            .await
            .map_err(|_| compile_timeout(bounds.timeout))?
            .map_err(|error| anyhow::anyhow!("compiling a module panicked: {error}"))??;
        self.prepare(digest, component, origin, self.config.limits.clone())
            .await
    }

    /// The largest limits the operator lets any module have ([`RuntimeConfig::trusted_max`],
    /// memory capped by the slot size): what an upload's manifest may request at most.
    pub fn max_limits(&self) -> ModuleLimits {
        let mut max = self.config.trusted_max.clone();
        max.memory_bytes = max.memory_bytes.min(self.config.max_memory_bytes);
        max
    }

    /// Pre-instantiates compiled code against the linker and reads its manifest.
    async fn prepare(
        &self,
        digest: Digest,
        component: wasmtime::component::Component,
        origin: Origin,
        limits: ModuleLimits,
    ) -> Result<ModuleHandle> {
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(DomainModulePre::new)
            .map_err(|error| {
                Error::problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "module_not_of_world",
                    format!("the component does not fit the domain-module world: {error}"),
                )
            })?;
        let mut module = LoadedModule {
            digest,
            manifest: Arc::new(Manifest::default()),
            origin,
            limits,
            pre,
        };
        let Returned::Manifest(manifest) = instance::call(
            &self.engine,
            &module,
            CallContext::publishing(),
            Export::Manifest,
        )
        .await?
        .0
        else {
            unreachable!("manifest() returns a manifest")
        };
        module.manifest = Arc::new(Manifest::parse(&manifest)?);
        let module = Arc::new(module);
        self.remember(&module);
        Ok(module)
    }

    fn remember(&self, module: &ModuleHandle) {
        self.modules
            .write()
            .expect("module map poisoned")
            .insert(module.digest, module.clone());
    }

    /// Drops a loaded module (a refused upload's), so that what is refused holds no memory.
    pub fn forget(&self, digest: &Digest) {
        self.modules
            .write()
            .expect("module map poisoned")
            .remove(digest);
    }

    /// The module with this digest, if it is loaded.
    pub fn loaded(&self, digest: &Digest) -> Option<ModuleHandle> {
        self.modules
            .read()
            .expect("module map poisoned")
            .get(digest)
            .cloned()
    }

    /// Answers one request with a fresh instance of the module.
    pub async fn handle(
        &self,
        module: &LoadedModule,
        call: CallContext,
        request: Request,
    ) -> Result<(Response, Usage)> {
        match self.run(module, call, Export::Handle(request)).await? {
            (Returned::Handle(response), usage) => Ok((response, usage)),
            _ => unreachable!("handle() returns a response"),
        }
    }

    /// Delivers one event; the inner error is the module's own refusal (retry later).
    pub async fn deliver(
        &self,
        module: &LoadedModule,
        call: CallContext,
        event: Event,
    ) -> Result<(Result<(), String>, Usage)> {
        match self.run(module, call, Export::OnEvent(event)).await? {
            (Returned::OnEvent(outcome), usage) => Ok((outcome, usage)),
            _ => unreachable!("on-event() returns a result"),
        }
    }

    /// One call of a tenant, within the tenant's share; a long one on the long-call pool.
    async fn run(
        &self,
        module: &LoadedModule,
        call: CallContext,
        export: Export,
    ) -> Result<(Returned, Usage)> {
        let admission = self
            .scheduler
            .admit(call.tenant_id, module.limits.deadline)?;
        if !admission.is_long() {
            return instance::call(&self.engine, module, call, export).await;
        }
        let (engine, module) = (self.engine.clone(), module.detached());
        self.scheduler
            .run_long(async move { instance::call(&engine, &module, call, export).await })
            .await
    }
}

fn engine_config(config: &RuntimeConfig) -> anyhow::Result<Config> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(config.max_instances)
        .total_core_instances(config.max_instances * 4)
        .total_memories(config.max_instances)
        .total_tables(config.max_instances * 2)
        .total_stacks(config.max_instances)
        .max_memory_size(config.max_memory_bytes)
        // Returned slots keep up to 4 MiB of memory resident, reset to the initial image in
        // place; with PAGEMAP_SCAN (Linux 6.7+; ignored elsewhere) only the pages the instance
        // dirtied are reset. The next instance then reuses them without `madvise`, page
        // faults and TLB shootdowns: half the cost of a call (BENCHMARKS.md).
        .linear_memory_keep_resident(4 << 20)
        .table_keep_resident(16 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut engine = Config::new();
    if config.pooling {
        engine.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    engine
        .epoch_interruption(true)
        .memory_init_cow(true)
        .table_lazy_init(true);
    if config.perf_map {
        engine.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    // Precompiled code names the build that made it; wasmtime refuses any other build's.
    engine
        .module_version(ModuleVersionStrategy::Custom(format!(
            "verofield {}",
            config.build
        )))
        .map_err(|error| anyhow::anyhow!("setting the module version: {error}"))?;
    Ok(engine)
}

fn start_epoch_ticker(engine: Engine) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
    stop
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn trusted_modules_get_what_they_request_up_to_the_maximum() {
        let defaults = ModuleLimits::default();
        let max = RuntimeConfig::new("/nonexistent").trusted_max;
        let requested = RequestedLimits {
            deadline_ms: Some(60_000),
            memory_mib: Some(128),
            host_calls: None,
            rows_returned: Some(20_000),
        };
        let granted = defaults.granting(&requested, &max);
        assert_eq!(granted.deadline, Duration::from_secs(30));
        assert_eq!(granted.memory_bytes, 128 << 20);
        assert_eq!(granted.host_calls, defaults.host_calls);
        assert_eq!(granted.rows_returned, 20_000);
        assert_eq!(granted.response_bytes, defaults.response_bytes);
        assert_eq!(
            defaults.granting(&RequestedLimits::default(), &max),
            defaults
        );
    }
}
