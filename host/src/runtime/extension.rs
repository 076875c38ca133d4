//! Running extensions: components of the world `verofield:platform/extension`, pure functions
//! a core module reaches through an extension point (`crate::extensions`).
//!
//! They run on an engine of their own, not the modules' one, because they are metered by fuel:
//! fuel makes the CPU limit deterministic (the same input stops at the same instruction on
//! any machine) but costs about a fifth of the speed of all code on the engine that counts it,
//! which ordinary module calls should not pay. Each run gets a fresh `Store` with
//! - a fuel budget ([`ExtensionBudget::fuel`], a few milliseconds of CPU here),
//! - a memory cap (16 MiB by default) through the store limiter,
//! - a wall-clock backstop through epoch interruption (an extension blocked outside wasm code
//!   cannot burn fuel),
//! - WASI with no authority, a frozen clock (the Unix epoch) and fixed random bytes, so that
//!   nothing but the input can change the output.
//!
//! The budget is the extension's own ([`ExtensionBudget::granted`]): what its manifest asks,
//! capped by what the operator granted at upload, never above the host's ceiling. A Rust
//! extension keeps the tight default; an interpreter is granted more by name (CPython starts
//! at 12.4 MiB of its 16, and long input costs it tens of millions of fuel), so one costly
//! extension never loosens the others' limits.
//!
//! Compiled code is cached by digest exactly as modules' is ([`super::compile`]), under
//! `<cache-dir>/extensions` (code compiled for a fuel-metering engine is not valid for the
//! other one).

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, mpsc};
use std::time::Duration;

use anyhow::Context as _;
use axum::http::StatusCode;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, ModuleVersionStrategy, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::compile::{self, Digest};
use super::instance::MemoryCap;
use super::{EPOCH_TICK, start_epoch_ticker};
use crate::error::{Error, Result};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "extension",
        exports: { default: async },
    });
}

use bindings::ExtensionPre;

/// What one run of one extension may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionBudget {
    /// Wasm fuel (about one unit per instruction). 50 million is about 3 ms of CPU on the
    /// reference machine (docs/ARCHITECTURE.md, "Extension points").
    pub fuel: u64,
    pub memory_bytes: usize,
    /// Bytes of output text; more is a failure of the extension.
    pub output_bytes: usize,
    /// Wall-clock backstop, for time spent outside wasm code where no fuel is burnt.
    pub wall: Duration,
}

impl Default for ExtensionBudget {
    fn default() -> Self {
        Self {
            fuel: 50_000_000,
            memory_bytes: 16 << 20,
            output_bytes: 64 << 10,
            wall: Duration::from_millis(100),
        }
    }
}

/// The slowest fuel rate the wall backstop allows for: a budget of `fuel` gets at least
/// `fuel / WALL_FUEL_PER_MS` ms of wall time, a quarter of the rate measured here (about
/// 4 M fuel per ms), so the backstop never stops a run that fuel would have let finish.
const WALL_FUEL_PER_MS: u64 = 1_000_000;

impl ExtensionBudget {
    /// The largest budget an operator may grant one extension by default: 2 G fuel (about
    /// half a second of CPU here) and 128 MiB.
    pub fn ceiling() -> Self {
        Self {
            fuel: 2_000_000_000,
            memory_bytes: 128 << 20,
            ..Self::default()
        }
        .with_wall_for_fuel()
    }

    /// The budget of one extension: what its manifest `asked` (this default budget when it
    /// asks nothing), capped by what the operator `granted` at upload (this default budget
    /// when they grant nothing). So an extension gets more than the default only when both
    /// its author and the operator say so, and a grant never raises what it asked.
    pub fn granted(&self, asked: Option<&AskedBudget>, granted: &AskedBudget) -> Self {
        let asked = asked.cloned().unwrap_or_else(|| AskedBudget::of(self));
        self.limited_to(
            asked.fuel.min(granted.fuel),
            asked.memory_bytes().min(granted.memory_bytes()),
        )
    }

    /// This budget with these fuel and memory limits, and a wall backstop for that fuel.
    pub fn limited_to(&self, fuel: u64, memory_bytes: usize) -> Self {
        Self {
            fuel,
            memory_bytes,
            ..self.clone()
        }
        .with_wall_for_fuel()
    }

    /// This budget with a wall backstop long enough for its fuel (never under the default's).
    fn with_wall_for_fuel(mut self) -> Self {
        let for_fuel = Duration::from_millis(self.fuel / WALL_FUEL_PER_MS);
        self.wall = self.wall.max(for_fuel);
        self
    }
}

/// A budget as a manifest asks it and an operator grants it: fuel and whole MiB of memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskedBudget {
    pub fuel: u64,
    pub memory_mib: u64,
}

impl AskedBudget {
    pub fn of(budget: &ExtensionBudget) -> Self {
        Self {
            fuel: budget.fuel,
            memory_mib: (budget.memory_bytes >> 20) as u64,
        }
    }

    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// Whether this is within `ceiling` in both fuel and memory, and above zero.
    pub fn fits(&self, ceiling: &ExtensionBudget) -> bool {
        (1..=ceiling.fuel).contains(&self.fuel)
            && self.memory_mib >= 1
            && self.memory_bytes() <= ceiling.memory_bytes
    }
}

