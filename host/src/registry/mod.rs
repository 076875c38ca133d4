//! The module registry: published versions (content-addressed, global) and each tenant's
//! bindings of slots to versions (append-only history; the newest row per slot serves).
//!
//! Publishing loads the component through the runtime first, so only a component of our
//! world whose manifest parses is ever recorded. Built-in modules are published from a
//! directory at start-up. A tenant with no binding for a slot is served by the newest
//! built-in for it (so every tenant, new or old, has the built-ins, and platform upgrades
//! reach them); an explicit binding pins a version until the tenant rebinds or rolls back.
//! Uploaded versions are private to the tenants the operator shares them with ([`shares`]).
//!
//! Serving a request never takes a second connection from the request pool while the
//! request's transaction holds one (with a small pool that waits forever): version metadata
//! comes from the [`catalog`], read at start-up and kept current through `NOTIFY`, tenant
//! data through the request's own transaction, and the rare read of a version this host has
//! not seen yet (a component to load, a version another host published a moment ago) goes
//! through the registry's own small pool, which never waits on the request pool.

pub mod acting;
mod call;
pub mod consent;
mod discovery;
pub mod installs;
mod published;
pub mod publishers;
pub mod shares;
mod upload;
pub mod validation;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

pub use self::call::{Answer, Delivered, ModuleRequest, Routed};
use self::published::Catalog;
pub use self::upload::{Upload, Uploader, VersionKey, VersionRecord};
use crate::error::{Error, Result, is_unique_violation};
use crate::runtime::manifest::is_identifier;
use crate::runtime::{Digest, ModuleHandle, Runtime};
use crate::storage;
use crate::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ModuleVersion)]
pub struct Version {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub slot: String,
    pub builtin: bool,
    pub published_at: chrono::DateTime<chrono::Utc>,
    /// The publisher who uploaded it; None for built-ins and the operator's uploads.
    pub publisher_id: Option<Uuid>,
    /// `private` (shared with named tenants) or `public` (approved for every tenant).
    pub visibility: String,
    /// The uploader's notes on this version.
    pub notes: String,
}

impl Version {
    /// Whether every tenant may see and bind it: a built-in, or an upload the operator
    /// approved.
    pub fn is_public(&self) -> bool {
        self.builtin || self.visibility == "public"
    }
}

pub struct Registry {
    /// The request pool: used only where no tenant transaction is open (publishing).
    pool: PgPool,
    /// The registry's own connections, for what it must read while a request holds its
    /// transaction: they never wait on the request pool, so no request can wait on itself.
    reader: PgPool,
    runtime: Arc<Runtime>,
    catalog: RwLock<Catalog>,
    /// The store's column catalog, for the calls' store backends.
    columns: Arc<storage::Columns>,
    /// Stripe, for the calls' `payments` backends.
    stripe: crate::payments::Stripe,
    /// The hardened client of the calls' `http` requests.
    outbound: crate::outbound::Outbound,
    /// Opens the secrets of the calls' `config` backends.
    sealer: Arc<crate::module_config::Sealer>,
    /// Each tenant's time zone, read once: it is fixed when the tenant is created.
    time_zones: std::sync::Mutex<HashMap<Uuid, String>>,
    /// Every call's usage per tenant, module and hour, until the next flush (`usage`).
    meter: Arc<crate::usage::Meter>,
}

/// Every host that publishes a version sends its digest here; every host adds it to its
/// catalog (`LISTEN` on a connection of its own).
const PUBLISHED_CHANNEL: &str = "verofield_module_published";
/// Connections of the registry's own pool: reads of versions this host has not seen yet.
const READER_CONNECTIONS: u32 = 2;
const SELECT_VERSION: &str = "SELECT digest, name, version, slot, builtin, published_at,
    publisher_id, visibility, notes FROM module_versions";

/// Whether a slot name from a URL can name a slot at all (the manifest's rule): anything else
/// is answered 404 before any look-up.
pub fn is_slot(slot: &str) -> bool {
    is_identifier(slot)
}

