//! `/v1/users`: the tenant's users, for callers with `users.manage` (writes) or
//! `users.read` (reads).
//!
//! Rules enforced here, once: a caller grants only roles whose permissions they hold
//! themselves (no escalation), changes only users whose permissions they cover (an admin
//! cannot demote an owner), and the tenant always keeps one active owner. Every query names
//! the tenant explicitly; another tenant's user is simply not found (404).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::etag::{check_if_match, etag_header};
use super::extract::{Json, Path, Query, Tenant};
use super::pagination::{Page, PageParams};
use super::{AppState, passwords};
use crate::auth::rbac::perm;
use crate::auth::refresh;
use crate::error::{Error, Result, Validator};
use crate::tenancy::TenantTx;
use crate::tenancy::provision::{
    NewUser, check_display_name, create_user, permissions_of_roles, set_user_roles,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list).post(create))
        .route(
            "/v1/users/{id}",
            get(fetch).patch(update).delete(deactivate),
        )
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub(super) id: Uuid,
    pub(super) email: String,
    display_name: String,
    pub(super) status: String,
    roles: Vec<String>,
    version: i64,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT_USER: &str =
    "SELECT u.id, u.email, u.display_name, u.status, u.version, u.last_login_at,
        u.created_at, u.updated_at,
        array(SELECT r.name FROM user_roles ur
              JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
              WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id ORDER BY r.name) AS roles
    FROM users u";

async fn load(tx: &mut TenantTx, id: Uuid) -> Result<User> {
    sqlx::query_as(&format!(
        "{SELECT_USER} WHERE u.tenant_id = $1 AND u.id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::not_found("user"))
}

/// Page parameters are repeated here rather than flattened: serde's flatten reads query
/// values as strings, which would refuse `limit=10`.
#[derive(Deserialize)]
struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
    status: Option<String>,
    q: Option<String>,
}

async fn list(mut ctx: Tenant, Query(params): Query<ListParams>) -> Result<impl IntoResponse> {
    ctx.require_any(&[perm::USERS_READ, perm::USERS_MANAGE])?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let (limit, after) = page.resolve()?;
    let pattern = params.q.as_deref().map(|q| format!("%{}%", escape_like(q)));
    let rows: Vec<User> = sqlx::query_as(&format!(
        "{SELECT_USER} WHERE u.tenant_id = $1 AND ($2::uuid IS NULL OR u.id > $2)
           AND ($3::text IS NULL OR u.status = $3)
           AND ($4::text IS NULL OR u.email ILIKE $4 OR u.display_name ILIKE $4)
         ORDER BY u.id LIMIT $5"
    ))
    .bind(ctx.tx.tenant_id())
    .bind(after)
    .bind(params.status)
    .bind(pattern)
    .bind(limit + 1)
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |u| u.id)))
}

pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

