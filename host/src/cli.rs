//! The `verofield` command line. Every command takes the same `--data-dir` and
//! `--database-url` (or their environment variables), and reaches the database through
//! [`Database::open`], embedded or not. Commands that create things print a sentence, or
//! one JSON object with `--json` for scripts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::auth::jwt::{KeySource, TokenSettings};
use crate::auth::throttle::ThrottleSettings;
use crate::config::{DatabaseSettings, ServerSettings};
use crate::db::Database;
use crate::demo::company::Size;
use crate::tenancy::provision::{self, NewTenant, NewUser};
use crate::tenancy::{TenantScope, TenantTx};

/// Statement timeout for CLI work (no request deadline applies there).
const CLI_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "verofield",
    version,
    about = "VeroField: the field-service platform host"
)]
pub struct Cli {
    /// Where the embedded PostgreSQL, secrets and caches live.
    #[arg(
        long,
        env = "VEROFIELD_DATA_DIR",
        default_value = ".verofield",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded one.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Maximum database connections in the pool.
    #[arg(
        long,
        env = "VEROFIELD_DB_MAX_CONNECTIONS",
        default_value_t = 20,
        global = true
    )]
    pub db_max_connections: u32,
    /// PostgreSQL ends a session idle inside a transaction for this long (a backstop: no
    /// request holds a transaction longer than its timeout).
    #[arg(
        long,
        env = "VEROFIELD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub db_idle_in_transaction_timeout_ms: u64,
    #[arg(long, env = "VEROFIELD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Create a company of this size (customers, technicians, 90 days of history, 14 days
    /// scheduled) in a new tenant, through the modules (the built-ins must be built).
    #[arg(long)]
    pub size: Option<crate::demo::company::Size>,
    /// The seed the company is drawn from: the same seed gives the same company.
    #[arg(long, default_value_t = 1, requires = "size")]
    pub seed: u64,
    /// The new tenant's slug (default `demo-<size>-<seed>`).
    #[arg(long, requires = "size")]
    pub slug: Option<String>,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (migrations run first).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date and check the RLS rules.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Create the demo tenant (once) and print its credentials; with `--size`, create a new
    /// tenant holding a whole demo company of that size instead.
    Demo(DemoArgs),
    /// Write, test and publish domain modules (the partner's authoring kit).
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Delete expired idempotency keys and refresh tokens, old delivered events and the rows
    /// of modules tenants stopped using past their retention now (`serve` does it every
    /// `--prune-interval-secs`).
    Prune {
        #[command(flatten)]
        retention: RetentionArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// How long delivered outbox events are kept before pruning.
    /// Also how far back the event feed (`GET /v1/events`) reaches.
    #[arg(long, env = "VEROFIELD_OUTBOX_RETENTION_HOURS", default_value_t = 30 * 24)]
    pub outbox_retention_hours: u64,
    /// How long a tenant's rows in a module's collections are kept after the tenant stopped
    /// using the module (switched its slot away); export them before.
    #[arg(
        long,
        env = "VEROFIELD_MODULE_DATA_RETENTION_DAYS",
        default_value_t = 30
    )]
    pub module_data_retention_days: u64,
}