/// What one run cost: fuel burnt and the memory high-water mark (bytes), for logs and for
/// sizing a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunCost {
    pub fuel: u64,
    pub memory_bytes: usize,
}

/// Why one run of an extension gave no output. Never fails the caller: the point's failure
/// rule decides what happens (`crate::extensions`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionFailure {
    #[error("ran out of fuel (more than {0} instructions)")]
    OutOfFuel(u64),
    #[error("needed more than {0} bytes of memory")]
    Memory(usize),
    #[error("ran past the wall-clock backstop of {0} ms")]
    Timeout(u128),
    #[error("answered {0} bytes, over the limit of {1}")]
    OutputTooLarge(usize, usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("refused the input: {0}")]
    Refused(String),
    #[error("answered out of the point's schema: {0}")]
    OutOfSchema(String),
    /// The output fits the schema but breaks a rule of the point the schema cannot say (a
    /// chained link that changed what it may not, `crate::extensions::points`).
    #[error("broke the point's rule: {0}")]
    BrokeRule(String),
}

impl ExtensionFailure {
    /// A stable name of the failure, for records and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OutOfFuel(_) => "out_of_fuel",
            Self::Memory(_) => "memory_exceeded",
            Self::Timeout(_) => "timeout",
            Self::OutputTooLarge(..) => "output_too_large",
            Self::Trap(_) => "trap",
            Self::Refused(_) => "refused",
            Self::OutOfSchema(_) => "out_of_schema",
            Self::BrokeRule(_) => "broke_rule",
        }
    }
}

/// An extension's manifest: who it is, the points it serves, and the budget it needs when
/// the default one is not enough (an interpreter's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionManifest {
    pub name: String,
    pub version: String,
    pub points: Vec<String>,
    #[serde(default)]
    pub budget: Option<AskedBudget>,
}

/// A compiled, pre-instantiated extension.
pub struct LoadedExtension {
    pub digest: Digest,
    pub manifest: ExtensionManifest,
    pre: ExtensionPre<ExtensionState>,
}

struct ExtensionState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
}

impl WasiView for ExtensionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The clock an extension sees: always the Unix epoch, so no output depends on when it ran.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

pub struct ExtensionRunner {
    engine: Engine,
    linker: Linker<ExtensionState>,
    cache_dir: PathBuf,
    budget: ExtensionBudget,
    ceiling: ExtensionBudget,
    loaded: RwLock<HashMap<Digest, Arc<LoadedExtension>>>,
    _ticker: mpsc::Sender<()>,
}

impl ExtensionRunner {
    /// An engine that counts fuel, its linker (WASI only) and its cache directory under the
    /// modules' one. `budget` is what an extension gets unless granted more, `ceiling` the
    /// most it may be granted.
    pub(super) fn new(
        cache_dir: PathBuf,
        build: &str,
        budget: ExtensionBudget,
        ceiling: ExtensionBudget,
    ) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .module_version(ModuleVersionStrategy::Custom(format!(
                "verofield {build} extension"
            )))
            .map_err(|error| anyhow::anyhow!("setting the module version: {error}"))?;
        let engine = Engine::new(&config)
            .map_err(|error| anyhow::anyhow!("creating the extension engine: {error}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|error| anyhow::anyhow!("linking WASI for extensions: {error}"))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cache_dir)
            .with_context(|| format!("creating {}", cache_dir.display()))?;
        compile::check_private_dir(&cache_dir)?;
        Ok(Self {
            _ticker: start_epoch_ticker(engine.clone()),
            engine,
            linker,
            cache_dir,
            budget,
            ceiling,
            loaded: RwLock::default(),
        })
    }

    /// What an extension gets unless its manifest and the operator agree on more.
    pub fn budget(&self) -> &ExtensionBudget {
        &self.budget
    }

    /// The most an operator may grant one extension.
    pub fn ceiling(&self) -> &ExtensionBudget {
        &self.ceiling
    }

    /// Compiles (or reads back from the cache) an extension and reads its manifest. A
    /// component of another world is refused with 422 `extension_not_of_world`.
    pub async fn load(&self, component: &[u8]) -> Result<Arc<LoadedExtension>> {
        let digest = Digest::of(component);
        if let Some(loaded) = self.loaded(&digest) {
            return Ok(loaded);
        }
        let engine = self.engine.clone();
        let cache_dir = self.cache_dir.clone();
        let bytes = component.to_vec();
        let (component, _) = tokio::task::spawn_blocking(move || {
            compile::load_or_compile(&engine, &cache_dir, digest, &bytes, None)
        })
        .await
        .map_err(|error| anyhow::anyhow!("compiling an extension panicked: {error}"))??;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(ExtensionPre::new)
            .map_err(|error| {
                Error::problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "extension_not_of_world",
                    format!("the component does not fit the extension world: {error}"),
                )
            })?;
        let manifest = self.manifest_of(&pre).await?;
        let loaded = Arc::new(LoadedExtension {
            digest,
            manifest,
            pre,
        });
        self.loaded
            .write()
            .expect("extension map poisoned")
            .insert(digest, loaded.clone());
        Ok(loaded)
    }

