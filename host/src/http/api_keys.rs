//! `/v1/api-keys`: the tenant's API keys, for server-to-server clients (`auth::api_key`).
//!
//! The key itself is in the answer to its creation and nowhere else: lists, reads and the
//! audit log show its display prefix. A key carries at most what its creator holds when it is
//! created (422 naming each permission that is more); a request made with a key may manage
//! keys only with `api_keys.manage`, and never grants more than the key itself may do.
//! Revoking deletes the key: the next request with it is 401.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::extract::{Json, Path, Query, Tenant};
use super::pagination::{Page, PageParams};
use crate::auth::api_key;
use crate::auth::rbac::{ALL, is_valid_permission, perm};
use crate::error::{Error, Result, Validator};
use crate::tenancy::TenantTx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list).post(create))
        .route("/v1/api-keys/{id}", get(fetch).delete(revoke))
}

/// A key as lists and reads show it: never the secret, nor its digest.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(super) struct ApiKey {
    id: Uuid,
    name: String,
    prefix: String,
    permissions: Vec<String>,
    created_by: Uuid,
    created_by_api_key_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    last_used_from: Option<String>,
}

const SELECT_KEY: &str = "SELECT id, name, prefix, permissions, created_by, created_by_api_key_id,
        created_at, expires_at, last_used_at, last_used_from FROM api_keys";

async fn load(tx: &mut TenantTx, id: Uuid) -> Result<ApiKey> {
    sqlx::query_as(&format!("{SELECT_KEY} WHERE tenant_id = $1 AND id = $2"))
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::not_found("API key"))
}

async fn list(mut ctx: Tenant, Query(page): Query<PageParams>) -> Result<impl IntoResponse> {
    ctx.require(perm::API_KEYS_MANAGE)?;
    let (limit, after) = page.resolve()?;
    let rows: Vec<ApiKey> = sqlx::query_as(&format!(
        "{SELECT_KEY} WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(ctx.tx.tenant_id())
    .bind(after)
    .bind(limit + 1)
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |k| k.id)))
}

async fn fetch(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<impl IntoResponse> {
    ctx.require(perm::API_KEYS_MANAGE)?;
    Ok(Json(load(&mut ctx.tx, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKey {
    name: String,
    permissions: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedApiKey)]
pub(super) struct Created {
    #[serde(flatten)]
    api_key: ApiKey,
    /// The key itself (`vfk_...`), shown this once.
    key: String,
}

/// The checks of a new key's fields, and that the caller holds every permission it carries.
fn check_new_key(ctx: &Tenant, body: &CreateKey) -> Result<()> {
    let mut check = Validator::new();
    check.check(
        (1..=100).contains(&body.name.trim().chars().count()),
        "name",
        "must be 1 to 100 characters",
    );
    check.check(
        !body.permissions.is_empty(),
        "permissions",
        "name at least one permission",
    );
    for permission in &body.permissions {
        if permission == ALL || !is_valid_permission(permission) {
            check.push(
                "permissions",
                format!("`{permission}` is not a permission name (like `crm.customers.read`)"),
            );
        } else if !ctx.principal.permissions.allows(permission) {
            check.push(
                "permissions",
                format!("`{permission}` is more than you hold: a key carries at most its creator's permissions"),
            );
        }
    }
    if let Some(expires_at) = body.expires_at {
        check.check(
            expires_at > Utc::now(),
            "expires_at",
            "must be in the future",
        );
    }
    check.finish()
}

async fn create(mut ctx: Tenant, Json(body): Json<CreateKey>) -> Result<impl IntoResponse> {
    ctx.require(perm::API_KEYS_MANAGE)?;
    check_new_key(&ctx, &body)?;
    let mut permissions = body.permissions;
    permissions.sort();
    permissions.dedup();
    let generated = api_key::generate(ctx.tx.tenant_id());
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, permissions, created_by,
                               created_by_api_key_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(body.name.trim())
    .bind(&generated.prefix)
    .bind(&generated.digest[..])
    .bind(&permissions)
    .bind(ctx.principal.user_id)
    .bind(ctx.principal.api_key_id)
    .bind(body.expires_at)
    .execute(ctx.tx.conn())
    .await?;
    ctx.audit(
        "api_key.created",
        "api_key",
        id,
        serde_json::json!({
            "name": body.name.trim(),
            "prefix": generated.prefix,
            "permissions": permissions,
            "expires_at": body.expires_at,
        }),
    )
    .await?;
    let api_key = load(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            api_key,
            key: generated.key,
        }),
    ))
}

async fn revoke(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<StatusCode> {
    ctx.require(perm::API_KEYS_MANAGE)?;
    let revoked: Option<(String, String)> = sqlx::query_as(
        "DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2 RETURNING name, prefix",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .fetch_optional(ctx.tx.conn())
    .await?;
    let (name, prefix) = revoked.ok_or_else(|| Error::not_found("API key"))?;
    ctx.audit(
        "api_key.revoked",
        "api_key",
        id,
        serde_json::json!({ "name": name, "prefix": prefix }),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
