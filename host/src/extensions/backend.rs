//! The `extensions` capability's backend for real calls: reads the tenant's installations in
//! the call's transaction (under RLS), loads their components (compiled once per digest, read
//! as the login role, which alone may read components), runs them, and records each failure
//! in a tenant transaction of its own, on the registry's connections, after the run: a
//! failure is recorded whether or not the request commits (a refused job rolls back), and the
//! request waits for none of it.

use std::sync::Arc;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{checked, run_installed};
use crate::runtime::capabilities::extensions::{ExtensionError, ExtensionsBackend};
use crate::runtime::capabilities::store::BoxFuture;
use crate::runtime::{Digest, ExtensionBudget, ExtensionFailure, LoadedExtension, Runtime};
use crate::storage::SharedTx;
use crate::tenancy::{TenantScope, TenantTx};

pub struct PgExtensions {
    tx: SharedTx,
    runtime: Arc<Runtime>,
    /// Login-role connections, to read a component not yet loaded.
    components: PgPool,
    request_id: String,
}

impl PgExtensions {
    pub fn new(
        tx: SharedTx,
        runtime: Arc<Runtime>,
        components: PgPool,
        request_id: String,
    ) -> Self {
        Self {
            tx,
            runtime,
            components,
            request_id,
        }
    }

    /// The extension with this digest, compiled on first use.
    async fn load(&self, digest: &str) -> Result<Arc<LoadedExtension>, ExtensionFailure> {
        if let Some(loaded) =
            parse_digest(digest).and_then(|d| self.runtime.extensions().loaded(&d))
        {
            return Ok(loaded);
        }
        let bytes: Vec<u8> =
            sqlx::query_scalar("SELECT component FROM extension_components WHERE digest = $1")
                .bind(digest)
                .fetch_one(&self.components)
                .await
                .map_err(|error| ExtensionFailure::Trap(format!("could not be read: {error}")))?;
        self.runtime
            .extensions()
            .load(&bytes)
            .await
            .map_err(|error| ExtensionFailure::Trap(format!("could not be loaded: {error}")))
    }
}

impl PgExtensions {
    /// Logs the failures at once and records them in the background.
    fn report(&self, tenant: Uuid, point: &'static str, failures: Vec<Failure>) {
        if failures.is_empty() {
            return;
        }
        for failure in &failures {
            tracing::warn!(%tenant, point, digest = %failure.digest, kind = failure.kind,
                detail = %failure.detail, request_id = %self.request_id,
                "an extension failed; the point's failure rule applied");
        }
        let (pool, request_id) = (self.components.clone(), self.request_id.clone());
        tokio::spawn(async move {
            let scope = TenantScope {
                tenant_id: tenant,
                user_id: None,
            };
            let recorded = async {
                let mut tx = TenantTx::begin(&pool, scope, RECORD_TIMEOUT).await?;
                record_failures(tx.conn(), tenant, point, &failures, &request_id).await?;
                tx.commit().await
            }
            .await;
            if let Err(error) = recorded {
                tracing::error!(%tenant, point, %error, "recording extension failures failed");
            }
        });
    }
}

/// Statement timeout of the transaction that records failures.
const RECORD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn parse_digest(hex: &str) -> Option<Digest> {
    let mut bytes = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(Digest(bytes))
}

fn unavailable(error: impl std::fmt::Display) -> ExtensionError {
    tracing::error!(%error, "reading a tenant's extensions failed");
    ExtensionError::Unavailable("the tenant's extensions could not be read".into())
}

impl ExtensionsBackend for PgExtensions {
    fn run<'a>(
        &'a mut self,
        point: &'a str,
        input: &'a str,
    ) -> BoxFuture<'a, Result<String, ExtensionError>> {
        Box::pin(async move {
            let (point, input) = checked(point, input)?;
            let mut guard = self.tx.lock().await;
            let tx = guard
                .as_mut()
                .ok_or_else(|| unavailable("the request's transaction has ended"))?;
            let tenant = tx.tenant_id();
            let extensions = installed(tx.conn(), tenant, point.name)
                .await
                .map_err(unavailable)?;
            if extensions.is_empty() {
                return Ok(point.empty_answer(&input).to_string());
            }
            let runner = self.runtime.extensions();
            let mut loaded = Vec::with_capacity(extensions.len());
            let mut failed = Vec::new();
            for extension in &extensions {
                match self.load(&extension.digest).await {
                    Ok(code) => loaded.push((code, extension.budget(runner.budget()))),
                    Err(failure) => failed.push(Failure::of(&extension.digest, failure)),
                }
            }
            let (answer, failures) = run_installed(runner, point, &input, &loaded).await;
            failed.extend(
                failures.into_iter().map(|(index, failure)| {
                    Failure::of(&loaded[index].0.digest.to_string(), failure)
                }),
            );
            self.report(tenant, point.name, failed);
            Ok(answer.to_string())
        })
    }
}

/// An extension installed at a point, with the budget granted to it at upload.
#[derive(Debug, sqlx::FromRow)]
pub struct Installed {
    pub digest: String,
    fuel: i64,
    memory_bytes: i64,
}

impl Installed {
    /// Its budget: the `default` one with its own fuel and memory (and wall for that fuel).
    pub fn budget(&self, default: &ExtensionBudget) -> ExtensionBudget {
        default.limited_to(
            u64::try_from(self.fuel).unwrap_or(0),
            usize::try_from(self.memory_bytes).unwrap_or(0),
        )
    }
}

/// The extensions installed at `point` for the transaction's tenant, in the tenant's order.
pub async fn installed(
    conn: &mut PgConnection,
    tenant: Uuid,
    point: &str,
) -> sqlx::Result<Vec<Installed>> {
    sqlx::query_as(
        "SELECT t.digest, c.fuel, c.memory_bytes FROM tenant_extensions t \
         JOIN extension_components c ON c.digest = t.digest \
         WHERE t.tenant_id = $1 AND t.point = $2 ORDER BY t.position",
    )
    .bind(tenant)
    .bind(point)
    .fetch_all(conn)
    .await
}

/// One failed run of one extension.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Failure {
    pub digest: String,
    /// `out_of_fuel`, `memory_exceeded`, `timeout`, `output_too_large`, `trap`, `refused`,
    /// `out_of_schema` or `broke_rule`.
    pub kind: &'static str,
    pub detail: String,
}

impl Failure {
    fn of(digest: &str, failure: ExtensionFailure) -> Self {
        Self {
            digest: digest.to_owned(),
            kind: failure.kind(),
            detail: failure.to_string(),
        }
    }
}

/// Records the failures of one run of a point, in a transaction of the tenant.
pub async fn record_failures(
    conn: &mut PgConnection,
    tenant: Uuid,
    point: &str,
    failures: &[Failure],
    request_id: &str,
) -> sqlx::Result<()> {
    for failure in failures {
        sqlx::query(
            "INSERT INTO extension_failures (tenant_id, id, point, digest, kind, detail, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(point)
        .bind(&failure.digest)
        .bind(failure.kind)
        .bind(&failure.detail)
        .bind(request_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
