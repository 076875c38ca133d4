//! Self-service for people: changing one's own password, resetting a forgotten one by a
//! one-time link, and admins issuing reset links and invitations.
//!
//! - `POST /v1/me/password`: the current password is required (and throttled like a login);
//!   every other refresh-token family of the user is revoked, the caller's own stays when
//!   its refresh token is sent along.
//! - `POST /v1/auth/forgot-password`: always 202, whether or not the account exists; the link
//!   is mailed (after the answer) when SMTP is configured, at most once a minute per person.
//!   Without SMTP nothing is sent and an admin issues the link.
//! - `POST /v1/auth/reset-password`: spends the link, sets the password, signs out everywhere.
//! - `POST /v1/users/{id}/password-reset` and `/invitation` (`users.manage`, and the caller
//!   must cover the user's permissions): mailed when SMTP is configured, the token is then
//!   not in the answer; else it is, for the admin to hand over. The mail goes out before the
//!   transaction commits, so a failed send leaves no live token nobody received.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::auth::audit_as;
use super::extract::{ClientIp, Json, Path, Tenant};
use super::users::lock_for_change;
use crate::auth::one_time::{self, Issued, RESET_PREFIX};
use crate::auth::rbac::perm;
use crate::auth::{password, refresh, reset, throttle};
use crate::error::{Error, Result, Validator};
use crate::mail::Letter;
use crate::tenancy::provision::issue_invite;
use crate::tenancy::{TenantScope, TenantTx};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me/password", post(change_own))
        .route("/v1/auth/forgot-password", post(forgot))
        .route("/v1/auth/reset-password", post(reset_with_token))
        .route("/v1/users/{id}/password-reset", post(issue_reset))
        .route("/v1/users/{id}/invitation", post(issue_invitation))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangePassword {
    current_password: String,
    new_password: String,
    /// The caller's refresh token: its family stays signed in; without it, every session
    /// of the user is signed out.
    #[serde(default)]
    refresh_token: Option<String>,
}

fn check_new_password(field: &str, password: &str) -> Result<()> {
    let mut check = Validator::new();
    if let Err(message) = password::check_policy(password) {
        check.push(field, message);
    }
    check.finish()
}

#[derive(sqlx::FromRow)]
struct Own {
    slug: String,
    password_hash: Option<String>,
}

