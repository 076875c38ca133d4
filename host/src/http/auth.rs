//! `/v1/auth/*` and `/v1/me`: login, refresh rotation, logout, accepting an invitation.
//!
//! Login answers one message, `invalid_credentials`, for an unknown tenant, an unknown
//! email, a wrong password and an inactive user, after the same argon2 work in each case.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::extract::{ClientIp, Json, Tenant};
use crate::auth::principal::{Lookup, Principal};
use crate::auth::{one_time, password, refresh, throttle};
use crate::error::{Error, Result, Validator};
use crate::tenancy::provision::audit;
use crate::tenancy::{TenantScope, TenantTx};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/accept-invite", post(accept_invite))
        .route("/v1/me", get(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginRequest {
    tenant: String,
    email: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[schema(value_type = String)]
    token_type: &'static str,
    expires_in: u64,
}

#[derive(sqlx::FromRow)]
struct Credentials {
    id: Uuid,
    password_hash: Option<String>,
    status: String,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(address): ClientIp,
    Json(request): Json<LoginRequest>,
) -> Result<Json<TokenResponse>> {
    let email = request.email.trim().to_lowercase();
    let slug = request.tenant.trim();
    if email.len() > 254 || slug.len() > 63 || request.password.len() > password::MAX_LENGTH {
        return Err(Error::unauthorized("invalid_credentials"));
    }
    let keys = throttle::AttemptKeys::new(slug, &email, address);
    if let Some(remaining) = throttle::begin_attempt(&state.pool, &keys, &state.throttle).await? {
        return Err(Error::too_many_requests(
            "login_throttled",
            "too many failed logins; try again later",
            remaining.as_secs(),
        ));
    }

    let tenant_id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&state.pool)
        .await?;
    // Credentials are read in a short transaction of their own: argon2 runs with no pooled
    // connection held, so a burst of logins cannot starve the pool.
    let credentials: Option<Credentials> = match tenant_id {
        Some(tenant_id) => {
            let scope = TenantScope {
                tenant_id,
                user_id: None,
            };
            let mut tx =
                TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
            let found = sqlx::query_as(
                "SELECT id, password_hash, status FROM users WHERE tenant_id = $1 AND email = $2",
            )
            .bind(tenant_id)
            .bind(&email)
            .fetch_optional(tx.conn())
            .await?;
            tx.commit().await?;
            found
        }
        None => None,
    };
    // Verify even when there is no such user, so timing reveals nothing.
    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let password_ok = password::verify_blocking(stored, request.password).await?;
    let user = credentials.filter(|c| password_ok && c.status == "active");
    let (Some(tenant_id), Some(user)) = (tenant_id, user) else {
        return Err(Error::unauthorized("invalid_credentials"));
    };
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    match Principal::load(&mut tx, user.id).await? {
        Lookup::Found(_) => {}
        Lookup::NoSuchUser => return Err(Error::unauthorized("invalid_credentials")),
        Lookup::TenantSuspended => {
            return Err(Error::forbidden(
                "tenant_suspended",
                "this tenant is suspended",
            ));
        }
    }
    let refresh_token = refresh::issue(&mut tx, user.id, None, state.limits.refresh_ttl).await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(user.id)
        .execute(tx.conn())
        .await?;
    audit_as(
        &mut tx,
        user.id,
        "user.login",
        serde_json::json!({ "address": address.to_string() }),
    )
    .await?;
    tx.commit().await?;
    throttle::record_success(&state.pool, &keys).await?;
    token_response(&state, tenant_id, user.id, refresh_token)
}

/// Login audits as the user who just proved who they are.
pub(super) async fn audit_as(
    tx: &mut TenantTx,
    user_id: Uuid,
    action: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, actor_user_id, action, target_type, target_id, details)
         VALUES ($1, $2, $3, $4, 'user', $3, $5)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(action)
    .bind(details)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) fn token_response(
    state: &AppState,
    tenant_id: Uuid,
    user_id: Uuid,
    refresh_token: String,
) -> Result<Json<TokenResponse>> {
    Ok(Json(TokenResponse {
        access_token: state.tokens.issue(tenant_id, user_id)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl().as_secs(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>> {
    let presented = refresh::Presented::parse(&request.refresh_token)
        .ok_or_else(|| Error::unauthorized("invalid_refresh_token"))?;
    let scope = TenantScope {
        tenant_id: presented.tenant_id,
        user_id: None,
    };
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    match refresh::rotate(&mut tx, &presented, state.limits.refresh_ttl).await? {
        refresh::Rotation::Rotated { user_id, token } => {
            match Principal::load(&mut tx, user_id).await? {
                Lookup::Found(_) => {
                    tx.commit().await?;
                    token_response(&state, presented.tenant_id, user_id, token)
                }
                Lookup::NoSuchUser => Err(Error::unauthorized("invalid_refresh_token")),
                Lookup::TenantSuspended => Err(Error::forbidden(
                    "tenant_suspended",
                    "this tenant is suspended",
                )),
            }
        }
        refresh::Rotation::Reused => {
            // The revocation of the family must persist even though the request fails.
            audit(
                &mut tx,
                "auth.refresh_reused",
                "refresh_family",
                None,
                None,
                serde_json::json!({}),
            )
            .await?;
            tx.commit().await?;
            Err(Error::unauthorized("refresh_token_reused"))
        }
        refresh::Rotation::Unknown | refresh::Rotation::Expired => {
            Err(Error::unauthorized("invalid_refresh_token"))
        }
    }
}

/// Revokes the refresh family. Answers 204 whether or not the token was known, so logout
/// cannot be used to probe tokens.
async fn logout(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<StatusCode> {
    if let Some(presented) = refresh::Presented::parse(&request.refresh_token) {
        let scope = TenantScope {
            tenant_id: presented.tenant_id,
            user_id: None,
        };
        let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
        refresh::revoke_family_of(&mut tx, &presented).await?;
        tx.commit().await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptInvite {
    token: String,
    password: String,
}

async fn accept_invite(
    State(state): State<AppState>,
    Json(request): Json<AcceptInvite>,
) -> Result<StatusCode> {
    let mut check = Validator::new();
    if let Err(message) = password::check_policy(&request.password) {
        check.push("password", message);
    }
    check.finish()?;
    let presented = one_time::Presented::parse(one_time::INVITE_PREFIX, &request.token)
        .ok_or_else(|| Error::unauthorized("invalid_invite"))?;
    let tenant_id = presented.tenant_id;
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    let token_hash = presented.digest;
    // The token first, in a short transaction of its own: an unknown, used or expired one is
    // answered without any argon2 work, and argon2 runs with no pooled connection held.
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let pending: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM users WHERE tenant_id = $1 AND invite_token_hash = $2
           AND status = 'invited' AND invite_expires_at > now()",
    )
    .bind(tenant_id)
    .bind(&token_hash[..])
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    if pending.is_none() {
        return Err(Error::unauthorized("invalid_invite"));
    }
    let hash = password::hash_blocking(request.password).await?;
    // The same conditions again, atomically with the change: the invitation may have been
    // used or revoked while the password was hashed.
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let accepted: Option<Uuid> = sqlx::query_scalar(
        "UPDATE users SET password_hash = $3, status = 'active', invite_token_hash = NULL,
                invite_expires_at = NULL, version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND invite_token_hash = $2 AND status = 'invited'
           AND invite_expires_at > now()
         RETURNING id",
    )
    .bind(tenant_id)
    .bind(&token_hash[..])
    .bind(hash)
    .fetch_optional(tx.conn())
    .await?;
    let user_id = accepted.ok_or_else(|| Error::unauthorized("invalid_invite"))?;
    audit_as(
        &mut tx,
        user_id,
        "user.invite_accepted",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    user_id: Uuid,
    /// The API key of the request, when it was made with one (`user_id` is its creator's).
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<Uuid>,
    email: String,
    tenant: TenantSummary,
    roles: Vec<String>,
    permissions: Vec<String>,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
struct TenantSummary {
    id: Uuid,
    slug: String,
    name: String,
    time_zone: String,
}

async fn me(mut ctx: Tenant) -> Result<impl IntoResponse> {
    let tenant: TenantSummary =
        sqlx::query_as("SELECT id, slug, name, time_zone FROM tenants WHERE id = $1")
            .bind(ctx.tx.tenant_id())
            .fetch_one(ctx.tx.conn())
            .await?;
    let principal = &ctx.principal;
    Ok(Json(Me {
        user_id: principal.user_id,
        api_key_id: principal.api_key_id,
        email: principal.email.clone(),
        tenant,
        roles: principal.roles.clone(),
        permissions: principal.permissions.names().map(str::to_owned).collect(),
    }))
}
