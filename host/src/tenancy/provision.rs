//! Creating tenants and users: the writes shared by the CLI, the operator API and the
//! users API, so each rule (validation, built-in roles, no privilege escalation, audit)
//! exists once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::{TenantScope, TenantTx};
use crate::auth::one_time::{self, INVITE_PREFIX};
use crate::auth::password;
use crate::auth::rbac::{BUILTIN_ROLES, Permissions};
use crate::error::{Error, Result, Validator, is_unique_violation};
use crate::registry::shares;

pub struct NewTenant {
    pub name: String,
    pub slug: String,
    pub time_zone: Option<String>,
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    pub tenant_id: Uuid,
    pub slug: String,
    pub admin_user_id: Uuid,
    pub admin_email: String,
}

/// Creates a tenant, its built-in roles and its first user (an owner), atomically.
pub async fn create_tenant(
    pool: &PgPool,
    new: NewTenant,
    statement_timeout: Duration,
) -> Result<CreatedTenant> {
    let email = new.admin_email.trim().to_lowercase();
    let mut check = Validator::new();
    check_slug(&mut check, "slug", &new.slug);
    check.check(
        (1..=200).contains(&new.name.trim().chars().count()),
        "name",
        "must be 1 to 200 characters",
    );
    check_email(&mut check, "admin_email", &email);
    if let Err(message) = password::check_policy(&new.admin_password) {
        check.push("admin_password", message);
    }
    let time_zone = new.time_zone.unwrap_or_else(|| "UTC".into());
    check.check(
        is_plausible_time_zone(&time_zone),
        "time_zone",
        "must be an IANA time zone name",
    );
    check.finish()?;
    let password_hash = password::hash_blocking(new.admin_password).await?;

    let tenant_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    let inserted =
        sqlx::query("INSERT INTO tenants (id, slug, name, time_zone) VALUES ($1, $2, $3, $4)")
            .bind(tenant_id)
            .bind(&new.slug)
            .bind(new.name.trim())
            .bind(&time_zone)
            .execute(&mut *tx)
            .await;
    if let Err(error) = inserted {
        if is_unique_violation(&error, Some("tenants_slug_key")) {
            return Err(Error::conflict(
                "slug_taken",
                "a tenant with this slug exists",
            ));
        }
        return Err(error.into());
    }
    // Publishers may have shared versions with this slug before the tenant existed.
    let adopted = shares::adopt(&mut tx, &new.slug).await?;
    let scope = TenantScope {
        tenant_id,
        user_id: None,
    };
    let mut tx = TenantTx::enter(tx, scope, statement_timeout).await?;
    shares::record_adopted(&mut tx, &adopted).await?;
    for role in BUILTIN_ROLES {
        sqlx::query(
            "INSERT INTO roles (tenant_id, id, name, description, permissions, builtin)
             VALUES ($1, $2, $3, $4, $5, true)",
        )
        .bind(tenant_id)
        .bind(Uuid::now_v7())
        .bind(role.name)
        .bind(role.description)
        .bind(
            role.permissions
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .execute(tx.conn())
        .await?;
    }
    // The company account exists from the first request on (`/v1/account`, billing's reads),
    // with the migration's defaults and the tenant's name as its legal name.
    sqlx::query(
        "INSERT INTO store.company_accounts (tenant_id, id, legal_name) VALUES ($1, $2, $3)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(new.name.trim())
    .execute(tx.conn())
    .await?;
    let admin_user_id = insert_user(&mut tx, &email, "", Some(&password_hash), "active").await?;
    set_user_roles(&mut tx, admin_user_id, &["owner".to_owned()]).await?;
    audit(
        &mut tx,
        "tenant.created",
        "tenant",
        Some(tenant_id),
        None,
        serde_json::json!({ "slug": new.slug }),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedTenant {
        tenant_id,
        slug: new.slug,
        admin_user_id,
        admin_email: email,
    })
}

pub fn check_slug(check: &mut Validator, field: &str, slug: &str) {
    let ok = (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    check.check(
        ok,
        field,
        "must be 2 to 63 lower-case letters, digits or '-', not starting with '-'",
    );
}

pub fn check_email(check: &mut Validator, field: &str, email: &str) {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    check.check(ok, field, "must be an email address");
}

/// Area/City names as in the tz database; the database (later: scheduling) resolves them.
fn is_plausible_time_zone(name: &str) -> bool {
    name == "UTC"
        || (name.len() <= 64
            && name.contains('/')
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
            }))
}

/// A user to create, as `POST /v1/users` and `verofield user create` take it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    pub roles: Vec<String>,
    /// Without a password the user is invited: the answer carries a one-time token that
    /// the invitee exchanges for a password at `/v1/auth/accept-invite`.
    pub password: Option<String>,
}

pub struct CreatedUser {
    pub user_id: Uuid,
    pub invite_token: Option<String>,
}

const INVITE_TTL_DAYS: i32 = 7;