async fn fetch(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<impl IntoResponse> {
    ctx.require_any(&[perm::USERS_READ, perm::USERS_MANAGE])?;
    let user = load(&mut ctx.tx, id).await?;
    Ok(([(header::ETAG, etag_header(user.version))], Json(user)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedUser)]
pub(super) struct Created {
    #[serde(flatten)]
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    invite_token: Option<String>,
}

/// Without a password the user is invited: the invitation is mailed when SMTP is configured,
/// else its token is in the answer for the admin to hand over.
async fn create(
    State(state): State<AppState>,
    mut ctx: Tenant,
    Json(body): Json<NewUser>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::USERS_MANAGE)?;
    let granter = ctx.principal.permissions.clone();
    let created = create_user(&mut ctx.tx, body, Some(&granter), ctx.request_id.as_deref()).await?;
    let user = load(&mut ctx.tx, created.user_id).await?;
    let invite_token = match created.invite_token {
        Some(token) if state.mailer.sends() => {
            passwords::mail_invitation(&state, &mut ctx.tx, &user.email, &token).await?;
            None
        }
        token => token,
    };
    ctx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                HeaderValue::try_from(format!("/v1/users/{}", user.id))
                    .map_err(anyhow::Error::from)?,
            ),
            (header::ETAG, etag_header(user.version)),
        ],
        Json(Created { user, invite_token }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateUser {
    display_name: Option<String>,
    roles: Option<Vec<String>>,
    status: Option<UserStatus>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum UserStatus {
    Active,
    Deactivated,
}

async fn update(
    mut ctx: Tenant,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<UpdateUser>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::USERS_MANAGE)?;
    let mut check = Validator::new();
    if let Some(name) = &body.display_name {
        check_display_name(&mut check, name);
    }
    if let Some(roles) = &body.roles {
        check.check(!roles.is_empty(), "roles", "at least one role is required");
    }
    check.finish()?;
    let current = lock_for_change(&mut ctx, id).await?;
    check_if_match(&headers, current.version)?;
    if let Some(roles) = &body.roles {
        let granted = permissions_of_roles(&mut ctx.tx, roles).await?;
        if !ctx.principal.permissions.covers(&granted) {
            return Err(Error::forbidden(
                "role_escalation",
                "you cannot grant permissions you do not hold",
            ));
        }
        set_user_roles(&mut ctx.tx, id, roles).await?;
    }
    if let Some(name) = &body.display_name {
        sqlx::query("UPDATE users SET display_name = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tx.tenant_id())
            .bind(id)
            .bind(name.trim())
            .execute(ctx.tx.conn())
            .await?;
    }
    match body.status {
        Some(UserStatus::Deactivated) => set_deactivated(&mut ctx, &current).await?,
        Some(UserStatus::Active) if current.status == "deactivated" => {
            sqlx::query("UPDATE users SET status = 'active' WHERE tenant_id = $1 AND id = $2")
                .bind(ctx.tx.tenant_id())
                .bind(id)
                .execute(ctx.tx.conn())
                .await?;
        }
        _ => {}
    }
    let details = serde_json::json!({
        "roles": body.roles,
        "display_name": body.display_name,
        "status": body.status.map(|s| s == UserStatus::Active),
    });
    finish_change(&mut ctx, id, "user.updated", details).await?;
    let user = load(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(([(header::ETAG, etag_header(user.version))], Json(user)))
}

/// Soft delete: the user is deactivated and their sessions revoked; rows that reference
/// them (audit, jobs) stay intact.
async fn deactivate(
    mut ctx: Tenant,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    ctx.require(perm::USERS_MANAGE)?;
    let current = lock_for_change(&mut ctx, id).await?;
    check_if_match(&headers, current.version)?;
    set_deactivated(&mut ctx, &current).await?;
    finish_change(&mut ctx, id, "user.deactivated", serde_json::json!({})).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// After any change to a user: the tenant must still have an owner; bump the version (the
/// ETag) and record the change.
async fn finish_change(
    ctx: &mut Tenant,
    id: Uuid,
    action: &str,
    details: serde_json::Value,
) -> Result<()> {
    ensure_an_owner_remains(&mut ctx.tx).await?;
    sqlx::query("UPDATE users SET version = version + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .execute(ctx.tx.conn())
        .await?;
    ctx.audit(action, "user", id, details).await
}

/// Locks the tenant's owner set and the target row, and checks the caller may change this user
/// at all.
pub(super) async fn lock_for_change(ctx: &mut Tenant, id: Uuid) -> Result<User> {
    lock_owner_set(&mut ctx.tx).await?;
    sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .execute(ctx.tx.conn())
        .await?;
    let current = load(&mut ctx.tx, id).await?;
    let held = permissions_of_roles(&mut ctx.tx, &current.roles).await?;
    if !ctx.principal.permissions.covers(&held) {
        return Err(Error::forbidden(
            "role_escalation",
            "you cannot change a user who holds permissions you do not",
        ));
    }
    Ok(current)
}

async fn set_deactivated(ctx: &mut Tenant, user: &User) -> Result<()> {
    if user.id == ctx.principal.user_id {
        return Err(Error::conflict(
            "cannot_deactivate_self",
            "you cannot deactivate yourself",
        ));
    }
    sqlx::query("UPDATE users SET status = 'deactivated' WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tx.tenant_id())
        .bind(user.id)
        .execute(ctx.tx.conn())
        .await?;
    refresh::revoke_user(&mut ctx.tx, user.id, None)
        .await
        .map_err(Error::from)
}

/// Serialises every change that could remove an owner, per tenant, until commit. Row locks
/// alone do not: two owners demoting (or deactivating) each other lock different rows, each
/// counts the other as the remaining owner, and both commit. Under this lock the second change
/// waits, and its count (a new statement, so a new snapshot) sees the first one's result.
/// Taken before the row lock, in every such change, so the order is always the same.
async fn lock_owner_set(tx: &mut TenantTx) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('verofield.owners.' || $1::text, 0))",
    )
    .bind(tx.tenant_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A tenant without an active owner could never be administered again.
async fn ensure_an_owner_remains(tx: &mut TenantTx) -> Result<()> {
    let owners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users u
         JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
         WHERE u.tenant_id = $1 AND u.status = 'active' AND r.name = 'owner' AND r.builtin",
    )
    .bind(tx.tenant_id())
    .fetch_one(tx.conn())
    .await?;
    if owners == 0 {
        return Err(Error::conflict(
            "last_owner",
            "the tenant must keep at least one active owner",
        ));
    }
    Ok(())
}
