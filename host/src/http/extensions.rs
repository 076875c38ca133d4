//! Extension points over HTTP (`crate::extensions`): the operator uploads an extension
//! component (`POST /v1/operator/extensions`, compiled and its manifest checked before it is
//! recorded, with the budget the operator grants it in the query: `?fuel=&memory_mib=`); a
//! tenant admin (`modules.manage`) sets the ordered extensions of a point
//! (`PUT /v1/tenant/extensions/{point}`, the list replaced whole), reads them all
//! (`GET /v1/tenant/extensions`) and reads what failed (`GET /v1/tenant/extensions/failures`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path, Query, Tenant};
use super::modules::ComponentBody;
use super::operator::Operator;
use super::pagination::Page;
use crate::auth::rbac::perm;
use crate::error::{Error, FieldError, Result};
use crate::extensions::points;
use crate::runtime::manifest::{is_identifier, is_semver};
use crate::runtime::{AskedBudget, ExtensionBudget, ExtensionManifest};
use crate::tenancy::TenantTx;

/// The operator's upload path: a component body, like module uploads.
pub const EXTENSION_UPLOAD_PATH: &str = "/v1/operator/extensions";
/// Most extensions at one point: each costs a run on every call of the point.
const MAX_PER_POINT: usize = 8;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(EXTENSION_UPLOAD_PATH, post(upload))
        .route("/v1/tenant/extensions", get(list))
        .route("/v1/tenant/extensions/failures", get(failures))
        .route("/v1/tenant/extensions/{point}", put(install))
}

/// An uploaded extension, with the budget of each of its runs.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ExtensionRecord {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub points: Vec<String>,
    /// Fuel of one run (about one unit per wasm instruction).
    pub fuel: i64,
    /// Memory of one run.
    pub memory_bytes: i64,
}

/// The operator's grant at upload (query parameters): the most fuel and memory (MiB) one run
/// of this extension may use. Each one left out is the host's default budget's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Grant {
    fuel: Option<u64>,
    memory_mib: Option<u64>,
}

impl Grant {
    /// The grant with the default's values where it names none; 422
    /// `extension_budget_over_ceiling` past the host's ceiling (or at zero).
    fn resolved(
        &self,
        default: &ExtensionBudget,
        ceiling: &ExtensionBudget,
    ) -> Result<AskedBudget> {
        let default = AskedBudget::of(default);
        let granted = AskedBudget {
            fuel: self.fuel.unwrap_or(default.fuel),
            memory_mib: self.memory_mib.unwrap_or(default.memory_mib),
        };
        if !granted.fits(ceiling) {
            let most = AskedBudget::of(ceiling);
            return Err(Error::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "extension_budget_over_ceiling",
                format!(
                    "this host grants an extension 1 to {} fuel and 1 to {} MiB of memory a run",
                    most.fuel, most.memory_mib
                ),
            ));
        }
        Ok(granted)
    }
}

/// The upload's answer: the record, and what the manifest asked (absent when it asked
/// nothing), so that an operator sees a grant below what the extension needs.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadedExtension {
    #[serde(flatten)]
    pub record: ExtensionRecord,
    pub asked: Option<AskedBudget>,
}

fn bad_manifest(detail: String) -> Error {
    Error::problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "extension_bad_manifest",
        detail,
    )
}

fn check_manifest(manifest: &ExtensionManifest) -> Result<()> {
    if !is_identifier(&manifest.name) {
        return Err(bad_manifest(
            "`name`: lower-case letters, digits and dashes".into(),
        ));
    }
    if !is_semver(&manifest.version) {
        return Err(bad_manifest("`version` must be semver".into()));
    }
    if manifest.points.is_empty() {
        return Err(bad_manifest("`points` names no point".into()));
    }
    if let Some(unknown) = manifest.points.iter().find(|p| points::point(p).is_none()) {
        return Err(bad_manifest(format!(
            "`points`: no extension point `{unknown}`"
        )));
    }
    Ok(())
}

/// Uploading the same bytes again sets their budget anew (the runs that follow use it).
async fn upload(
    _: Operator,
    State(state): State<AppState>,
    Query(grant): Query<Grant>,
    ComponentBody(body): ComponentBody,
) -> Result<impl IntoResponse> {
    let runner = state.registry.runtime().extensions();
    let granted = grant.resolved(runner.budget(), runner.ceiling())?;
    let loaded = runner.load(&body).await?;
    check_manifest(&loaded.manifest)?;
    let asked = loaded.manifest.budget.clone();
    if let Some(asked) = asked.as_ref().filter(|asked| !asked.fits(runner.ceiling())) {
        return Err(bad_manifest(format!(
            "`budget` asks {} fuel and {} MiB, more than this host grants any extension",
            asked.fuel, asked.memory_mib
        )));
    }
    let budget = runner.budget().granted(asked.as_ref(), &granted);
    let inserted: std::result::Result<ExtensionRecord, _> = sqlx::query_as(
        "INSERT INTO extension_components \
         (digest, name, version, points, component, fuel, memory_bytes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (digest) DO UPDATE SET fuel = $6, memory_bytes = $7 \
         RETURNING digest, name, version, points, fuel, memory_bytes",
    )
    .bind(loaded.digest.to_string())
    .bind(&loaded.manifest.name)
    .bind(&loaded.manifest.version)
    .bind(&loaded.manifest.points)
    .bind(&body[..])
    .bind(budget.fuel as i64)
    .bind(budget.memory_bytes as i64)
    .fetch_one(&state.pool)
    .await;
    match inserted {
        Err(error) if crate::error::is_unique_violation(&error, None) => Err(Error::conflict(
            "extension_version_exists",
            format!(
                "{} {} was uploaded with other bytes; publish a new version",
                loaded.manifest.name, loaded.manifest.version
            ),
        )),
        Err(error) => Err(error.into()),
        Ok(record) => Ok((
            StatusCode::CREATED,
            Json(UploadedExtension { record, asked }),
        )),
    }
}