impl RetentionArgs {
    fn settings(&self) -> crate::db::prune::PruneSettings {
        crate::db::prune::PruneSettings {
            outbox_retention: Duration::from_secs(self.outbox_retention_hours * 3600),
            module_data_retention: Duration::from_secs(self.module_data_retention_days * 86_400),
        }
    }
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ModuleCommand {
    /// Write a ready-to-build module folder `DIR/NAME` (one route, one table, a test, and
    /// the SDK and WIT of this host).
    New {
        /// The module's name and slot: lower-case letters, digits and dashes.
        name: String,
        #[arg(long, value_enum)]
        lang: crate::authoring::scaffold::Lang,
        /// Where the folder is created.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The publisher's namespace: the module is named `NAMESPACE/NAME` and its route's
        /// permission `NAMESPACE.NAME.read`, as a publisher's upload must be. Without it the
        /// name is bare (an operator's upload).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Upload a component as a publisher, print its validation, and wait for its
    /// conformance result.
    Publish {
        /// The component (`.wasm`).
        path: PathBuf,
        /// The VeroField server's base URL (https, or http to this machine).
        #[arg(long, env = "VEROFIELD_SERVER")]
        server: String,
        /// The publisher key (`vfp_...`).
        #[arg(long, env = "VEROFIELD_PUBLISHER_KEY", hide_env_values = true)]
        key: String,
        /// Release notes stored with the version.
        #[arg(long)]
        notes: Option<String>,
        /// How long to wait for conformance before giving up (the version stays published).
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// Run a component in the real host on a throwaway embedded database, against its slot's
    /// conformance pack and your own scenarios (`conformance::cli`).
    Test(crate::conformance::cli::TestArgs),
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, env = "VEROFIELD_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: String,
        #[arg(long)]
        time_zone: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    List(JsonFlag),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Omit to invite the user (an invitation token is printed).
        #[arg(long, env = "VEROFIELD_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A role name; repeat for several.
        #[arg(long = "role", default_value = "viewer")]
        roles: Vec<String>,
        #[arg(long, default_value = "")]
        display_name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, env = "VEROFIELD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Create the demo tenant first (if missing) and print its credentials.
    #[arg(long)]
    pub demo: bool,
    #[arg(long, env = "VEROFIELD_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    #[arg(long, env = "VEROFIELD_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub statement_timeout_ms: u64,
    #[arg(long, env = "VEROFIELD_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,
    #[arg(long, env = "VEROFIELD_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    #[arg(long, env = "VEROFIELD_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    #[arg(long, env = "VEROFIELD_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
    #[arg(long, env = "VEROFIELD_JWT_ISSUER", default_value = "verofield")]
    pub jwt_issuer: String,
    #[arg(long, env = "VEROFIELD_JWT_AUDIENCE", default_value = "verofield-api")]
    pub jwt_audience: String,
    /// HS256 uses a secret generated into the data directory; EdDSA and RS256 read PEM files.
    #[arg(long, env = "VEROFIELD_JWT_ALGORITHM", value_enum, default_value_t = JwtAlgorithm::Hs256)]
    pub jwt_algorithm: JwtAlgorithm,
    #[arg(long, env = "VEROFIELD_JWT_PRIVATE_KEY")]
    pub jwt_private_key: Option<PathBuf>,
    #[arg(long, env = "VEROFIELD_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Failed logins per account before it is locked for the lockout period.
    #[arg(long, env = "VEROFIELD_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: i32,
    /// Failed logins per client address before it is locked.
    #[arg(
        long,
        env = "VEROFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 50
    )]
    pub login_max_failures_per_address: i32,
    #[arg(long, env = "VEROFIELD_LOGIN_LOCKOUT_SECS", default_value_t = 900)]
    pub login_lockout_secs: u64,
    /// The longest wait between attempts on an account past `--login-max-failures` (the
    /// wait doubles with each further failure up to this).
    #[arg(long, env = "VEROFIELD_LOGIN_MAX_DELAY_SECS", default_value_t = 300)]
    pub login_max_delay_secs: u64,
    /// Proxies (CIDR blocks, comma-separated) whose `X-Forwarded-For` names the client;
    /// from any other peer the header is ignored.
    #[arg(long, env = "VEROFIELD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::auth::client_address::Cidr>,
    /// Where compiled modules are cached (default `<data-dir>/cache/modules`). Hosts running
    /// the same binary may share it: entries are named by component digest and written
    /// atomically, and wasmtime refuses code compiled with other engine settings.
    #[arg(long, env = "VEROFIELD_MODULE_CACHE_DIR")]
    pub module_cache_dir: Option<PathBuf>,
    /// Write `/tmp/perf-<pid>.map` so that `perf record` / `perf report` name the functions
    /// of module code. Costs a little at every module load; for profiling sessions.
    #[arg(long, env = "VEROFIELD_WASM_PERF_MAP")]
    pub wasm_perf_map: bool,
    /// Components (`*.wasm`) published as built-in modules at start-up.
    #[arg(
        long,
        env = "VEROFIELD_BUILTIN_MODULES",
        default_value = "plugins/target/wasm32-wasip2/release"
    )]
    pub builtin_modules: PathBuf,
    /// The deadline of a module call when the module's manifest asks for nothing else.
    /// Modules see what is left of it (`x-verofield-deadline-ms`) and stop long work in time.
    #[arg(
        long,
        env = "VEROFIELD_MODULE_DEADLINE_MS",
        default_value_t = 2_000,
        value_parser = clap::value_parser!(u64).range(100..=600_000)
    )]
    pub module_deadline_ms: u64,
    /// The longest call deadline a built-in module may be granted when its manifest asks for
    /// more than the default (a routing solve with a 10 s budget, for instance). Uploaded
    /// modules keep the default. Keep it below `--request-timeout-secs`.
    #[arg(
        long,
        env = "VEROFIELD_MODULE_MAX_DEADLINE_MS",
        default_value_t = 30_000
    )]
    pub module_max_deadline_ms: u64,
    /// How long compiling an uploaded component may take before the upload is refused
    /// (422 `module_compile_timeout`): a compile bomb cannot hold the host. Uploads compile
    /// one at a time, off the request path.
    #[arg(
        long,
        env = "VEROFIELD_MODULE_COMPILE_TIMEOUT_MS",
        default_value_t = 60_000
    )]
    pub module_compile_timeout_ms: u64,
    /// How long an upload waits for the one compile slot before it is answered 503
    /// `server_busy` with `Retry-After`.
    #[arg(
        long,
        env = "VEROFIELD_MODULE_COMPILE_WAIT_MS",
        default_value_t = 10_000
    )]
    pub module_compile_wait_ms: u64,
    /// The platform operator's bearer token; generated into the data directory if unset.
    #[arg(long, env = "VEROFIELD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Also serve `GET /v1/baseline/crm/customers/{id}`, the native handler the HTTP
    /// benchmark compares the CRM module with (scripts/bench-http.sh). Exists only in builds
    /// with the cargo feature `bench-baseline`.
    #[cfg(feature = "bench-baseline")]
    #[arg(long, env = "VEROFIELD_BENCH_BASELINE")]
    pub bench_baseline: bool,
    /// Tests only, debug builds only: every store statement waits this long first, so that
    /// what fits in a module's deadline does not depend on the machine's speed.
    #[arg(
        long,
        env = "VEROFIELD_TEST_STORE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_store_delay_ms: u64,
    /// Tenant transactions (pooled connections) one tenant may hold at once; past it 429
    /// `tenant_busy`. Default: half of `--db-max-connections`.
    #[arg(long, env = "VEROFIELD_TENANT_MAX_TRANSACTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_max_transactions: Option<u32>,
    /// Module calls one tenant may have in flight; past it 429 `tenant_busy`.
    #[arg(long, env = "VEROFIELD_TENANT_MAX_MODULE_CALLS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_max_module_calls: u32,
    /// Long module calls (deadline above `--module-deadline-ms`, e.g. routing solves) one
    /// tenant may have in flight; they run on low-priority threads of their own.
    #[arg(long, env = "VEROFIELD_TENANT_MAX_LONG_CALLS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_max_long_calls: u32,
    /// argon2 computations at once (default: the number of cores).
    #[arg(long, env = "VEROFIELD_PASSWORD_HASH_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    pub password_hash_concurrency: Option<u32>,
    /// Logins and password changes that may wait for an argon2 slot; past it 503 `server_busy`.
    #[arg(long, env = "VEROFIELD_PASSWORD_HASH_QUEUE", default_value_t = 32)]
    pub password_hash_queue: u32,
    /// Seconds between pruning passes (expired idempotency keys and refresh tokens, old
    /// delivered events); one host prunes at a time.
    #[arg(
        long,
        env = "VEROFIELD_PRUNE_INTERVAL_SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub prune_interval_secs: u64,
    /// Milliseconds between the scheduler's ticks (`scheduler`): how late a due task may run.
    #[arg(
        long,
        env = "VEROFIELD_SCHEDULER_INTERVAL_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(10..)
    )]
    pub scheduler_interval_ms: u64,
    /// Milliseconds between writes of the usage meter (`usage`): what a crash may lose, and
    /// how late `GET /v1/tenant/usage` may be.
    #[arg(
        long,
        env = "VEROFIELD_USAGE_FLUSH_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(10..)
    )]
    pub usage_flush_ms: u64,
    /// Run no scheduler on this host (other hosts on the database still run theirs).
    #[arg(long, env = "VEROFIELD_NO_SCHEDULER")]
    pub no_scheduler: bool,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Let webhooks and other outbound requests use plain `http://` URLs (tests and
    /// on-premise receivers; never on the public internet).
    #[arg(long, env = "VEROFIELD_OUTBOUND_ALLOW_HTTP")]
    pub outbound_allow_http: bool,
    /// A block (CIDR) outbound requests may reach although it is private, loopback or
    /// link-local, e.g. `127.0.0.0/8` for tests or `10.20.0.0/16` for an on-premise install.
    /// Repeat, or separate with commas. Default: none.
    #[arg(
        long = "outbound-allow-cidr",
        env = "VEROFIELD_OUTBOUND_ALLOW_CIDRS",
        value_delimiter = ','
    )]
    pub outbound_allow_cidrs: Vec<crate::auth::client_address::Cidr>,
    /// `NAME=IP`: outbound requests to NAME go to IP without asking DNS (tests, split-horizon
    /// installs), like curl's `--resolve`. The address is still checked: a private one needs
    /// `--outbound-allow-cidr`. Repeat, or separate with commas.
    #[arg(
        long = "outbound-resolve",
        env = "VEROFIELD_OUTBOUND_RESOLVE",
        value_delimiter = ',',
        value_parser = parse_resolve
    )]
    pub outbound_resolve: Vec<(String, std::net::IpAddr)>,
    #[command(flatten)]
    pub dispatch: DispatchArgs,
    #[command(flatten)]
    pub stripe: StripeArgs,
    /// The SMTP server for password-reset and invitation mail: `smtp://host:port`
    /// (`?tls=required` for STARTTLS) or `smtps://host:port`, credentials as `user:pass@`.
    /// Without it nothing is mailed and admins receive the one-time tokens in the answer.
    #[arg(long, env = "VEROFIELD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of that mail.
    #[arg(
        long,
        env = "VEROFIELD_MAIL_FROM",
        default_value = "VeroField <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Where people reach this server, for links in mail (default `http://<listen>`).
    #[arg(long, env = "VEROFIELD_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Stripe (`payments`). Keys come from the environment or a file, never a module, and are
