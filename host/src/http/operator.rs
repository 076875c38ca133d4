//! `/v1/operator/*`: the platform operator's endpoints (tenants, and which tenants an
//! uploaded module is shared with), behind a credential of their own that no tenant user can
//! hold. The operator token is compared by sha256 digest in constant time.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AppState;
use super::extract::{Json, Path, Query, bearer};
use super::pagination::{Page, PageParams};
use crate::error::{Error, FieldError, Result};
use crate::registry::shares;
use crate::tenancy::provision::{NewTenant, create_tenant};
use crate::tenancy::{TenantScope, TenantTx};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/tenants", get(list).post(create))
        .route("/v1/operator/tenants/{id}/suspend", post(suspend))
        .route("/v1/operator/tenants/{id}/activate", post(activate))
        .route("/v1/operator/modules/{version}/shares", post(share))
        .route("/v1/operator/modules/{version}/approve", post(approve))
        .route(
            "/v1/operator/modules/{version}/shares/{tenant}",
            delete(unshare),
        )
}

/// Proof that the request carries the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| Error::unauthorized("missing_token"))?;
        let digest = Sha256::digest(token.as_bytes());
        if bool::from(digest[..].ct_eq(&state.operator_token_digest)) {
            Ok(Operator)
        } else {
            Err(Error::unauthorized("invalid_token"))
        }
    }
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Tenant)]
pub(super) struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    time_zone: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT_TENANT: &str =
    "SELECT id, slug, name, status, time_zone, created_at, updated_at FROM tenants";

async fn list(
    _: Operator,
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let (limit, after) = page.resolve()?;
    let rows: Vec<TenantRow> = sqlx::query_as(&format!(
        "{SELECT_TENANT} WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |t| t.id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateTenant {
    name: String,
    slug: String,
    time_zone: Option<String>,
    admin_email: String,
    admin_password: String,
}

async fn create(
    _: Operator,
    State(state): State<AppState>,
    Json(body): Json<CreateTenant>,
) -> Result<impl IntoResponse> {
    let created = create_tenant(
        &state.pool,
        NewTenant {
            name: body.name,
            slug: body.slug,
            time_zone: body.time_zone,
            admin_email: body.admin_email,
            admin_password: body.admin_password,
        },
        state.limits.statement_timeout,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn suspend(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse> {
    set_status(&state, id, "suspended").await
}

async fn activate(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse> {
    set_status(&state, id, "active").await
}

async fn set_status(state: &AppState, id: Uuid, status: &str) -> Result<Json<TenantRow>> {
    let row: Option<TenantRow> = sqlx::query_as(
        "UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1
         RETURNING id, slug, name, status, time_zone, created_at, updated_at",
    )
    .bind(id)
    .bind(status)
    .fetch_optional(&state.pool)
    .await?;
    row.map(Json).ok_or_else(|| Error::not_found("tenant"))
}

/// The tenants named by these slugs; 422 naming `field` when one does not exist.
pub async fn tenant_ids(state: &AppState, slugs: &[&str], field: &str) -> Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(slugs.len());
    for slug in slugs {
        ids.push(tenant_id(state, slug).await?.ok_or_else(|| {
            Error::validation(vec![FieldError::new(field, format!("no tenant `{slug}`"))])
        })?);
    }
    Ok(ids)
}

/// Shares a version with these tenants on behalf of `by` (`operator`, `publisher:<ns>`).
pub async fn share_with(state: &AppState, digest: &str, tenants: &[Uuid], by: &str) -> Result<()> {
    shares::share(
        &state.pool,
        digest,
        tenants,
        by,
        state.limits.statement_timeout,
    )
    .await
}

/// Withdraws the share of a version with the tenant of this slug, and a publisher's record of
/// sharing it there: 204, or 404 when there was neither (or no such tenant).
async fn withdraw_share(state: &AppState, digest: &str, tenant: &str) -> Result<StatusCode> {
    let tenant_id = tenant_id(state, tenant)
        .await?
        .ok_or_else(|| Error::not_found("share"))?;
    let unshared = shares::unshare(
        &state.pool,
        digest,
        tenant_id,
        state.limits.statement_timeout,
    )
    .await?;
    let forgotten = shares::forget_by_slug(&state.pool, digest, tenant).await?;
    match unshared || forgotten {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(Error::not_found("share")),
    }
}

/// A transaction in the tenant named by `slug`, for no user: the operator reading one tenant's
/// data under its RLS like any tenant read. 404 when there is no such tenant.
pub(super) async fn tenant_tx(state: &AppState, slug: &str) -> Result<TenantTx> {
    let tenant_id = tenant_id(state, slug)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
    tenant_tx_of(state, tenant_id).await
}

/// [`tenant_tx`] for a tenant known by id.
pub(super) async fn tenant_tx_of(state: &AppState, tenant_id: Uuid) -> Result<TenantTx> {
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    Ok(TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?)
}

pub(super) async fn tenant_id(state: &AppState, slug: &str) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&state.pool)
        .await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareRequest {
    /// The tenant's slug.
    pub tenant: String,
}

/// A version shared with a tenant: the operator's and the publishers' answer alike.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Share {
    pub digest: String,
    pub tenant: String,
}

/// An uploaded version the operator may share (by digest or `name@version`). Built-ins are
/// every tenant's already.
async fn uploaded_version(state: &AppState, reference: &str) -> Result<crate::registry::Version> {
    let version = state.registry.find(reference).await?;
    if version.builtin {
        return Err(Error::conflict(
            "module_builtin",
            "built-in modules are available to every tenant",
        ));
    }
    Ok(version)
}

/// Lets a tenant see and bind an uploaded version; sharing again changes nothing.
async fn share(
    _: Operator,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Json(body): Json<ShareRequest>,
) -> Result<impl IntoResponse> {
    let version = uploaded_version(&state, &reference).await?;
    let tenants = tenant_ids(&state, &[body.tenant.as_str()], "tenant").await?;
    share_with(&state, &version.digest, &tenants, shares::OPERATOR).await?;
    Ok((
        StatusCode::CREATED,
        Json(Share {
            digest: version.digest,
            tenant: body.tenant,
        }),
    ))
}

/// Stops a tenant from binding the version anew; a binding made before keeps serving
/// (`registry::shares`).
async fn unshare(
    _: Operator,
    State(state): State<AppState>,
    Path((reference, tenant)): Path<(String, String)>,
) -> Result<impl IntoResponse> {
    let version = uploaded_version(&state, &reference).await?;
    withdraw_share(&state, &version.digest, &tenant).await
}

/// Makes an uploaded version public: every tenant sees it in `GET /v1/modules` and may bind
/// it (with consent).
async fn approve(
    _: Operator,
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<impl IntoResponse> {
    let version = state.registry.approve(&reference).await?;
    tracing::info!(name = %version.name, version = %version.version, digest = %version.digest, "module approved");
    Ok(Json(state.registry.version_record(version).await?))
}
