//! VeroField host: identity, tenancy, RLS-guarded storage and the WebAssembly module runtime.
//! `main.rs` only parses the command line; everything else is here so that tests and tools
//! can reuse it (the embedded PostgreSQL launcher in particular).
//!
//! The map, one line a module (docs/ARCHITECTURE.md says why each is shaped as it is):
//! - [`cli`], [`config`]: the command line and the settings it resolves to.
//! - [`authoring`]: the partner's kit, `module new` (templates, vendored SDKs and WIT) and
//!   `module publish` (the publisher API's client).
//! - [`pg`]: the embedded PostgreSQL launcher (private socket, generated passwords).
//! - [`db`]: the pool, migrations, the RLS self-check at start-up, pruning of expired rows.
//! - [`tenancy`]: `TenantTx`, the one door to tenant data; provisioning; per-tenant shares.
//! - [`auth`]: passwords (argon2 behind one gate), JWTs, refresh tokens, API keys, throttling,
//!   RBAC.
//! - [`http`]: router, middleware, extractors, problem+json, one handler file per resource.
//! - [`registry`]: module versions by digest, tenant bindings and shares, built-in discovery,
//!   and the one home of a module call (route it, run it in the tenant transaction).
//! - [`conformance`]: each core slot's pack of HTTP scenarios (`conformance/*.json`), run
//!   against an uploaded version in a throwaway tenant; results per version gate binding.
//! - [`runtime`]: the wasmtime engine, limits, compiled-code cache, route matching, one file
//!   per capability.
//! - [`storage`]: store calls compiled to SQL over the column catalog; database errors mapped.
//! - [`events`]: the outbox modules write their events into, and the dispatcher that delivers
//!   it to subscribing modules and webhooks once each in effect, across hosts.
//! - [`event_catalog`]: every event type's payload fields, the one source of docs/EVENTS.md's
//!   checks, the OpenAPI `webhooks` and the payload tests.
//! - [`extensions`]: extension points: tenants' pure components run by core modules at named
//!   points (`jobs.validate`), fuel-metered, combined and failing as each point defines.
//! - [`custom_fields`]: tenants' own fields on customers, locations, jobs and agreements,
//!   checked by the store on every module write.
//! - [`imports`]: CSV import (a background job per file, rows through the modules, idempotent
//!   by external id, dry runs) and CSV export of customers, technicians and service types.
//! - [`module_config`]: a module's per-tenant configuration (JSON Schema) and sealed secrets.
//! - [`mail`]: password-reset and invitation mail over SMTP (`lettre`), when configured.
//! - [`outbound`]: the one hardened HTTP client for requests the server sends out (SSRF rules).
//! - [`payments`]: Stripe on the host (client, connected accounts, webhook signatures and
//!   routing); modules reach it through the `payments` capability.
//! - [`webhooks`]: tenants' webhook endpoints, Standard Webhooks signing, one delivery attempt.
//! - [`scheduler`]: per-tenant recurring tasks in the tenant's time zone, run once across
//!   hosts: module ticks appended to the outbox, the host's own pruning.
//! - [`shadow`]: shadow runs, a candidate version answering a sample of a tenant's requests
//!   after the live one, rolled back, its differences counted and kept as examples.
//! - [`usage`]: usage metering per tenant, module and hour, gathered in memory and flushed
//!   with an additive upsert; read back for tenants and the operator.
//! - [`error`]: the one error type, rendered as problem+json.
//! - [`demo`], [`secrets`]: the demo tenant and demo companies drawn from a seed, created
//!   through the modules; generated secrets under the data directory.

pub mod auth;
pub mod authoring;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod custom_fields;
pub mod db;
pub mod demo;
pub mod error;
pub mod event_catalog;
pub mod events;
pub mod extensions;
pub mod http;
pub mod imports;
pub mod mail;
pub mod module_config;
pub mod outbound;
pub mod payments;
pub mod pg;
pub mod registry;
pub mod runtime;
pub mod scheduler;
pub mod secrets;
pub mod shadow;
pub mod storage;
pub mod tenancy;
pub mod usage;
pub mod webhooks;

use std::sync::Arc;

use tokio::task::JoinHandle;

use anyhow::{Context, Result};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use sha2::{Digest, Sha256};