/// never logged.
#[derive(Args, Debug)]
pub struct StripeArgs {
    /// Stripe's API base URL (tests point it at their own server).
    #[arg(
        long,
        env = "VEROFIELD_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// The platform's secret key (`sk_...`). Without one, payment calls answer `not-configured`.
    #[arg(long, env = "VEROFIELD_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// A file holding the platform's secret key (instead of `--stripe-secret-key`).
    #[arg(
        long,
        env = "VEROFIELD_STRIPE_SECRET_KEY_FILE",
        conflicts_with = "stripe_secret_key"
    )]
    pub stripe_secret_key_file: Option<std::path::PathBuf>,
    /// Webhook signing secrets (`whsec_...`); several during a rotation. Comma-separated.
    #[arg(
        long = "stripe-webhook-secret",
        env = "VEROFIELD_STRIPE_WEBHOOK_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub stripe_webhook_secrets: Vec<String>,
    /// A file of webhook signing secrets, one a line (added to `--stripe-webhook-secret`).
    #[arg(long, env = "VEROFIELD_STRIPE_WEBHOOK_SECRETS_FILE")]
    pub stripe_webhook_secrets_file: Option<std::path::PathBuf>,
    /// Retries of a Stripe request answered 429, 409 or 5xx (same idempotency key).
    #[arg(long, env = "VEROFIELD_STRIPE_RETRIES", default_value_t = 2)]
    pub stripe_retries: u32,
    /// The first retry's backoff in milliseconds; each further retry doubles it.
    #[arg(long, env = "VEROFIELD_STRIPE_RETRY_BASE_MS", default_value_t = 250)]
    pub stripe_retry_base_ms: u64,
}

