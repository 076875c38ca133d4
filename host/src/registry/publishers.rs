//! Publishers: the partners who upload modules, each owning one namespace (`acme`, whose
//! modules are `acme/<module>`). The operator creates a publisher with its first owner and
//! key; owners invite members by email (a one-time invitation token, accepted for the
//! member's first key) and remove them (their keys go with them); every member manages their
//! own keys, owners anyone's.
//!
//! Global tables, read and written by the login role (never inside a tenant transaction).
//! Keys read `vfp_<key id>_<64 hex>` and invitations `vfi_<member id>_<64 hex>`, the shape of
//! tenant API keys ([`api_key::split`]): only their sha256 is stored and looked up, and the
//! secret is shown once. A key's last use is written at most once a minute.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::api_key;
use crate::error::{Error, Result, Validator, is_unique_violation};
use crate::runtime::manifest::is_identifier;
use crate::tenancy::provision::check_email;

pub const KEY_PREFIX: &str = "vfp_";
const INVITATION_PREFIX: &str = "vfi_";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Publisher {
    pub id: Uuid,
    pub namespace: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PublisherMember)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    /// `owner` or `member`.
    pub role: String,
    pub invited_at: DateTime<Utc>,
    /// None while the invitation is open.
    pub accepted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PublisherKey)]
pub struct Key {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub member_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key just made: its secret is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = NewPublisherKey)]
pub struct NewKey {
    pub id: Uuid,
    pub secret: String,
}

/// Who calls a publisher route: the key's member and publisher.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Caller {
    #[sqlx(flatten)]
    pub publisher: Publisher,
    pub member_id: Uuid,
    pub role: String,
    pub key_id: Uuid,
}

impl Caller {
    pub fn is_owner(&self) -> bool {
        self.role == "owner"
    }

    fn require_owner(&self) -> Result<()> {
        match self.is_owner() {
            true => Ok(()),
            false => Err(Error::forbidden(
                "publisher_owner_required",
                "only the publisher's owners manage its members",
            )),
        }
    }
}

const SELECT_PUBLISHER: &str = "SELECT id, namespace, name, created_at FROM publishers";
const SELECT_MEMBER: &str =
    "SELECT id, email, role, invited_at, accepted_at FROM publisher_members";
const SELECT_KEY: &str =
    "SELECT id, name, prefix, member_id, created_at, last_used_at FROM publisher_keys";
/// How stale `last_used_at` may be before a request writes it again.
const LAST_USE_RESOLUTION: &str = "1 minute";

/// Creates a publisher, its owner (by email) and the owner's first key, in one transaction.
pub async fn create(
    pool: &PgPool,
    namespace: &str,
    name: &str,
    owner_email: &str,
) -> Result<(Publisher, NewKey)> {
    let mut check = Validator::new();
    check.check(
        is_identifier(namespace),
        "namespace",
        "must be lower-case letters, digits and dashes, starting with a letter (at most 64)",
    );
    check.check(
        (1..=200).contains(&name.trim().chars().count()),
        "name",
        "must be 1 to 200 characters",
    );
    check_email(&mut check, "owner_email", owner_email);
    check.finish()?;
    let mut tx = pool.begin().await?;
    let publisher: Publisher = sqlx::query_as(
        "INSERT INTO publishers (id, namespace, name) VALUES ($1, $2, $3)
         RETURNING id, namespace, name, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(namespace)
    .bind(name.trim())
    .fetch_one(&mut *tx)
    .await
    .map_err(|error| match is_unique_violation(&error, None) {
        true => Error::conflict(
            "namespace_taken",
            format!("namespace `{namespace}` belongs to another publisher"),
        ),
        false => error.into(),
    })?;
    let owner = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO publisher_members (id, publisher_id, email, role, accepted_at)
         VALUES ($1, $2, $3, 'owner', now())",
    )
    .bind(owner)
    .bind(publisher.id)
    .bind(owner_email)
    .execute(&mut *tx)
    .await?;
    let key = insert_key(&mut tx, publisher.id, owner, "owner").await?;
    tx.commit().await?;
    Ok((publisher, key))
}

