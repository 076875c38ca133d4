//! Tenant API keys: the credentials of server-to-server clients.
//!
//! A key reads `vfk_<tenant id>_<64 hex>` (256 random bits): the tenant id lets the host open
//! the right tenant transaction before it knows the key, as refresh tokens do. Only the
//! sha256 of the whole key is stored, found through a unique index; a fast hash is right for
//! a random 256-bit secret (argon2 would cost ~50 ms on every request and protects only
//! guessable secrets). The digest is the lookup key itself, so there is no comparison of a
//! secret against a stored value to time.
//!
//! A key acts for the user who created it. Its effective permissions are its own intersected
//! with that user's current ones (`Permissions::intersect`), so a creator who loses a
//! permission takes it from their keys too, and a deactivated creator disables them. Its
//! last use is written at most once a minute (`LAST_USE_RESOLUTION`), not on every request.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenancy::TenantTx;

pub const PREFIX: &str = "vfk_";
/// The hex characters of the secret kept in the key's display prefix (`vfk_<tenant>_<8 hex>`,
/// the literal start of the key): enough to tell keys apart, 32 bits of 256.
const DISPLAY_SECRET_CHARS: usize = 8;
const SECRET_HEX_CHARS: usize = 64;
/// How stale `last_used_at` may be before a request writes it again.
const LAST_USE_RESOLUTION: &str = "1 minute";

/// Whether a bearer token is shaped like an API key (and not a JWT).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A presented key split into its tenant and the digest to look it up by.
pub struct Presented {
    pub tenant_id: Uuid,
    digest: [u8; 32],
}

impl Presented {
    pub fn parse(token: &str) -> Option<Self> {
        let (tenant_id, digest) = split(PREFIX, token)?;
        Some(Self { tenant_id, digest })
    }
}

/// A credential of the shape `<prefix><uuid simple>_<64 hex>` split into its id and the
/// sha256 of the whole credential; None when it has another shape. Tenant API keys and the
/// publishers' keys and invitations share it.
pub fn split(prefix: &str, token: &str) -> Option<(Uuid, [u8; 32])> {
    let (id, secret) = token.strip_prefix(prefix)?.split_once('_')?;
    if id.len() != 32
        || secret.len() != SECRET_HEX_CHARS
        || !secret.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    Some((
        Uuid::try_parse(id).ok()?,
        Sha256::digest(token.as_bytes()).into(),
    ))
}

/// A new key: the secret shown once, the digest stored, the prefix kept in clear.
pub struct Generated {
    pub key: String,
    pub digest: [u8; 32],
    pub prefix: String,
}

pub fn generate(tenant_id: Uuid) -> Generated {
    mint(PREFIX, tenant_id)
}

/// A new credential `<prefix><id>_<64 hex>` (256 random bits; see [`split`]).
pub fn mint(prefix: &str, id: Uuid) -> Generated {
    let secret = crate::secrets::random_hex();
    let key = format!("{prefix}{}_{secret}", id.simple());
    Generated {
        digest: Sha256::digest(key.as_bytes()).into(),
        prefix: key[..key.len() - SECRET_HEX_CHARS + DISPLAY_SECRET_CHARS].to_owned(),
        key,
    }
}

/// A live key found by its digest.
#[derive(sqlx::FromRow)]
pub struct Resolved {
    pub id: Uuid,
    pub created_by: Uuid,
    pub permissions: Vec<String>,
    /// `last_used_at` is older than the resolution (or unset): this request records its use.
    pub stale: bool,
}

/// The unexpired key with this digest in the transaction's tenant, or None.
pub async fn resolve(
    tx: &mut TenantTx,
    presented: &Presented,
) -> Result<Option<Resolved>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT id, created_by, permissions,
                coalesce(last_used_at < now() - interval '{LAST_USE_RESOLUTION}', true) AS stale
         FROM api_keys
         WHERE tenant_id = $1 AND secret_hash = $2 AND (expires_at IS NULL OR expires_at > now())"
    ))
    .bind(tx.tenant_id())
    .bind(&presented.digest[..])
    .fetch_optional(tx.conn())
    .await
}

/// Records a use of the key from `address`, unless another request (on any host) did within
/// the resolution.
pub async fn record_use(tx: &mut TenantTx, id: Uuid, address: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE api_keys SET last_used_at = now(), last_used_from = $3
         WHERE tenant_id = $1 AND id = $2
           AND coalesce(last_used_at < now() - interval '{LAST_USE_RESOLUTION}', true)"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(address)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_name_their_tenant() {
        let tenant = Uuid::now_v7();
        let generated = generate(tenant);
        assert_eq!(generated.key.len(), 4 + 32 + 1 + 64);
        let presented = Presented::parse(&generated.key).unwrap();
        assert_eq!(presented.tenant_id, tenant);
        assert_eq!(presented.digest, generated.digest);
        assert!(generated.key.starts_with(&generated.prefix));
        assert_eq!(generated.prefix.len(), 4 + 32 + 1 + 8);
        assert_ne!(generate(tenant).key, generated.key);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let key = generate(Uuid::now_v7()).key;
        assert!(Presented::parse(&key[..key.len() - 1]).is_none());
        assert!(Presented::parse(&key.replacen("vfk_", "vfr_", 1)).is_none());
        assert!(Presented::parse(&format!("{}g", &key[..key.len() - 1])).is_none());
        assert!(Presented::parse("vfk_").is_none());
    }
}