impl StripeArgs {
    fn settings(&self) -> Result<crate::payments::StripeSettings> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        };
        let secret_key = match &self.stripe_secret_key_file {
            Some(path) => Some(read(path)?.trim().to_owned()),
            None => self.stripe_secret_key.clone(),
        };
        let mut webhook_secrets = self.stripe_webhook_secrets.clone();
        if let Some(path) = &self.stripe_webhook_secrets_file {
            webhook_secrets.extend(read(path)?.lines().map(str::trim).map(str::to_owned));
        }
        webhook_secrets.retain(|secret| !secret.is_empty());
        Ok(crate::payments::StripeSettings {
            secret_key: secret_key.filter(|key| !key.is_empty()),
            webhook_secrets,
            api_base: self.stripe_api_base.clone(),
            retries: self.stripe_retries,
            retry_base: Duration::from_millis(self.stripe_retry_base_ms),
        })
    }
}

/// The event dispatcher (`events::dispatch`).
#[derive(Args, Debug)]
pub struct DispatchArgs {
    /// Do not deliver events from this host (others on the database still do).
    #[arg(long, env = "VEROFIELD_NO_EVENT_DISPATCH")]
    pub no_event_dispatch: bool,
    /// The first retry's delay; each next one is four times longer, up to 6 hours.
    #[arg(long, env = "VEROFIELD_EVENT_RETRY_BASE_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub event_retry_base_ms: u64,
    /// Attempts before a module subscriber's delivery is dead.
    #[arg(long, env = "VEROFIELD_EVENT_MAX_ATTEMPTS", default_value_t = 10,
          value_parser = clap::value_parser!(i32).range(1..=100))]
    pub event_max_attempts: i32,
    /// How long a webhook delivery is retried before it is dead (and a never-succeeding
    /// endpoint disabled).
    #[arg(long, env = "VEROFIELD_WEBHOOK_RETRY_WINDOW_SECS", default_value_t = 3 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_window_secs: u64,
    /// How long a claimed delivery belongs to this host before another may take it over.
    #[arg(long, env = "VEROFIELD_EVENT_LEASE_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub event_lease_secs: u64,
    /// How often the due retries are looked for, and every tenant swept.
    #[arg(long, env = "VEROFIELD_EVENT_POLL_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub event_poll_ms: u64,
    #[arg(long, env = "VEROFIELD_EVENT_SWEEP_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub event_sweep_secs: u64,
}