use crate::auth::jwt::TokenKeys;
use crate::config::ServerSettings;
use crate::http::{AppState, Shared};

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Runs the server until SIGTERM or SIGINT, then drains and stops the embedded database.
pub async fn serve(settings: ServerSettings, demo: bool) -> Result<()> {
    // First, so that a signal during start-up still ends in an orderly shutdown (and the
    // embedded cluster is stopped) once the server is up, rather than killing the process.
    let shutdown = http::server::shutdown_signal();
    let host = Host::start(&settings).await?;
    let demo = if demo {
        Some(demo::ensure_for_serve(&host.state, &settings.data_dir).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr()?;
    // Scripts and the test harness wait for this exact line.
    println!("verofield listening on http://{address}");
    if let Some(credentials) = demo {
        // A browser cannot open 0.0.0.0; this machine's own name reaches the same listener.
        let host = if address.ip().is_unspecified() {
            format!("localhost:{}", address.port())
        } else {
            address.to_string()
        };
        println!("{}", credentials.console_hint(&format!("http://{host}")));
    }
    tracing::info!(%address, "serving");
    http::server::serve(
        listener,
        http::router(host.state.clone()),
        shutdown,
        settings.shutdown_grace,
    )
    .await?;
    host.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

/// A started host without its listener: the database open and migrated, the modules
/// published, the background work (pruning, event dispatch, the scheduler) running, and the
/// state the router serves. `serve` listens on it; `verofield module test` sends requests to
/// its router in process.
pub struct Host {
    pub state: AppState,
    db: db::Database,
    background: Vec<JoinHandle<()>>,
}

impl Host {
    pub async fn start(settings: &ServerSettings) -> Result<Self> {
        let metrics = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )?
            .install_recorder()
            .context("installing the metrics recorder")?;
        auth::password::configure(settings.password_hashing);
        let tokens = TokenKeys::load(&settings.key_source, settings.token.clone())?;
        let operator_token = match &settings.operator_token {
            Some(token) => token.clone(),
            None => secrets::load_or_generate(
                &settings.data_dir.join("secrets").join("operator-token"),
                secrets::random_hex,
            )?,
        };

        let db = db::Database::open_checked(&settings.database).await?;
        let mut background = Vec::new();
        let pool = db.pool.clone();
        let throttle = settings.throttle.clone();
        background.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                if let Err(error) = auth::throttle::prune(&pool, &throttle).await {
                    tracing::warn!(%error, "pruning login throttle counters failed");
                }
            }
        }));
        background.push(db::prune::spawn(
            db.pool.clone(),
            settings.prune.clone(),
            settings.prune_interval,
        ));

        let mut runtime_config = runtime::RuntimeConfig::new(settings.module_cache_dir.clone());
        runtime_config.limits.deadline = settings.module_deadline;
        runtime_config.trusted_max.deadline = settings.module_max_deadline;
        runtime_config.perf_map = settings.wasm_perf_map;
        runtime_config.upload_compile = settings.upload_compile.clone();
        runtime_config.shares = settings.call_shares.clone();
        let runtime = runtime::Runtime::new(runtime_config)?;
        let columns = Arc::new(storage::Columns::new(
            storage::Catalog::load(&db.pool).await?,
        ));
        let outbound = outbound::Outbound::new(settings.outbound.clone());
        let stripe = payments::Stripe::new(outbound.clone(), settings.stripe.clone());
        let mailer = mail::Mailer::new(&settings.mail)?;
        let registry = Arc::new(
            registry::Registry::new(db.pool.clone(), Arc::new(runtime), columns)
                .with_payments(stripe.clone())
                .with_outbound(outbound.clone())
                .with_sealer(module_config::Sealer::from_hex(
                    &secrets::load_or_generate(
                        &settings
                            .data_dir
                            .join("secrets")
                            .join(module_config::seal::KEY_FILE),
                        secrets::random_hex,
                    )?,
                )?),
        );
        background.push(registry.meter().clone().spawn(
            db.pool.clone(),
            settings.usage_flush,
            settings.limits.statement_timeout,
        ));
        registry.load_catalog().await?;
        background.push(registry.watch_published());
        registry.publish_builtins(&settings.builtin_modules).await?;
        storage::test_delay::install(settings.test_store_delay);
        let dispatcher = events::Dispatcher::new(
            db.pool.clone(),
            registry.clone(),
            outbound.clone(),
            settings.dispatch.clone(),
        );
        if settings.dispatch.enabled {
            background.extend(dispatcher.spawn());
        }
        if settings.scheduler.enabled {
            background.push(
                scheduler::Scheduler::new(
                    db.pool.clone(),
                    registry.clone(),
                    settings.prune.clone(),
                    settings.limits.statement_timeout,
                )
                .spawn(settings.scheduler.interval),
            );
        }

        let state = AppState::new(Shared {
            pool: db.pool.clone(),
            tokens,
            limits: settings.limits.clone(),
            throttle: settings.throttle.clone(),
            operator_token_digest: Sha256::digest(operator_token.as_bytes()).into(),
            metrics,
            registry,
            #[cfg(feature = "bench-baseline")]
            bench_baseline: settings.bench_baseline,
            tenant_transactions: tenancy::share::TenantShare::new(
                "database transactions",
                settings.tenant_max_transactions,
            ),
            outbound,
            stripe,
            mailer,
        });
        if let Err(error) = conformance::resume_pending(&state).await {
            tracing::warn!(%error, "resuming unfinished conformance runs failed");
        }
        Ok(Self {
            state,
            db,
            background,
        })
    }

    /// Stops the background work, closes the pool and stops the embedded database.
    pub async fn stop(self) -> Result<()> {
        // Awaited once aborted, so their connections are back in the pool before it closes
        // (else they are released into a stopped cluster, with a warning each).
        for task in self.background {
            task.abort();
            let _ = task.await;
        }
        // What was metered since the last flush; a crash instead loses at most one interval.
        let state = &self.state;
        let flushed = state
            .registry
            .meter()
            .flush(&state.pool, state.limits.statement_timeout)
            .await;
        tracing::info!(rows = flushed, "usage flushed");
        drop(self.state);
        self.db.close().await
    }
}