/// Creates a user in the transaction's tenant. `granter` is the creating user's
/// permissions, which must cover the roles granted; None for the platform (CLI).
pub async fn create_user(
    tx: &mut TenantTx,
    new: NewUser,
    granter: Option<&Permissions>,
    request_id: Option<&str>,
) -> Result<CreatedUser> {
    let email = new.email.trim().to_lowercase();
    let mut check = Validator::new();
    check_email(&mut check, "email", &email);
    check_display_name(&mut check, &new.display_name);
    check.check(
        !new.roles.is_empty(),
        "roles",
        "at least one role is required",
    );
    if let Some(password) = &new.password
        && let Err(message) = password::check_policy(password)
    {
        check.push("password", message);
    }
    check.finish()?;
    let granted = permissions_of_roles(tx, &new.roles).await?;
    if granter.is_some_and(|granter| !granter.covers(&granted)) {
        return Err(Error::forbidden(
            "role_escalation",
            "you cannot grant permissions you do not hold",
        ));
    }
    let (hash, status) = match new.password {
        Some(password) => (Some(password::hash_blocking(password).await?), "active"),
        None => (None, "invited"),
    };
    let user_id = insert_user(tx, &email, new.display_name.trim(), hash.as_deref(), status).await?;
    set_user_roles(tx, user_id, &new.roles).await?;
    let invite_token = match status {
        "invited" => Some(issue_invite(tx, user_id).await?.token),
        _ => None,
    };
    audit(
        tx,
        "user.created",
        "user",
        Some(user_id),
        request_id,
        serde_json::json!({ "email": email, "roles": new.roles, "status": status }),
    )
    .await?;
    Ok(CreatedUser {
        user_id,
        invite_token,
    })
}

/// Issues (or replaces) the user's invitation; the previous token, if any, stops working.
pub async fn issue_invite(tx: &mut TenantTx, user_id: Uuid) -> Result<one_time::Issued> {
    let minted = one_time::mint(INVITE_PREFIX, tx.tenant_id());
    let expires_at = sqlx::query_scalar(
        "UPDATE users SET invite_token_hash = $3, invite_expires_at = now() + make_interval(days => $4)
         WHERE tenant_id = $1 AND id = $2 RETURNING invite_expires_at",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .bind(&minted.digest)
    .bind(INVITE_TTL_DAYS)
    .fetch_one(tx.conn())
    .await?;
    Ok(one_time::Issued {
        token: minted.token,
        expires_at,
    })
}

pub fn check_display_name(check: &mut Validator, name: &str) {
    check.check(
        name.chars().count() <= 200,
        "display_name",
        "must be at most 200 characters",
    );
}

async fn insert_user(
    tx: &mut TenantTx,
    email: &str,
    display_name: &str,
    password_hash: Option<&str>,
    status: &str,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO users (tenant_id, id, email, display_name, password_hash, status)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .bind(status)
    .execute(tx.conn())
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(error) if is_unique_violation(&error, Some("users_tenant_id_email_key")) => {
            Err(Error::conflict(
                "email_taken",
                "a user with this email exists in this tenant",
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// The permissions the named roles grant, or a 422 naming unknown roles.
pub async fn permissions_of_roles(tx: &mut TenantTx, roles: &[String]) -> Result<Permissions> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT name, permissions FROM roles WHERE tenant_id = $1 AND name = ANY($2)",
    )
    .bind(tx.tenant_id())
    .bind(roles)
    .fetch_all(tx.conn())
    .await?;
    let mut check = Validator::new();
    for role in roles {
        check.check(
            rows.iter().any(|(name, _)| name == role),
            "roles",
            format!("unknown role `{role}`"),
        );
    }
    check.finish()?;
    Ok(Permissions::new(rows.into_iter().flat_map(|(_, p)| p)))
}

/// Replaces a user's roles with the named ones (which must exist).
pub async fn set_user_roles(tx: &mut TenantTx, user_id: Uuid, roles: &[String]) -> Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    // The row's tenant comes from `roles.tenant_id` (not `$1`): Citus then sees a co-located
    // INSERT ... SELECT and runs it on the tenant's shard instead of pulling it through COPY.
    let inserted = sqlx::query(
        "INSERT INTO user_roles (tenant_id, user_id, role_id)
         SELECT r.tenant_id, $2, r.id FROM roles r WHERE r.tenant_id = $1 AND r.name = ANY($3)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(roles)
    .execute(tx.conn())
    .await?;
    if inserted.rows_affected() as usize != roles.len() {
        return Err(Error::validation(vec![crate::error::FieldError::new(
            "roles",
            "unknown role",
        )]));
    }
    Ok(())
}

/// Appends to the tenant's audit log, in the same transaction as the change it records. The
/// actor is the transaction's user, and its API key when the request was made with one.
pub async fn audit(
    tx: &mut TenantTx,
    action: &str,
    target_type: &str,
    target_id: Option<Uuid>,
    request_id: Option<&str>,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, actor_user_id, actor_api_key_id, action, target_type,
                                target_id, request_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(tx.user_id())
    .bind(tx.api_key_id())
    .bind(action)
    .bind(target_type)
    .bind(target_id)
    .bind(request_id)
    .bind(details)
    .execute(tx.conn())
    .await?;
    Ok(())
}
