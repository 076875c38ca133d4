//! One upload, whoever sends it (the operator or a publisher): the component's shape, world,
//! WIT version and imports ([`validation`]), its compile under the time limit
//! (`Runtime::load_upload`), then the manifest's policy, then the version row. Each refusal
//! is a 422 with a stable code naming exactly what is wrong; nothing is recorded before every
//! check passed.
//!
//! The manifest's policy for a publisher: the name is `<its namespace>/<module>`; every
//! permission its routes require is one the built-in of the same slot declares (a replacement
//! CRM keeps `crm.customers.read`) or starts with `<namespace>.`; table grants name only
//! tables the store catalog knows (platform tables such as `users` are never in it); limits
//! are within the operator's maxima. The operator's own upload is the grant: bare names, any
//! permission and table name, WASI imports beyond the allowlist (still linked with no
//! authority), so the fixtures and tools the operator runs keep working.

use axum::http::StatusCode;
use serde::Serialize;
use uuid::Uuid;

use super::validation::{self, Imports};
use super::{NewVersion, Registry, Version};
use crate::error::{Error, Result};
use crate::runtime::Manifest;

/// Who uploads.
#[derive(Debug, Clone, Copy)]
pub enum Uploader<'a> {
    Operator,
    Publisher { id: Uuid, namespace: &'a str },
}

pub struct Upload<'a> {
    pub component: &'a [u8],
    pub uploader: Uploader<'a>,
    pub notes: &'a str,
}

/// Where a version stands in its publisher's list: publication time, then digest (two
/// versions published in the same microsecond still have one order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub digest: String,
}

impl VersionKey {
    pub fn of(version: &Version) -> Self {
        Self {
            published_at: version.published_at,
            digest: version.digest.clone(),
        }
    }
}

/// A version as its uploader sees it: the version, its validation report and its
/// conformance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ModuleVersionRecord)]
pub struct VersionRecord {
    #[serde(flatten)]
    pub version: Version,
    pub validation: serde_json::Value,
    pub conformance: serde_json::Value,
}

impl Registry {
    /// Validates and records an upload (same bytes again: the version as first recorded).
    pub async fn upload(&self, upload: Upload<'_>) -> Result<VersionRecord> {
        let imports = match upload.uploader {
            Uploader::Operator => Imports::Granted,
            Uploader::Publisher { .. } => Imports::Allowlisted,
        };
        let inspection = validation::inspect(upload.component, imports)?;
        let digest = crate::runtime::Digest::of(upload.component);
        let known = self.runtime.loaded(&digest).is_some();
        let started = std::time::Instant::now();
        let module = self.runtime.load_upload(upload.component).await?;
        let compile_ms = started.elapsed().as_millis() as u64;
        // A refused upload leaves nothing in memory behind it.
        if let Err(refusal) = self.check_policy(&module.manifest, upload.uploader).await {
            if !known {
                self.runtime.forget(&digest);
            }
            return Err(refusal);
        }
        let report = serde_json::json!({
            "passed": true,
            "platform_versions": inspection.platform_versions,
            "imports": inspection.imports,
            "load_ms": compile_ms,
        });
        let (publisher_id, by) = match upload.uploader {
            Uploader::Operator => (None, "operator".to_owned()),
            Uploader::Publisher { id, namespace } => (Some(id), format!("publisher:{namespace}")),
        };
        let new = NewVersion {
            component: upload.component,
            builtin: false,
            by: &by,
            publisher_id,
            notes: upload.notes,
            validation: Some(report),
        };
        match self.record(&module, new).await {
            Ok(version) => self.version_record(version).await,
            Err(refusal) => {
                if !known {
                    self.runtime.forget(&digest);
                }
                Err(refusal)
            }
        }
    }