async fn insert_key(
    tx: &mut sqlx::PgConnection,
    publisher_id: Uuid,
    member_id: Uuid,
    name: &str,
) -> Result<NewKey> {
    let id = Uuid::now_v7();
    let minted = api_key::mint(KEY_PREFIX, id);
    sqlx::query(
        "INSERT INTO publisher_keys (id, publisher_id, member_id, name, prefix, secret_hash)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(publisher_id)
    .bind(member_id)
    .bind(name)
    .bind(&minted.prefix)
    .bind(&minted.digest[..])
    .execute(&mut *tx)
    .await?;
    Ok(NewKey {
        id,
        secret: minted.key,
    })
}

pub async fn list(pool: &PgPool, after: Option<Uuid>, limit: i64) -> Result<Vec<Publisher>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT_PUBLISHER} WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The caller a publishing key stands for; None for anything that is not a live key.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<Caller>> {
    let Some((_, digest)) = api_key::split(KEY_PREFIX, token) else {
        return Ok(None);
    };
    let found: Option<(Caller, bool)> = sqlx::query_as::<_, CallerRow>(&format!(
        "SELECT p.id, p.namespace, p.name, p.created_at, m.id AS member_id, m.role, k.id AS key_id,
                coalesce(k.last_used_at < now() - interval '{LAST_USE_RESOLUTION}', true) AS stale
         FROM publisher_keys k
         JOIN publisher_members m ON m.id = k.member_id
         JOIN publishers p ON p.id = k.publisher_id
         WHERE k.secret_hash = $1"
    ))
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?
    .map(|row| (row.caller, row.stale));
    let Some((caller, stale)) = found else {
        return Ok(None);
    };
    if stale {
        sqlx::query(&format!(
            "UPDATE publisher_keys SET last_used_at = now() WHERE id = $1
               AND coalesce(last_used_at < now() - interval '{LAST_USE_RESOLUTION}', true)"
        ))
        .bind(caller.key_id)
        .execute(pool)
        .await?;
    }
    Ok(Some(caller))
}

#[derive(sqlx::FromRow)]
struct CallerRow {
    #[sqlx(flatten)]
    caller: Caller,
    stale: bool,
}

/// Invites a member by email; the invitation token is returned once.
pub async fn invite(pool: &PgPool, caller: &Caller, email: &str) -> Result<(Member, String)> {
    caller.require_owner()?;
    let mut check = Validator::new();
    check_email(&mut check, "email", email);
    check.finish()?;
    let id = Uuid::now_v7();
    let invitation = api_key::mint(INVITATION_PREFIX, id);
    let member: Member = sqlx::query_as(
        "INSERT INTO publisher_members (id, publisher_id, email, role, invitation_hash)
         VALUES ($1, $2, $3, 'member', $4)
         RETURNING id, email, role, invited_at, accepted_at",
    )
    .bind(id)
    .bind(caller.publisher.id)
    .bind(email)
    .bind(&invitation.digest[..])
    .fetch_one(pool)
    .await
    .map_err(|error| match is_unique_violation(&error, None) {
        true => Error::conflict("member_exists", format!("`{email}` is already a member")),
        false => error.into(),
    })?;
    Ok((member, invitation.key))
}