/// One extension as a tenant names it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRef {
    pub name: String,
    pub version: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ExtensionInstall)]
#[serde(deny_unknown_fields)]
pub(super) struct Install {
    /// In the order they run; an empty list uninstalls every extension of the point.
    extensions: Vec<ExtensionRef>,
}

/// A point with the tenant's extensions at it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstalledPoint {
    point: &'static str,
    /// The version of the point's schemas.
    schema_version: u32,
    extensions: Vec<ExtensionRecord>,
}

async fn installed_at(tx: &mut TenantTx, point: &'static points::Point) -> Result<InstalledPoint> {
    let extensions = sqlx::query_as(
        "SELECT c.digest, c.name, c.version, c.points, c.fuel, c.memory_bytes \
         FROM tenant_extensions t \
         JOIN extension_components c ON c.digest = t.digest \
         WHERE t.tenant_id = $1 AND t.point = $2 ORDER BY t.position",
    )
    .bind(tx.tenant_id())
    .bind(point.name)
    .fetch_all(tx.conn())
    .await?;
    Ok(InstalledPoint {
        point: point.name,
        schema_version: point.version,
        extensions,
    })
}

async fn list(mut ctx: Tenant) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let mut items = Vec::new();
    for point in points::all() {
        items.push(installed_at(&mut ctx.tx, point).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn install(
    mut ctx: Tenant,
    Path(point): Path<String>,
    Json(body): Json<Install>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let point = points::point(&point).ok_or_else(|| Error::not_found("extension point"))?;
    if body.extensions.len() > MAX_PER_POINT {
        return Err(Error::validation(vec![FieldError::new(
            "extensions",
            format!("at most {MAX_PER_POINT} extensions per point"),
        )]));
    }
    let mut digests: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for (index, wanted) in body.extensions.iter().enumerate() {
        let found: Option<(String, Vec<String>)> = sqlx::query_as(
            "SELECT digest, points FROM extension_components WHERE name = $1 AND version = $2",
        )
        .bind(&wanted.name)
        .bind(&wanted.version)
        .fetch_optional(ctx.tx.conn())
        .await?;
        let field = format!("extensions[{index}]");
        match found {
            None => errors.push(FieldError::new(field, "no such extension")),
            Some((_, served)) if !served.iter().any(|p| p == point.name) => errors.push(
                FieldError::new(field, format!("does not serve `{}`", point.name)),
            ),
            Some((digest, _)) if digests.contains(&digest) => {
                errors.push(FieldError::new(field, "is already in the list"))
            }
            Some((digest, _)) => digests.push(digest),
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let tenant = ctx.tx.tenant_id();
    sqlx::query("DELETE FROM tenant_extensions WHERE tenant_id = $1 AND point = $2")
        .bind(tenant)
        .bind(point.name)
        .execute(ctx.tx.conn())
        .await?;
    let installer = ctx.tx.user_id();
    for (position, digest) in digests.iter().enumerate() {
        sqlx::query(
            "INSERT INTO tenant_extensions (tenant_id, point, position, digest, installed_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant)
        .bind(point.name)
        .bind(position as i32)
        .bind(digest)
        .bind(installer)
        .execute(ctx.tx.conn())
        .await?;
    }
    let answer = installed_at(&mut ctx.tx, point).await?;
    ctx.commit().await?;
    Ok(Json(answer))
}

/// A recorded failure of an extension.
#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FailureRecord {
    point: String,
    digest: String,
    name: String,
    version: String,
    kind: String,
    detail: String,
    request_id: String,
    failed_at: DateTime<Utc>,
}

/// The 100 most recent failures, newest first.
async fn failures(mut ctx: Tenant) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let items: Vec<FailureRecord> = sqlx::query_as(
        "SELECT f.point, f.digest, c.name, c.version, f.kind, f.detail, f.request_id, f.failed_at \
         FROM extension_failures f JOIN extension_components c ON c.digest = f.digest \
         WHERE f.tenant_id = $1 ORDER BY f.failed_at DESC, f.id DESC LIMIT 100",
    )
    .bind(ctx.tx.tenant_id())
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}