    pub fn loaded(&self, digest: &Digest) -> Option<Arc<LoadedExtension>> {
        self.loaded
            .read()
            .expect("extension map poisoned")
            .get(digest)
            .cloned()
    }

    async fn manifest_of(&self, pre: &ExtensionPre<ExtensionState>) -> Result<ExtensionManifest> {
        let bad = |why: String| {
            Error::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "extension_bad_manifest",
                format!("the extension's manifest() {why}"),
            )
        };
        // Before its manifest is read, nobody knows what the extension needs: the ceiling.
        let mut store = self.store(&self.ceiling);
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| bad(format!("could not run: {error}")))?;
        let text = instance
            .verofield_platform_hook()
            .call_manifest(&mut store)
            .await
            .map_err(|error| bad(format!("trapped: {error}")))?;
        serde_json::from_str(&text).map_err(|error| bad(format!("is not a manifest: {error}")))
    }

    /// A fresh store within `budget`, WASI frozen.
    fn store(&self, budget: &ExtensionBudget) -> Store<ExtensionState> {
        let wasi = WasiCtxBuilder::new()
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5a, 0xa5]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![0xa5, 0x5a]))
            .insecure_random_seed(0)
            .build();
        let state = ExtensionState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap::new(budget.memory_bytes),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store
            .set_fuel(budget.fuel)
            .expect("the extension engine counts fuel");
        let ticks = (budget.wall.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// Runs one point of one extension on a fresh instance within `budget`: its output text,
    /// or why there is none. Also answers what the run cost.
    pub async fn run(
        &self,
        extension: &LoadedExtension,
        budget: &ExtensionBudget,
        point: &str,
        input: &str,
    ) -> (std::result::Result<String, ExtensionFailure>, RunCost) {
        let mut store = self.store(budget);
        let outcome = async {
            let instance = extension.pre.instantiate_async(&mut store).await?;
            instance
                .verofield_platform_hook()
                .call_run(&mut store, point, input)
                .await
        }
        .await;
        let cost = RunCost {
            fuel: budget.fuel - store.get_fuel().unwrap_or(0),
            memory_bytes: store.data().memory.peak,
        };
        let outcome = match outcome {
            Ok(Ok(output)) if output.len() > budget.output_bytes => Err(
                ExtensionFailure::OutputTooLarge(output.len(), budget.output_bytes),
            ),
            Ok(Ok(output)) => Ok(output),
            Ok(Err(refusal)) => Err(ExtensionFailure::Refused(
                refusal.chars().take(500).collect(),
            )),
            Err(error) => Err(classify(&error, budget, store.data())),
        };
        (outcome, cost)
    }
}

fn classify(
    error: &wasmtime::Error,
    budget: &ExtensionBudget,
    state: &ExtensionState,
) -> ExtensionFailure {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => ExtensionFailure::OutOfFuel(budget.fuel),
        Some(Trap::Interrupt) => ExtensionFailure::Timeout(budget.wall.as_millis()),
        _ if state.memory.refused => ExtensionFailure::Memory(budget.memory_bytes),
        Some(trap) => ExtensionFailure::Trap(trap.to_string()),
        None => ExtensionFailure::Trap(format!("{error}").chars().take(500).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(fuel: u64, memory_mib: u64) -> AskedBudget {
        AskedBudget { fuel, memory_mib }
    }

    #[test]
    fn an_extension_gets_the_least_of_what_it_asks_and_what_was_granted() {
        let default = ExtensionBudget::default();
        let granted = default.granted(Some(&asked(200_000_000, 32)), &asked(400_000_000, 24));
        assert_eq!(
            (granted.fuel, granted.memory_bytes),
            (200_000_000, 24 << 20)
        );
        // The wall backstop grows with the fuel, the output limit stays.
        assert_eq!(granted.wall, Duration::from_millis(200));
        assert_eq!(granted.output_bytes, default.output_bytes);
    }

    #[test]
    fn without_a_grant_or_an_ask_an_extension_keeps_the_default() {
        let default = ExtensionBudget::default();
        let nothing_granted = AskedBudget::of(&default);
        assert_eq!(
            default.granted(Some(&asked(200_000_000, 32)), &nothing_granted),
            default
        );
        assert_eq!(default.granted(None, &asked(200_000_000, 32)), default);
    }

    #[test]
    fn a_budget_fits_the_ceiling_only_above_zero_and_within_it() {
        let ceiling = ExtensionBudget::ceiling();
        assert!(AskedBudget::of(&ceiling).fits(&ceiling));
        assert!(!asked(ceiling.fuel + 1, 1).fits(&ceiling));
        assert!(!asked(1, (ceiling.memory_bytes >> 20) as u64 + 1).fits(&ceiling));
        assert!(!asked(0, 1).fits(&ceiling));
        assert!(!asked(1, 0).fits(&ceiling));
        assert!(!asked(1, u64::MAX).fits(&ceiling));
    }
}