/// Accepts an invitation (once): the member's first key. An unknown, used or malformed token
/// is 401, one answer for all.
pub async fn accept(pool: &PgPool, token: &str) -> Result<(Publisher, Member, NewKey)> {
    let invalid = || Error::unauthorized("invalid_invitation");
    let (member_id, digest) = api_key::split(INVITATION_PREFIX, token).ok_or_else(invalid)?;
    let mut tx = pool.begin().await?;
    let member: Member = sqlx::query_as(
        "UPDATE publisher_members SET invitation_hash = NULL, accepted_at = now()
         WHERE id = $1 AND invitation_hash = $2
         RETURNING id, email, role, invited_at, accepted_at",
    )
    .bind(member_id)
    .bind(&digest[..])
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(invalid)?;
    let publisher: Publisher = sqlx::query_as(&format!(
        "{SELECT_PUBLISHER} WHERE id = (SELECT publisher_id FROM publisher_members WHERE id = $1)"
    ))
    .bind(member.id)
    .fetch_one(&mut *tx)
    .await?;
    let key = insert_key(&mut tx, publisher.id, member.id, "first").await?;
    tx.commit().await?;
    Ok((publisher, member, key))
}

/// A page of the publisher's members, in id order after `after`.
pub async fn members(
    pool: &PgPool,
    publisher_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Member>> {
    page_of(pool, SELECT_MEMBER, publisher_id, after, limit).await
}

/// A page of the rows `select` reads (one of the publisher's own tables, with an `id`).
async fn page_of<T>(
    pool: &PgPool,
    select: &str,
    publisher_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    Ok(sqlx::query_as(&format!(
        "{select} WHERE publisher_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(publisher_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Removes a member and with them their keys. Owners cannot be removed (the publisher keeps
/// its owner); a member of another publisher is 404.
pub async fn remove_member(pool: &PgPool, caller: &Caller, member_id: Uuid) -> Result<()> {
    caller.require_owner()?;
    let role: Option<String> = sqlx::query_scalar(
        "DELETE FROM publisher_members WHERE id = $1 AND publisher_id = $2 AND role = 'member'
         RETURNING role",
    )
    .bind(member_id)
    .bind(caller.publisher.id)
    .fetch_optional(pool)
    .await?;
    if role.is_some() {
        return Ok(());
    }
    let owner: Option<bool> = sqlx::query_scalar(
        "SELECT role = 'owner' FROM publisher_members WHERE id = $1 AND publisher_id = $2",
    )
    .bind(member_id)
    .bind(caller.publisher.id)
    .fetch_optional(pool)
    .await?;
    match owner {
        Some(true) => Err(Error::conflict(
            "member_is_owner",
            "an owner cannot be removed",
        )),
        _ => Err(Error::not_found("member")),
    }
}

/// A new key for the caller's own member.
pub async fn create_key(pool: &PgPool, caller: &Caller, name: &str) -> Result<NewKey> {
    let mut check = Validator::new();
    check.check(
        (1..=100).contains(&name.chars().count()),
        "name",
        "must be 1 to 100 characters",
    );
    check.finish()?;
    let mut conn = pool.acquire().await?;
    insert_key(&mut conn, caller.publisher.id, caller.member_id, name).await
}

/// A page of the publisher's keys, in id order after `after`.
pub async fn keys(
    pool: &PgPool,
    publisher_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Key>> {
    page_of(pool, SELECT_KEY, publisher_id, after, limit).await
}

/// Revokes a key: a member their own, an owner any of the publisher's. Anything else is 404.
pub async fn revoke_key(pool: &PgPool, caller: &Caller, key_id: Uuid) -> Result<()> {
    let revoked = sqlx::query(
        "DELETE FROM publisher_keys WHERE id = $1 AND publisher_id = $2 AND ($3 OR member_id = $4)",
    )
    .bind(key_id)
    .bind(caller.publisher.id)
    .bind(caller.is_owner())
    .bind(caller.member_id)
    .execute(pool)
    .await?
    .rows_affected();
    match revoked {
        1 => Ok(()),
        _ => Err(Error::not_found("key")),
    }
}

/// A publisher by id (the publisher of a version, shown to tenants at consent).
pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<Publisher>> {
    Ok(sqlx::query_as(&format!("{SELECT_PUBLISHER} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}