impl DispatchArgs {
    fn settings(&self, statement_timeout: Duration) -> crate::events::DispatchSettings {
        crate::events::DispatchSettings {
            enabled: !self.no_event_dispatch,
            poll_interval: Duration::from_millis(self.event_poll_ms),
            sweep_interval: Duration::from_secs(self.event_sweep_secs),
            lease: Duration::from_secs(self.event_lease_secs),
            statement_timeout,
            retry: crate::events::RetryPolicy {
                base: Duration::from_millis(self.event_retry_base_ms),
                module_attempts: self.event_max_attempts,
                webhook_window: Duration::from_secs(self.webhook_retry_window_secs),
                ..crate::events::RetryPolicy::default()
            },
            ..crate::events::DispatchSettings::default()
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

impl Cli {
    fn database(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self.database_url.clone(),
            embedded_root: self.data_dir.join("pg"),
            secrets_dir: self.data_dir.join("secrets"),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_millis(
                self.db_idle_in_transaction_timeout_ms,
            ),
        }
    }

    pub async fn run(self) -> Result<()> {
        match &self.command {
            Command::Serve(args) => {
                let settings = server_settings(&self, args)?;
                crate::serve(settings, args.demo).await
            }
            Command::Migrate => {
                let db = Database::open_checked(&self.database()).await?;
                println!("migrations applied; RLS self-check passed");
                db.close().await
            }
            Command::Tenant(TenantCommand::Create {
                name,
                slug,
                admin_email,
                admin_password,
                time_zone,
                output,
            }) => {
                let db = Database::open_checked(&self.database()).await?;
                let created = provision::create_tenant(
                    &db.pool,
                    NewTenant {
                        name: name.clone(),
                        slug: slug.clone(),
                        time_zone: time_zone.clone(),
                        admin_email: admin_email.clone(),
                        admin_password: admin_password.clone(),
                    },
                    CLI_STATEMENT_TIMEOUT,
                )
                .await
                .map_err(explain)?;
                print(output.json, &created, || {
                    format!(
                        "created tenant {} ({}) with owner {}",
                        created.slug, created.tenant_id, created.admin_email
                    )
                })?;
                db.close().await
            }
            Command::Tenant(TenantCommand::List(output)) => {
                let db = Database::open_checked(&self.database()).await?;
                let rows: Vec<(uuid::Uuid, String, String, String)> =
                    sqlx::query_as("SELECT id, slug, name, status FROM tenants ORDER BY id")
                        .fetch_all(&db.pool)
                        .await?;
                if output.json {
                    let list: Vec<_> = rows
                        .iter()
                        .map(|(id, slug, name, status)| serde_json::json!({"id": id, "slug": slug, "name": name, "status": status}))
                        .collect();
                    println!("{}", serde_json::to_string(&list)?);
                } else {
                    for (id, slug, name, status) in &rows {
                        println!("{id}  {slug:<24} {status:<10} {name}");
                    }
                }
                db.close().await
            }
            Command::User(UserCommand::Create {
                tenant,
                email,
                password,
                roles,
                display_name,
                output,
            }) => {
                let db = Database::open_checked(&self.database()).await?;
                let tenant_id: uuid::Uuid =
                    sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
                        .bind(tenant)
                        .fetch_optional(&db.pool)
                        .await?
                        .with_context(|| format!("no tenant with slug `{tenant}`"))?;
                let scope = TenantScope {
                    tenant_id,
                    user_id: None,
                };
                let mut tx = TenantTx::begin(&db.pool, scope, CLI_STATEMENT_TIMEOUT).await?;
                let new = NewUser {
                    email: email.clone(),
                    display_name: display_name.clone(),
                    roles: roles.clone(),
                    password: password.clone(),
                };
                let created = provision::create_user(&mut tx, new, None, None)
                    .await
                    .map_err(explain)?;
                tx.commit().await?;
                #[derive(Serialize)]
                struct Out<'a> {
                    tenant_id: uuid::Uuid,
                    user_id: uuid::Uuid,
                    email: &'a str,
                    roles: &'a [String],
                    invite_token: Option<String>,
                }
                let out = Out {
                    tenant_id,
                    user_id: created.user_id,
                    email,
                    roles,
                    invite_token: created.invite_token,
                };
                print(output.json, &out, || match &out.invite_token {
                    Some(token) => format!(
                        "invited {} ({}); invitation token: {token}",
                        out.email, out.user_id
                    ),
                    None => format!("created user {} ({})", out.email, out.user_id),
                })?;
                db.close().await
            }
            Command::Prune { retention, output } => {
                let db = Database::open_checked(&self.database()).await?;
                let pruned = crate::db::prune::prune_once(&db.pool, &retention.settings()).await?;
                match pruned {
                    Some(pruned) => print(output.json, &pruned, || {
                        format!(
                            "pruned {} idempotency keys, {} refresh tokens, {} delivered events, {} rows of modules no longer used",
                            pruned.idempotency_keys,
                            pruned.refresh_tokens,
                            pruned.outbox_events,
                            pruned.module_rows
                        )
                    })?,
                    None => bail!("another host is pruning; try again later"),
                }
                db.close().await
            }
            Command::Module(ModuleCommand::New {
                name,
                lang,
                dir,
                namespace,
            }) => {
                let created =
                    crate::authoring::scaffold::create(name, namespace.as_deref(), *lang, dir)?;
                println!("created {}; see its README.md", created.display());
                Ok(())
            }
            Command::Module(ModuleCommand::Publish {
                path,
                server,
                key,
                notes,
                wait_secs,
            }) => {
                let component =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let publisher = crate::authoring::publish::Publisher::new(server, key)?;
                let wait = Duration::from_secs(*wait_secs);
                let mut out = std::io::stdout();
                crate::authoring::publish::run(
                    &publisher,
                    component,
                    notes.as_deref(),
                    wait,
                    &mut out,
                )
                .await
                .map(drop)
            }
            Command::Module(ModuleCommand::Test(args)) => crate::conformance::cli::run(args).await,
            Command::Demo(DemoArgs {
                size: Some(size),
                seed,
                slug,
                output,
            }) => {
                let slug = slug.clone().unwrap_or_else(|| {
                    format!("demo-{}-{seed}", format!("{size:?}").to_lowercase())
                });
                self.demo_company(&slug, *size, *seed, output.json).await
            }
            Command::Demo(DemoArgs { output, .. }) => {
                let db = Database::open_checked(&self.database()).await?;
                let demo = crate::demo::ensure(&db.pool, &self.data_dir).await?;
                print(output.json, &demo, || demo.describe())?;
                db.close().await
            }
        }
    }
}

impl Cli {
    /// `demo --size`: a host started in process (no listener, no scheduler) on this
    /// command's database and data directory, the company created through its modules.
    async fn demo_company(&self, slug: &str, size: Size, seed: u64, json: bool) -> Result<()> {
        let settings = in_process_settings(&self.data_dir, self.database_url.clone(), None)?;
        let host = crate::Host::start(&settings).await?;
        let started = std::time::Instant::now();
        let created = crate::demo::create_company(&host.state, slug, size, seed).await;
        let seconds = started.elapsed().as_secs_f64();
        host.stop().await?;
        let (credentials, summary) = created?;
        let answer = serde_json::json!({"credentials": credentials, "summary": summary,
            "size": size, "seed": seed, "seconds": (seconds * 10.0).round() / 10.0});
        print(json, &answer, || {
            format!(
                "{}\n{} (in {seconds:.1} s)",
                credentials.describe(),
                summary.describe()
            )
        })
    }
}

/// A readable message from a provisioning error (validation fields included).
fn explain(error: crate::error::Error) -> anyhow::Error {
    match error {
        crate::error::Error::Problem {
            code,
            detail,
            fields,
            ..
        } => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            anyhow::anyhow!(
                "{code}: {detail}{}{}",
                if fields.is_empty() { "" } else { "\n  " },
                fields.join("\n  ")
            )
        }
        other => anyhow::anyhow!(other),
    }
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

/// The settings `serve` would resolve for a host started in process by another command
/// (`demo --size`, `module test`): no listener of its own, no scheduler, on `database_url`
/// (None: the embedded cluster of `data_dir`).
pub(crate) fn in_process_settings(
    data_dir: &Path,
    database_url: Option<String>,
    module_cache_dir: Option<&Path>,
) -> Result<ServerSettings> {
    let dir = data_dir.to_string_lossy().into_owned();
    let mut args = vec![
        "verofield".to_owned(),
        "--data-dir".into(),
        dir,
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--no-scheduler".into(),
    ];
    if let Some(cache) = module_cache_dir {
        args.extend([
            "--module-cache-dir".into(),
            cache.to_string_lossy().into_owned(),
        ]);
    }
    let mut cli = Cli::try_parse_from(args)?;
    cli.database_url = database_url;
    let Command::Serve(serve) = &cli.command else {
        unreachable!("parsed as serve")
    };
    server_settings(&cli, serve)
}

pub(crate) fn server_settings(cli: &Cli, args: &ServeArgs) -> Result<ServerSettings> {
    if args.test_store_delay_ms > 0 && !cfg!(debug_assertions) {
        bail!("--test-store-delay-ms is a test setting: only debug builds accept it");
    }
    let key_source = match args.jwt_algorithm {
        JwtAlgorithm::Hs256 => KeySource::GeneratedHs256 {
            data_dir: cli.data_dir.clone(),
        },
        algorithm => KeySource::Pem {
            algorithm: match algorithm {
                JwtAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
                _ => jsonwebtoken::Algorithm::RS256,
            },
            private_key: args
                .jwt_private_key
                .clone()
                .context("--jwt-private-key is required for EdDSA and RS256")?,
            public_key: args
                .jwt_public_key
                .clone()
                .context("--jwt-public-key is required for EdDSA and RS256")?,
        },
    };
    Ok(ServerSettings {
        data_dir: cli.data_dir.clone(),
        database: cli.database(),
        listen: args.listen,
        limits: crate::http::Limits {
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            statement_timeout: Duration::from_millis(args.statement_timeout_ms),
            body_limit: args.body_limit_bytes,
            refresh_ttl: Duration::from_secs(args.refresh_token_ttl_secs),
        },
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        key_source,
        token: TokenSettings {
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
            access_ttl: Duration::from_secs(args.access_token_ttl_secs),
        },
        throttle: ThrottleSettings {
            account_max_failures: args.login_max_failures,
            address_max_failures: args.login_max_failures_per_address,
            window: Duration::from_secs(args.login_lockout_secs.max(60)),
            lockout: Duration::from_secs(args.login_lockout_secs),
            account_max_delay: Duration::from_secs(args.login_max_delay_secs.max(1)),
            trusted_proxies: args.trusted_proxies.clone(),
        },
        operator_token: args.operator_token.clone(),
        log_json: matches!(cli.log_format, LogFormat::Json),
        builtin_modules: args.builtin_modules.clone(),
        module_cache_dir: args
            .module_cache_dir
            .clone()
            .unwrap_or_else(|| cli.data_dir.join("cache").join("modules")),
        module_deadline: Duration::from_millis(args.module_deadline_ms),
        module_max_deadline: Duration::from_millis(args.module_max_deadline_ms),
        upload_compile: crate::runtime::UploadCompile {
            timeout: Duration::from_millis(args.module_compile_timeout_ms),
            wait: Duration::from_millis(args.module_compile_wait_ms),
        },
        wasm_perf_map: args.wasm_perf_map,
        #[cfg(feature = "bench-baseline")]
        bench_baseline: args.bench_baseline,
        test_store_delay: Duration::from_millis(args.test_store_delay_ms),
        tenant_max_transactions: args
            .tenant_max_transactions
            .unwrap_or((cli.db_max_connections / 2).max(1))
            as usize,
        call_shares: crate::runtime::CallShares {
            calls_per_tenant: args.tenant_max_module_calls as usize,
            long_calls_per_tenant: args.tenant_max_long_calls as usize,
            long_above: Duration::from_millis(args.module_deadline_ms),
            ..crate::runtime::CallShares::default()
        },
        password_hashing: crate::auth::password::HashingLimits {
            concurrency: args
                .password_hash_concurrency
                .map_or_else(crate::auth::password::HashingLimits::cores, |n| n as usize),
            queue: args.password_hash_queue as usize,
        },
        prune: args.retention.settings(),
        prune_interval: Duration::from_secs(args.prune_interval_secs),
        usage_flush: Duration::from_millis(args.usage_flush_ms),
        scheduler: crate::scheduler::SchedulerSettings {
            enabled: !args.no_scheduler,
            interval: Duration::from_millis(args.scheduler_interval_ms),
        },
        outbound: crate::outbound::OutboundSettings {
            allow_http: args.outbound_allow_http,
            allow_cidrs: args.outbound_allow_cidrs.clone(),
            resolve: args.outbound_resolve.clone(),
            ..crate::outbound::OutboundSettings::default()
        },
        dispatch: args
            .dispatch
            .settings(Duration::from_millis(args.statement_timeout_ms)),
        stripe: args.stripe.settings()?,
        mail: crate::mail::MailSettings {
            smtp_url: args.smtp_url.clone(),
            from: args.mail_from.clone(),
            public_url: args
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", args.listen)),
        },
    })
}

/// `--outbound-resolve NAME=IP`: a lower-case host name and the address it stands for.
fn parse_resolve(text: &str) -> std::result::Result<(String, std::net::IpAddr), String> {
    let (name, ip) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=IP"))?;
    let ip = ip
        .parse()
        .map_err(|_| format!("`{ip}` is not an IP address"))?;
    if name.is_empty() || name.contains([':', '/', '@']) {
        return Err(format!("`{name}` is not a host name"));
    }
    Ok((name.to_ascii_lowercase(), ip))
}