impl Registry {
    pub fn new(pool: PgPool, runtime: Arc<Runtime>, columns: Arc<storage::Columns>) -> Self {
        let options = (*pool.connect_options()).clone();
        let reader = PgPoolOptions::new()
            .max_connections(READER_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_lazy_with(options);
        Self {
            pool,
            reader,
            runtime,
            catalog: RwLock::default(),
            columns,
            stripe: crate::payments::Stripe::default(),
            outbound: crate::outbound::Outbound::default(),
            sealer: Arc::new(crate::module_config::Sealer::ephemeral()),
            time_zones: std::sync::Mutex::default(),
            meter: Arc::default(),
        }
    }

    /// Gives module calls granted `payments` this Stripe client (without it: `not-configured`).
    pub fn with_payments(mut self, stripe: crate::payments::Stripe) -> Self {
        self.stripe = stripe;
        self
    }

    /// Sends module calls' `http` requests with this client (without it: the strict default).
    pub fn with_outbound(mut self, outbound: crate::outbound::Outbound) -> Self {
        self.outbound = outbound;
        self
    }

    /// Seals and opens module secrets with this key (without it: a key of this process only).
    pub fn with_sealer(mut self, sealer: crate::module_config::Sealer) -> Self {
        self.sealer = Arc::new(sealer);
        self
    }

    pub fn sealer(&self) -> &crate::module_config::Sealer {
        &self.sealer
    }

    /// The usage of this host's module calls not yet flushed (`usage`).
    pub fn meter(&self) -> &Arc<crate::usage::Meter> {
        &self.meter
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Reads every published version's metadata into the catalog (at start-up, and after the
    /// listener lost its connection and may have missed notices).
    pub async fn load_catalog(&self) -> Result<()> {
        let versions: Vec<Version> = sqlx::query_as(SELECT_VERSION)
            .fetch_all(&self.reader)
            .await?;
        versions.into_iter().for_each(|v| self.remember(v));
        Ok(())
    }

    fn remember(&self, version: Version) {
        let mut catalog = self.catalog.write().expect("catalog poisoned");
        catalog.add(version);
        metrics::gauge!("module_registry_versions").set(catalog.len() as f64);
    }

    /// Records a loaded component as a version; recording the same bytes again is a no-op
    /// (the version as first recorded is returned). Same name and version with other bytes is
    /// 409 `version_exists`: versions are immutable. The module's collections are created in
    /// the same transaction as the version's row (`storage::collections::install`), so a
    /// refused change records nothing.
    async fn record(&self, module: &ModuleHandle, new: NewVersion<'_>) -> Result<Version> {
        let manifest = &module.manifest;
        let digest = module.digest.to_string();
        let mut tx = self.pool.begin().await?;
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM module_versions WHERE digest = $1)")
                .bind(&digest)
                .fetch_one(&mut *tx)
                .await?;
        if !known {
            storage::collections::install(&mut tx, &manifest.name, &manifest.collections).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO module_versions (digest, name, version, slot, manifest, component, builtin,
                 published_by, publisher_id, notes, visibility, validation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&digest)
        .bind(&manifest.name)
        .bind(&manifest.version)
        .bind(&manifest.slot)
        .bind(serde_json::to_value(manifest.as_ref()).map_err(anyhow::Error::from)?)
        .bind(new.component)
        .bind(new.builtin)
        .bind(new.by)
        .bind(new.publisher_id)
        .bind(new.notes)
        .bind(if new.builtin { "public" } else { "private" })
        .bind(new.validation)
        .execute(&mut *tx)
        .await;
        let inserted = match inserted {
            Err(error) if is_unique_violation(&error, Some("module_versions_name_version_key")) => {
                return Err(Error::conflict(
                    "version_exists",
                    format!(
                        "{} {} is published with other content; versions are immutable, so \
                         publish this one under a new version",
                        manifest.name, manifest.version
                    ),
                ));
            }
            other => other?,
        };
        tx.commit().await?;
        if !manifest.collections.is_empty() && inserted.rows_affected() == 1 {
            self.columns.reload(&self.pool).await?;
        }
        let version = self.refresh(&digest).await?;
        if inserted.rows_affected() == 1 {
            self.announce(&digest).await?;
        }
        Ok(version)
    }

    /// Tells every host (this one included) that a version is new or changed
    /// (see `watch_published`).
    async fn announce(&self, digest: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PUBLISHED_CHANNEL)
            .bind(digest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads a version's metadata from PostgreSQL (through the registry's own pool) into the
    /// catalog, replacing what the catalog held.
    async fn refresh(&self, digest: &str) -> Result<Version> {
        let version: Version = sqlx::query_as(&format!("{SELECT_VERSION} WHERE digest = $1"))
            .bind(digest)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| Error::not_found("module version"))?;
        self.remember(version.clone());
        Ok(version)
    }

    /// Makes an uploaded version public: every tenant may then see it and bind it (with
    /// consent). Approving again changes nothing.
    pub async fn approve(&self, reference: &str) -> Result<Version> {
        let version = self.find(reference).await?;
        if version.builtin {
            return Err(Error::conflict(
                "module_builtin",
                "built-in modules are available to every tenant",
            ));
        }
        sqlx::query(
            "UPDATE module_versions SET visibility = 'public', approved_by = 'operator', approved_at = now()
             WHERE digest = $1 AND visibility <> 'public'",
        )
        .bind(&version.digest)
        .execute(&self.pool)
        .await?;
        let approved = self.refresh(&version.digest).await?;
        self.announce(&version.digest).await?;
        Ok(approved)
    }

    /// Listens for versions published by any host (including this one) and adds them to the
    /// catalog, so that hosts coordinate through PostgreSQL. A lost listening connection may
    /// have missed a notice: the whole catalog is read again then. Runs until aborted.
    pub fn watch_published(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = registry.listen_for_published().await {
                    tracing::warn!(%error, "listening for published modules failed; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn listen_for_published(&self) -> Result<()> {
        // A connection of its own: a listener holds its connection for good, which must not
        // come out of the request pool.
        let options = (*self.pool.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
        listener.listen(PUBLISHED_CHANNEL).await?;
        self.load_catalog().await?;
        self.columns.reload(&self.reader).await?;
        loop {
            match listener.try_recv().await? {
                // A new version, or one whose visibility changed: read it afresh.
                Some(notice) => {
                    self.refresh(notice.payload()).await?;
                    // The version may have created collections.
                    self.columns.reload(&self.reader).await?;
                }
                // The connection was lost and re-established; notices may have been missed.
                None => {
                    self.load_catalog().await?;
                    self.columns.reload(&self.reader).await?;
                }
            }
        }
    }

    /// Publishes every built-in module artifact in `dir` (see [`discovery`]).
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
            match discovery::classify(&bytes) {
                discovery::Artifact::Module => {}
                discovery::Artifact::NotAModule => {
                    tracing::debug!(path = %path.display(), "not a module; passed over");
                    continue;
                }
                discovery::Artifact::Unreadable(error) => {
                    tracing::warn!(path = %path.display(), %error, "skipping an unreadable built-in module");
                    continue;
                }
            }
            match self.publish_builtin(&bytes).await {
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

    /// Publishes a built-in module: trusted, public, its limits as its manifest asks.
    async fn publish_builtin(&self, component: &[u8]) -> Result<Version> {
        let module = self.runtime.load_trusted(component).await?;
        let new = NewVersion {
            component,
            builtin: true,
            by: "builtin",
            publisher_id: None,
            notes: "",
            validation: None,
        };
        self.record(&module, new).await
    }

    /// Finds a version by digest, or by `name@version`, whoever may bind it: the catalog
    /// first, then PostgreSQL (through the registry's own pool) for a version another host
    /// published a moment ago. A reference that names nothing is not remembered.
    pub async fn find(&self, reference: &str) -> Result<Version> {
        if let Some(version) = self
            .catalog
            .read()
            .expect("catalog poisoned")
            .find(reference)
        {
            return Ok(version.clone());
        }
        let found: Option<Version> = sqlx::query_as(&format!(
            "{SELECT_VERSION} WHERE digest = $1 OR name || '@' || version = $1"
        ))
        .bind(reference)
        .fetch_optional(&self.reader)
        .await?;
        let version = found.ok_or_else(|| Error::not_found("module version"))?;
        self.remember(version.clone());
        Ok(version)
    }

    /// The version `reference` names if this tenant may bind it: a built-in, or an upload
    /// shared with the tenant. None for anything else, whether it exists or not, so that
    /// callers answer both alike.
    pub async fn bindable(&self, tx: &mut TenantTx, reference: &str) -> Result<Option<Version>> {
        let version = match self.find(reference).await {
            Ok(version) => version,
            Err(Error::Problem {
                code: "not_found", ..
            }) => return Ok(None),
            Err(error) => return Err(error),
        };
        if version.is_public() || shares::is_shared(tx, &version.digest).await? {
            Ok(Some(version))
        } else {
            Ok(None)
        }
    }

    /// The versions this tenant may bind: every built-in, the approved uploads and the uploads
    /// shared with it,
    /// by slot, oldest first.
    pub async fn bindable_versions(&self, tx: &mut TenantTx) -> Result<Vec<Version>> {
        let mut versions: Vec<Version> = self
            .catalog
            .read()
            .expect("catalog poisoned")
            .versions()
            .filter(|v| v.is_public())
            .cloned()
            .collect();
        for digest in shares::shared_digests(tx).await? {
            let shared = self.find(&digest).await?;
            if !shared.is_public() {
                versions.push(shared);
            }
        }
        versions.sort_by(|a, b| (&a.slot, a.published_at).cmp(&(&b.slot, b.published_at)));
        Ok(versions)
    }

    /// The newest built-in version for `slot`: what serves a tenant without a binding.
    pub fn builtin(&self, slot: &str) -> Option<Version> {
        self.catalog
            .read()
            .expect("catalog poisoned")
            .builtin(slot)
            .cloned()
    }

    /// The slots a tenant with these bindings has a module for.
    pub fn slots(&self, bindings: &HashMap<String, String>) -> Vec<String> {
        let mut slots: Vec<String> = self
            .catalog
            .read()
            .expect("catalog poisoned")
            .builtins()
            .map(|v| v.slot.clone())
            .chain(bindings.keys().cloned())
            .collect();
        slots.sort();
        slots.dedup();
        slots
    }

    /// The version serving `slot` for a tenant with these bindings (slot -> digest, as the
    /// principal carries them): its binding, else the built-in. None: no module fills it,
    /// or the name cannot be a slot.
    pub fn serving(&self, bindings: &HashMap<String, String>, slot: &str) -> Option<String> {
        if !is_slot(slot) {
            return None;
        }
        match bindings.get(slot) {
            Some(digest) => Some(digest.clone()),
            None => self.builtin(slot).map(|v| v.digest),
        }
    }

    /// The name of the module serving `slot` for a tenant with these bindings, if any.
    pub async fn module_serving(
        &self,
        bindings: &HashMap<String, String>,
        slot: &str,
    ) -> Result<Option<String>> {
        match self.serving(bindings, slot) {
            Some(digest) => Ok(Some(self.find(&digest).await?.name)),
            None => Ok(None),
        }
    }

    /// The collections (bare names) that exist in a module's schema, from the catalog.
    pub fn collections_in(&self, schema: &str) -> Vec<String> {
        self.columns.snapshot().collections_in(schema)
    }

    /// The loaded module for a digest, loading it from PostgreSQL (through the registry's own
    /// pool) if this host has not yet.
    pub async fn module(&self, digest: &str) -> Result<ModuleHandle> {
        if let Some(module) = parse_digest(digest).and_then(|d| self.runtime.loaded(&d)) {
            return Ok(module);
        }
        let (bytes, builtin): (Vec<u8>, bool) =
            sqlx::query_as("SELECT component, builtin FROM module_versions WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.reader)
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

    /// The version that served `slot` before the tenant's current binding: the one bound
    /// before it, or the built-in when the tenant bound only once. Rolling back is a new bind,
    /// so a version no longer shared with the tenant cannot be the answer (409
    /// `nothing_to_roll_back`, as for a slot never bound).
    pub async fn previous(&self, tx: &mut TenantTx, slot: &str) -> Result<Version> {
        let history: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM module_bindings WHERE tenant_id = $1 AND slot = $2 ORDER BY id DESC LIMIT 2",
        )
        .bind(tx.tenant_id())
        .bind(slot)
        .fetch_all(tx.conn())
        .await?;
        let nothing = |detail: &str| Error::conflict("nothing_to_roll_back", detail.to_owned());
        match history.as_slice() {
            [] => Err(nothing("the slot has no binding to roll back")),
            [_] => self
                .builtin(slot)
                .ok_or_else(|| nothing("there is no earlier version for this slot")),
            [_, previous, ..] => self.bindable(tx, previous).await?.ok_or_else(|| {
                nothing("the earlier version is no longer available to this tenant")
            }),
        }
    }
}

/// What a new version row holds besides the component's own facts.
struct NewVersion<'a> {
    component: &'a [u8],
    builtin: bool,
    /// `builtin`, `operator`, or `publisher:<namespace>`.
    by: &'a str,
    publisher_id: Option<Uuid>,
    notes: &'a str,
    /// The report of the upload's checks (None for built-ins).
    validation: Option<serde_json::Value>,
}

/// The transaction's tenant's bindings (slot -> digest of its latest binding), as a
/// principal carries them, for work done without one (the dispatcher, the scheduler).
pub async fn bindings_of(tx: &mut TenantTx) -> Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (slot) slot, digest FROM module_bindings
         WHERE tenant_id = $1 ORDER BY slot, id DESC",
    )
    .bind(tx.tenant_id())
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().collect())
}

/// Records a new binding of the version's slot for the transaction's tenant.
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