    /// The versions a publisher uploaded, oldest first, after `after`, at most `limit`.
    pub async fn versions_of_publisher(
        &self,
        publisher_id: Uuid,
        after: Option<&VersionKey>,
        limit: i64,
    ) -> Result<Vec<Version>> {
        Ok(sqlx::query_as(&format!(
            "{} WHERE publisher_id = $1
               AND ($2::timestamptz IS NULL OR (published_at, digest) > ($2, $3))
             ORDER BY published_at, digest LIMIT $4",
            super::SELECT_VERSION
        ))
        .bind(publisher_id)
        .bind(after.map(|key| key.published_at))
        .bind(after.map(|key| key.digest.as_str()))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Where a version's conformance stands (read through the registry's own pool, so that a
    /// request holding its tenant transaction may ask).
    pub async fn conformance(&self, digest: &str) -> Result<serde_json::Value> {
        crate::conformance::summary(&self.reader, digest).await
    }

    /// The record of a version: its validation report (read from PostgreSQL) and conformance.
    pub async fn version_record(&self, version: Version) -> Result<VersionRecord> {
        let validation: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT validation FROM module_versions WHERE digest = $1")
                .bind(&version.digest)
                .fetch_one(&self.reader)
                .await?;
        Ok(VersionRecord {
            validation: validation.unwrap_or_else(|| serde_json::json!({"passed": true})),
            conformance: self.conformance(&version.digest).await?,
            version,
        })
    }

    /// The manifest's policy for this uploader (see the module comment).
    async fn check_policy(&self, manifest: &Manifest, uploader: Uploader<'_>) -> Result<()> {
        let Uploader::Publisher { namespace, .. } = uploader else {
            return match manifest.namespace() {
                None => Ok(()),
                Some(_) => Err(refused(
                    "module_namespace_refused",
                    format!(
                        "`{}` names a publisher's namespace; the operator uploads modules with \
                         bare names",
                        manifest.name
                    ),
                )),
            };
        };
        if manifest.namespace() != Some(namespace) {
            return Err(refused(
                "module_namespace_refused",
                format!(
                    "the manifest names `{}`; this publisher uploads only modules named \
                     `{namespace}/<module>`",
                    manifest.name
                ),
            ));
        }
        self.check_permissions(manifest, namespace).await?;
        self.check_table_grants(manifest)?;
        self.check_limits(manifest)
    }

    async fn check_permissions(&self, manifest: &Manifest, namespace: &str) -> Result<()> {
        let builtin_permissions = match self.builtin(&manifest.slot) {
            Some(builtin) => {
                self.module(&builtin.digest)
                    .await?
                    .manifest
                    .grants()
                    .permissions
            }
            None => Vec::new(),
        };
        let own_prefix = format!("{namespace}.");
        let outside = manifest
            .grants()
            .permissions
            .into_iter()
            .find(|permission| {
                !permission.starts_with(&own_prefix) && !builtin_permissions.contains(permission)
            });
        match outside {
            None => Ok(()),
            Some(permission) => Err(refused(
                "module_permission_outside_namespace",
                format!(
                    "route permission `{permission}` is neither in the publisher's namespace \
                     (`{own_prefix}*`) nor one the built-in `{}` module declares",
                    manifest.slot
                ),
            )),
        }
    }

    fn check_table_grants(&self, manifest: &Manifest) -> Result<()> {
        let tables = &manifest.tables;
        // Only the `store` schema's tables: never a platform table, nor another module's
        // collections (those live in `mod_*` schemas and are reached by their module alone).
        let store = self.columns.snapshot();
        match tables
            .read
            .iter()
            .chain(&tables.write)
            .find(|table| store.table(table).is_none())
        {
            None => Ok(()),
            Some(table) => Err(refused(
                "module_grant_refused",
                format!(
                    "the manifest grants table `{table}`, which is not a table modules may use \
                     (platform tables are never granted)"
                ),
            )),
        }
    }

    fn check_limits(&self, manifest: &Manifest) -> Result<()> {
        let max = self.runtime.max_limits();
        let asked = &manifest.limits;
        let over = [
            (
                "deadline_ms",
                asked.deadline_ms,
                max.deadline.as_millis() as u64,
            ),
            (
                "memory_mib",
                asked.memory_mib.map(u64::from),
                (max.memory_bytes >> 20) as u64,
            ),
            (
                "host_calls",
                asked.host_calls.map(u64::from),
                max.host_calls.into(),
            ),
            (
                "rows_returned",
                asked.rows_returned.map(u64::from),
                max.rows_returned.into(),
            ),
        ]
        .into_iter()
        .find(|(_, asked, max)| asked.is_some_and(|asked| asked > *max));
        match over {
            None => Ok(()),
            Some((name, asked, max)) => Err(refused(
                "module_limits_refused",
                format!(
                    "limits.{name} asks for {}; the operator allows at most {max}",
                    asked.unwrap_or_default()
                ),
            )),
        }
    }
}

fn refused(code: &'static str, detail: String) -> Error {
    Error::problem(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}