async fn change_own(
    State(state): State<AppState>,
    ClientIp(address): ClientIp,
    ctx: Tenant,
    Json(request): Json<ChangePassword>,
) -> Result<StatusCode> {
    if ctx.principal.api_key_id.is_some() {
        return Err(Error::forbidden(
            "person_required",
            "an API key cannot change a password; sign in as the person",
        ));
    }
    check_new_password("new_password", &request.new_password)?;
    let (tenant_id, user_id, email) = (
        ctx.tx.tenant_id(),
        ctx.principal.user_id,
        ctx.principal.email.clone(),
    );
    let mut tx = ctx.tx;
    let own: Own = sqlx::query_as(
        "SELECT t.slug, u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id
         WHERE u.tenant_id = $1 AND u.id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_one(tx.conn())
    .await?;
    // argon2 runs with no pooled connection held, as at login.
    tx.commit().await?;
    let keys = throttle::AttemptKeys::new(&own.slug, &email, address);
    if let Some(remaining) = throttle::begin_attempt(&state.pool, &keys, &state.throttle).await? {
        return Err(Error::too_many_requests(
            "login_throttled",
            "too many wrong passwords; try again later",
            remaining.as_secs(),
        ));
    }
    if !password::verify_blocking(own.password_hash, request.current_password).await? {
        return Err(Error::forbidden(
            "wrong_current_password",
            "the current password is not right",
        ));
    }
    throttle::record_success(&state.pool, &keys).await?;
    let hash = password::hash_blocking(request.new_password).await?;

    let scope = TenantScope {
        tenant_id,
        user_id: Some(user_id),
    };
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let keep_family = match request
        .refresh_token
        .as_deref()
        .and_then(refresh::Presented::parse)
    {
        Some(presented) => refresh::live_family_of(&mut tx, &presented, user_id).await?,
        None => None,
    };
    sqlx::query(
        "UPDATE users SET password_hash = $3, version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    refresh::revoke_user(&mut tx, user_id, keep_family).await?;
    audit_as(
        &mut tx,
        user_id,
        "user.password_changed",
        serde_json::json!({ "kept_session": keep_family.is_some() }),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ForgotPassword {
    tenant: String,
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    Json(request): Json<ForgotPassword>,
) -> Result<StatusCode> {
    if state.mailer.sends()
        && let Some(letter) = reset_letter_for(&state, &request).await?
    {
        // After the answer, so the time taken tells nothing of whether the account exists.
        let mailer = state.mailer.clone();
        tokio::spawn(async move {
            if let Err(error) = mailer.send(letter).await {
                tracing::warn!(error = format!("{error:#}"), "password-reset mail failed");
            }
        });
    }
    Ok(StatusCode::ACCEPTED)
}

/// The reset mail for an active user of that tenant and email, with the reset committed;
/// None when there is no such user or they asked within the last minute.
async fn reset_letter_for(state: &AppState, request: &ForgotPassword) -> Result<Option<Letter>> {
    let email = request.email.trim().to_lowercase();
    let tenant_id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(request.tenant.trim())
        .fetch_optional(&state.pool)
        .await?;
    let Some(tenant_id) = tenant_id else {
        return Ok(None);
    };
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let user: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM users WHERE tenant_id = $1 AND email = $2 AND status = 'active'",
    )
    .bind(tenant_id)
    .bind(&email)
    .fetch_optional(tx.conn())
    .await?;
    let Some(user_id) = user else {
        return Ok(None);
    };
    if reset::asked_recently(&mut tx, user_id).await? {
        return Ok(None);
    }
    let issued = reset::issue(&mut tx, user_id, None).await?;
    let letter = reset_letter(state, &mut tx, &email, &issued).await?;
    audit_as(
        &mut tx,
        user_id,
        "user.password_reset_requested",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(letter))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetPassword {
    token: String,
    password: String,
}

async fn reset_with_token(
    State(state): State<AppState>,
    Json(request): Json<ResetPassword>,
) -> Result<StatusCode> {
    check_new_password("password", &request.password)?;
    let presented = one_time::Presented::parse(RESET_PREFIX, &request.token)
        .ok_or_else(|| Error::unauthorized("invalid_reset_token"))?;
    let scope = TenantScope {
        tenant_id: presented.tenant_id,
        user_id: None,
    };
    // The token first, in a short transaction of its own: an unknown, used or expired one is
    // answered without any argon2 work, and argon2 runs with no pooled connection held.
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let pending = reset::pending(&mut tx, &presented).await?;
    tx.commit().await?;
    if pending.is_none() {
        return Err(Error::unauthorized("invalid_reset_token"));
    }
    let hash = password::hash_blocking(request.password).await?;
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    let user_id = reset::redeem(&mut tx, &presented, &hash)
        .await?
        .ok_or_else(|| Error::unauthorized("invalid_reset_token"))?;
    audit_as(
        &mut tx,
        user_id,
        "user.password_reset",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A one-time link an admin issued: mailed, or handed back when there is no SMTP.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct IssuedLink {
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    /// True when the link was mailed to the user; `token` and `link` are then absent.
    mailed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

impl IssuedLink {
    fn new(state: &AppState, user_id: Uuid, page: &str, issued: Issued) -> Self {
        let mailed = state.mailer.sends();
        Self {
            user_id,
            expires_at: issued.expires_at,
            mailed,
            link: (!mailed).then(|| state.mailer.link(page, &issued.token)),
            token: (!mailed).then_some(issued.token),
        }
    }
}

/// What an admin issues: a reset for an active user, a new invitation for an invited one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    Reset,
    Invitation,
}

async fn issue_reset(
    State(state): State<AppState>,
    ctx: Tenant,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<IssuedLink>)> {
    issue_link(state, ctx, id, Link::Reset).await
}

async fn issue_invitation(
    State(state): State<AppState>,
    ctx: Tenant,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<IssuedLink>)> {
    issue_link(state, ctx, id, Link::Invitation).await
}

async fn issue_link(
    state: AppState,
    mut ctx: Tenant,
    id: Uuid,
    link: Link,
) -> Result<(StatusCode, Json<IssuedLink>)> {
    ctx.require(perm::USERS_MANAGE)?;
    let user = lock_for_change(&mut ctx, id).await?;
    let (issued, page, action) = match (link, user.status.as_str()) {
        (Link::Reset, "active") => {
            let issued = reset::issue(&mut ctx.tx, id, Some(ctx.principal.user_id)).await?;
            (issued, "reset-password", "user.password_reset_issued")
        }
        (Link::Invitation, "invited") => {
            let issued = issue_invite(&mut ctx.tx, id).await?;
            (issued, "accept-invite", "user.invitation_issued")
        }
        (Link::Reset, _) => {
            return Err(Error::conflict(
                "user_not_active",
                "only an active user's password can be reset; invite an invited user again",
            ));
        }
        (Link::Invitation, _) => {
            return Err(Error::conflict(
                "user_not_invited",
                "this user has already accepted; issue a password reset instead",
            ));
        }
    };
    if state.mailer.sends() {
        let letter = match link {
            Link::Reset => reset_letter(&state, &mut ctx.tx, &user.email, &issued).await?,
            Link::Invitation => {
                invitation_letter(&state, &mut ctx.tx, &user.email, &issued.token).await?
            }
        };
        send_now(&state, letter).await?;
    }
    ctx.audit(action, "user", id, serde_json::json!({})).await?;
    ctx.commit().await?;
    let answer = IssuedLink::new(&state, id, page, issued);
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn tenant_name(tx: &mut TenantTx) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tx.tenant_id())
        .fetch_one(tx.conn())
        .await?)
}

async fn reset_letter(
    state: &AppState,
    tx: &mut TenantTx,
    email: &str,
    issued: &Issued,
) -> Result<Letter> {
    let company = tenant_name(tx).await?;
    let link = state.mailer.link("reset-password", &issued.token);
    Ok(Letter {
        to: email.to_owned(),
        subject: format!("Reset your {company} password"),
        body: format!(
            "Someone asked to reset the password of {email} at {company}.\n\n\
             To choose a new password, open this link within an hour:\n\n{link}\n\n\
             If it was not you, ignore this mail: your password stays as it is.\n"
        ),
    })
}

/// Mails an invitation, now, inside the caller's transaction (`POST /v1/users`).
pub(super) async fn mail_invitation(
    state: &AppState,
    tx: &mut TenantTx,
    email: &str,
    token: &str,
) -> Result<()> {
    let letter = invitation_letter(state, tx, email, token).await?;
    send_now(state, letter).await
}

async fn invitation_letter(
    state: &AppState,
    tx: &mut TenantTx,
    email: &str,
    token: &str,
) -> Result<Letter> {
    let company = tenant_name(tx).await?;
    let link = state.mailer.link("accept-invite", token);
    Ok(Letter {
        to: email.to_owned(),
        subject: format!("You are invited to {company}"),
        body: format!(
            "You are invited to {company} on VeroField as {email}.\n\n\
             To choose your password and sign in, open this link within 7 days:\n\n{link}\n"
        ),
    })
}

async fn send_now(state: &AppState, letter: Letter) -> Result<()> {
    state.mailer.send(letter).await.map_err(|error| {
        tracing::warn!(error = format!("{error:#}"), "mail failed");
        Error::problem(
            StatusCode::BAD_GATEWAY,
            "mail_not_sent",
            "the mail server did not take the message; nothing was issued, try again",
        )
    })
}
