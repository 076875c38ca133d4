//! `/v1/roles`: built-in roles (read-only) and the tenant's custom roles.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::etag::{check_if_match, etag_header};
use super::extract::{Json, Path, Tenant};
use super::pagination::Page;
use crate::auth::rbac::{ALL, Permissions, is_valid_permission, perm};
use crate::error::{Error, Result, Validator, is_unique_violation};
use crate::tenancy::TenantTx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/roles", get(list).post(create))
        .route("/v1/roles/{id}", get(fetch).patch(update).delete(remove))
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(super) struct Role {
    id: Uuid,
    name: String,
    description: String,
    permissions: Vec<String>,
    builtin: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT_ROLE: &str = "SELECT id, name, description, permissions, builtin, version, created_at, updated_at FROM roles";

async fn load(tx: &mut TenantTx, id: Uuid) -> Result<Role> {
    sqlx::query_as(&format!("{SELECT_ROLE} WHERE tenant_id = $1 AND id = $2"))
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::not_found("role"))
}

async fn list(mut ctx: Tenant) -> Result<impl IntoResponse> {
    ctx.require_any(&[perm::USERS_READ, perm::USERS_MANAGE, perm::ROLES_MANAGE])?;
    let roles: Vec<Role> =
        sqlx::query_as(&format!("{SELECT_ROLE} WHERE tenant_id = $1 ORDER BY name"))
            .bind(ctx.tx.tenant_id())
            .fetch_all(ctx.tx.conn())
            .await?;
    Ok(Json(Page {
        items: roles,
        next_cursor: None,
    }))
}

async fn fetch(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<impl IntoResponse> {
    ctx.require_any(&[perm::USERS_READ, perm::USERS_MANAGE, perm::ROLES_MANAGE])?;
    let role = load(&mut ctx.tx, id).await?;
    Ok(([(header::ETAG, etag_header(role.version))], Json(role)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRole {
    name: String,
    #[serde(default)]
    description: String,
    permissions: Vec<String>,
}

fn check_permissions(check: &mut Validator, ctx: &Tenant, permissions: &[String]) -> Result<()> {
    for permission in permissions {
        check.check(
            permission != ALL && is_valid_permission(permission),
            "permissions",
            format!("`{permission}` is not a permission name (like `crm.customers.read`)"),
        );
    }
    if !ctx
        .principal
        .permissions
        .covers(&Permissions::new(permissions.iter().cloned()))
    {
        return Err(Error::forbidden(
            "role_escalation",
            "you cannot grant permissions you do not hold",
        ));
    }
    Ok(())
}

fn check_description(check: &mut Validator, description: &str) {
    check.check(
        description.chars().count() <= 500,
        "description",
        "must be at most 500 characters",
    );
}

async fn create(mut ctx: Tenant, Json(body): Json<CreateRole>) -> Result<impl IntoResponse> {
    ctx.require(perm::ROLES_MANAGE)?;
    let mut check = Validator::new();
    let name_ok = (1..=63).contains(&body.name.len())
        && body.name.starts_with(|c: char| c.is_ascii_lowercase())
        && body
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    check.check(
        name_ok,
        "name",
        "must be 1 to 63 lower-case letters, digits, '_' or '-'",
    );
    check_description(&mut check, &body.description);
    check_permissions(&mut check, &ctx, &body.permissions)?;
    check.finish()?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO roles (tenant_id, id, name, description, permissions) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(&body.name)
    .bind(&body.description)
    .bind(&body.permissions)
    .execute(ctx.tx.conn())
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error, Some("roles_tenant_id_name_key")) => {
            return Err(Error::conflict(
                "role_name_taken",
                "a role with this name exists",
            ));
        }
        other => other?,
    };
    ctx.audit(
        "role.created",
        "role",
        id,
        serde_json::json!({ "name": body.name, "permissions": body.permissions }),
    )
    .await?;
    let role = load(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [(header::ETAG, etag_header(role.version))],
        Json(role),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateRole {
    description: Option<String>,
    permissions: Option<Vec<String>>,
}

async fn lock_custom(ctx: &mut Tenant, id: Uuid, headers: &HeaderMap) -> Result<Role> {
    sqlx::query("SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .execute(ctx.tx.conn())
        .await?;
    let role = load(&mut ctx.tx, id).await?;
    check_if_match(headers, role.version)?;
    if role.builtin {
        return Err(Error::conflict(
            "builtin_role",
            "built-in roles cannot be changed",
        ));
    }
    Ok(role)
}

async fn update(
    mut ctx: Tenant,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<UpdateRole>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::ROLES_MANAGE)?;
    let mut check = Validator::new();
    if let Some(description) = &body.description {
        check_description(&mut check, description);
    }
    if let Some(permissions) = &body.permissions {
        check_permissions(&mut check, &ctx, permissions)?;
    }
    check.finish()?;
    let role = lock_custom(&mut ctx, id, &headers).await?;
    // Changing a role changes every holder: the caller must cover what it grants today too.
    if !ctx
        .principal
        .permissions
        .covers(&Permissions::new(role.permissions.iter().cloned()))
    {
        return Err(Error::forbidden(
            "role_escalation",
            "you cannot change a role that grants more than you hold",
        ));
    }
    sqlx::query(
        "UPDATE roles SET description = coalesce($3, description), permissions = coalesce($4, permissions),
                version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(&body.description)
    .bind(&body.permissions)
    .execute(ctx.tx.conn())
    .await?;
    ctx.audit(
        "role.updated",
        "role",
        id,
        serde_json::json!({ "permissions": body.permissions }),
    )
    .await?;
    let role = load(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(([(header::ETAG, etag_header(role.version))], Json(role)))
}

async fn remove(mut ctx: Tenant, Path(id): Path<Uuid>, headers: HeaderMap) -> Result<StatusCode> {
    ctx.require(perm::ROLES_MANAGE)?;
    lock_custom(&mut ctx, id, &headers).await?;
    let holders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE tenant_id = $1 AND role_id = $2")
            .bind(ctx.tx.tenant_id())
            .bind(id)
            .fetch_one(ctx.tx.conn())
            .await?;
    if holders > 0 {
        return Err(Error::conflict(
            "role_in_use",
            format!("{holders} user(s) hold this role"),
        ));
    }
    sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .execute(ctx.tx.conn())
        .await?;
    ctx.audit("role.deleted", "role", id, serde_json::json!({}))
        .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
