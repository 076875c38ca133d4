//! Settings, resolved from the command line and environment by `cli`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::jwt::{KeySource, TokenSettings};
use crate::auth::throttle::ThrottleSettings;
use crate::http::Limits;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// None: the embedded cluster under `embedded_root`.
    pub url: Option<String>,
    pub embedded_root: PathBuf,
    /// Where the embedded cluster's passwords are kept (`<data-dir>/secrets`).
    pub secrets_dir: PathBuf,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL ends a session left idle inside a transaction this long.
    pub idle_in_transaction_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub listen: SocketAddr,
    pub limits: Limits,
    pub shutdown_grace: Duration,
    pub key_source: KeySource,
    pub token: TokenSettings,
    pub throttle: ThrottleSettings,
    pub operator_token: Option<String>,
    pub log_json: bool,
    /// Where compiled modules are cached.
    pub module_cache_dir: PathBuf,
    /// Directory of the built-in modules' components, published at start-up.
    pub builtin_modules: PathBuf,
    /// The deadline of a module call unless a built-in's manifest asks for more.
    pub module_deadline: Duration,
    /// The longest deadline a built-in module's manifest may obtain.
    pub module_max_deadline: Duration,
    /// The time limit of an upload's compile and the wait for the compile slot.
    pub upload_compile: crate::runtime::UploadCompile,
    /// Name module functions for `perf` (`serve --wasm-perf-map`).
    pub wasm_perf_map: bool,
    /// Mount the benchmark's native reference route (`http::baseline`).
    #[cfg(feature = "bench-baseline")]
    pub bench_baseline: bool,
    /// A pause before every store statement (tests only; zero otherwise).
    pub test_store_delay: Duration,
    /// Open tenant transactions per tenant.
    pub tenant_max_transactions: usize,
    /// Module calls per tenant, and the long-call pool.
    pub call_shares: crate::runtime::CallShares,
    /// Concurrent argon2 computations, and how many more may wait for one.
    pub password_hashing: crate::auth::password::HashingLimits,
    /// What pruning keeps, and how often it runs (`db::prune`).
    pub prune: crate::db::prune::PruneSettings,
    pub prune_interval: std::time::Duration,
    /// Whether this host runs the scheduler, and how often it ticks (`scheduler`).
    pub scheduler: crate::scheduler::SchedulerSettings,
    /// What the outbound HTTP client may reach (`outbound`): webhooks and integrations.
    pub outbound: crate::outbound::OutboundSettings,
    /// How often the usage meter is written to the database (`usage`).
    pub usage_flush: std::time::Duration,
    /// The event dispatcher (`events::dispatch`).
    pub dispatch: crate::events::DispatchSettings,
    /// Stripe: API base, platform key, webhook secrets, retries (`payments`).
    pub stripe: crate::payments::StripeSettings,
    /// SMTP for reset and invitation mail, the sender and the public URL of links (`mail`).
    pub mail: crate::mail::MailSettings,
}
