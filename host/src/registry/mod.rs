//! The module registry: published versions (content-addressed, global) and each tenant's
//! bindings of slots to versions (append-only history; the newest row per slot serves).
//!
//! Publishing loads the component through the runtime first, so only a component of our
//! world whose manifest parses is ever recorded. Built-in modules are published from a
//! directory at start-up. A tenant with no binding for a slot is served by the newest
//! built-in for it (so every tenant, new or old, has the built-ins, and platform upgrades
//! reach them); an explicit binding pins a version until the tenant rebinds or rolls back.
//! Any host can serve any module: a version missing from this host's runtime is read from
//! PostgreSQL and loaded (compiled once, then from the disk cache).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{Error, Result, is_unique_violation};
use crate::runtime::{Digest, ModuleHandle, Runtime};
use crate::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Version {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub slot: String,
    pub builtin: bool,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

pub struct Registry {
    pool: PgPool,
    runtime: Arc<Runtime>,
    /// The newest built-in per slot, as last read, and when. Built-ins change only when a
    /// host publishes them at start-up, yet every request of a tenant without a binding needs
    /// one: reading it from PostgreSQL each time cost a second pooled connection per request.
    /// Forgotten whenever any host publishes a built-in ([`Registry::watch_builtins`]).
    builtins: RwLock<HashMap<String, (Instant, Option<Version>)>>,
}

/// How long a cached built-in look-up is trusted at most. Hosts forget their caches as soon
/// as any host publishes a built-in (`LISTEN`/`NOTIFY` on [`BUILTINS_CHANNEL`]); the TTL is
/// only a backstop.
const BUILTIN_TTL: Duration = Duration::from_secs(60);
const BUILTINS_CHANNEL: &str = "verofield_builtins_published";

impl Registry {
    pub fn new(pool: PgPool, runtime: Arc<Runtime>) -> Self {
        Self {
            pool,
            runtime,
            builtins: RwLock::default(),
        }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Validates and records a component; publishing the same bytes again is a no-op.
    pub async fn publish(&self, component: &[u8], builtin: bool, by: &str) -> Result<Version> {
        let module = self.load(component, builtin).await?;
        let manifest = &module.manifest;
        let inserted = sqlx::query(
            "INSERT INTO module_versions (digest, name, version, slot, manifest, component, builtin, published_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(module.digest.to_string())
        .bind(&manifest.name)
        .bind(&manifest.version)
        .bind(&manifest.slot)
        .bind(serde_json::to_value(manifest.as_ref()).map_err(anyhow::Error::from)?)
        .bind(component)
        .bind(builtin)
        .bind(by)
        .execute(&self.pool)
        .await;
        let inserted = match inserted {
            Err(error) if is_unique_violation(&error, Some("module_versions_name_version_key")) => {
                return Err(Error::conflict(
                    "version_exists",
                    format!(
                        "{} {} is published with other content",
                        manifest.name, manifest.version
                    ),
                ));
            }
            other => other?,
        };
        if builtin && inserted.rows_affected() == 1 {
            self.forget_builtins();
            // Every other host forgets its cached built-ins too (see `watch_builtins`).
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(BUILTINS_CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        self.version(&module.digest.to_string()).await
    }

    fn forget_builtins(&self) {
        self.builtins.write().unwrap().clear();
    }

    /// Listens for built-ins published by any host (including this one) and forgets the
    /// cached ones, so that hosts coordinate through PostgreSQL rather than by waiting out
    /// the cache. A lost listening connection may have missed a notice: the cache is
    /// forgotten then too. Runs until the task is aborted.
    pub fn watch_builtins(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = registry.listen_for_builtins().await {
                    tracing::warn!(%error, "listening for published built-ins failed; retrying");
                }
                registry.forget_builtins();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn listen_for_builtins(&self) -> sqlx::Result<()> {
        // A connection of its own: a listener holds its connection for good, which must not
        // come out of the request pool.
        let options = (*self.pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
        listener.listen(BUILTINS_CHANNEL).await?;
        self.forget_builtins();
        loop {
            // None: the connection was lost and re-established; notices may have been missed.
            listener.try_recv().await?;
            self.forget_builtins();
        }
    }

    async fn version(&self, digest: &str) -> Result<Version> {
        sqlx::query_as(
            "SELECT digest, name, version, slot, builtin, published_at FROM module_versions WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("module version"))
    }

    /// Publishes every `*.wasm` in `dir` as a built-in.
    pub async fn publish_builtins(&self, dir: &Path) -> anyhow::Result<Vec<Version>> {
        let mut published = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            tracing::warn!(dir = %dir.display(), "no built-in modules directory; no modules published");
            return Ok(published);
        };
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)?;
            match self.publish(&bytes, true, "builtin").await {
                Ok(version) => {
                    tracing::info!(name = %version.name, version = %version.version, slot = %version.slot, "built-in module published");
                    published.push(version);
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "skipping a built-in module")
                }
            }
        }
        Ok(published)
    }

    pub async fn list(&self) -> Result<Vec<Version>> {
        Ok(sqlx::query_as(
            "SELECT digest, name, version, slot, builtin, published_at FROM module_versions ORDER BY slot, published_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Finds a version by digest, or by `name@version`.
    pub async fn find(&self, reference: &str) -> Result<Version> {
        let found: Option<Version> = sqlx::query_as(
            "SELECT digest, name, version, slot, builtin, published_at FROM module_versions
             WHERE digest = $1 OR name || '@' || version = $1",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        found.ok_or_else(|| Error::not_found("module version"))
    }

    /// The newest built-in version for `slot`: what serves a tenant without a binding.
    pub async fn builtin(&self, slot: &str) -> Result<Option<Version>> {
        if let Some((read_at, version)) = self.builtins.read().unwrap().get(slot)
            && read_at.elapsed() < BUILTIN_TTL
        {
            return Ok(version.clone());
        }
        let version: Option<Version> = sqlx::query_as(
            "SELECT digest, name, version, slot, builtin, published_at FROM module_versions
             WHERE slot = $1 AND builtin ORDER BY published_at DESC, digest LIMIT 1",
        )
        .bind(slot)
        .fetch_optional(&self.pool)
        .await?;
        self.builtins
            .write()
            .unwrap()
            .insert(slot.to_owned(), (Instant::now(), version.clone()));
        Ok(version)
    }

    /// The version serving `slot` for a tenant with these bindings (slot -> digest, as the
    /// principal carries them): its binding, else the built-in. None: no module fills it.
    pub async fn serving(
        &self,
        bindings: &HashMap<String, String>,
        slot: &str,
    ) -> Result<Option<String>> {
        match bindings.get(slot) {
            Some(digest) => Ok(Some(digest.clone())),
            None => Ok(self.builtin(slot).await?.map(|v| v.digest)),
        }
    }

    /// The loaded module for a digest, loading it from PostgreSQL if this host has not yet.
    pub async fn module(&self, digest: &str) -> Result<ModuleHandle> {
        if let Some(module) = parse_digest(digest).and_then(|d| self.runtime.loaded(&d)) {
            return Ok(module);
        }
        let (bytes, builtin): (Vec<u8>, bool) =
            sqlx::query_as("SELECT component, builtin FROM module_versions WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| Error::not_found("module version"))?;
        self.load(&bytes, builtin).await
    }

    /// Built-ins are trusted: they get the limits their manifest requests, up to the
    /// operator's maximum. Uploaded modules keep the runtime's defaults.
    async fn load(&self, component: &[u8], builtin: bool) -> Result<ModuleHandle> {
        if builtin {
            self.runtime.load_trusted(component).await
        } else {
            self.runtime.load(component).await
        }
    }
}

pub async fn bind(tx: &mut TenantTx, version: &Version) -> Result<()> {
    sqlx::query(
        "INSERT INTO module_bindings (tenant_id, id, slot, digest, bound_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(&version.slot)
    .bind(&version.digest)
    .bind(tx.user_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn parse_digest(hex: &str) -> Option<Digest> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Digest(bytes))
}
