//! One-time tokens that stand for a person before they can sign in: invitations (`vfi_`)
//! and password resets (`vfp_`).
//!
//! A token reads `<prefix><tenant id>_<32 random bytes, base64url>`: the tenant id lets the
//! host open the right tenant transaction before it knows the user; only the sha256 of the
//! whole token is stored, so a leaked table holds nothing that can be presented.

use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const INVITE_PREFIX: &str = "vfi_";
pub const RESET_PREFIX: &str = "vfp_";

/// A token as issued: handed to its holder (by mail or by the admin) with its expiry.
pub struct Issued {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A freshly minted token and the digest to store.
pub struct Minted {
    pub token: String,
    pub digest: Vec<u8>,
}

pub fn mint(prefix: &str, tenant_id: Uuid) -> Minted {
    let secret: [u8; 32] = rand::random();
    let token = format!(
        "{prefix}{}_{}",
        tenant_id.simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let digest = Sha256::digest(token.as_bytes()).to_vec();
    Minted { token, digest }
}

/// A presented token split into its tenant and the digest to look it up by; None when it is
/// not shaped like a token of this kind.
pub struct Presented {
    pub tenant_id: Uuid,
    pub digest: Vec<u8>,
}

impl Presented {
    pub fn parse(prefix: &str, token: &str) -> Option<Self> {
        let (tenant, secret) = token.strip_prefix(prefix)?.split_once('_')?;
        if tenant.len() != 32 || secret.len() != 43 {
            return None;
        }
        Some(Self {
            tenant_id: Uuid::try_parse(tenant).ok()?,
            digest: Sha256::digest(token.as_bytes()).to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_to_its_tenant_and_digest() {
        let tenant = Uuid::now_v7();
        let minted = mint(RESET_PREFIX, tenant);
        let presented = Presented::parse(RESET_PREFIX, &minted.token).expect("parses");
        assert_eq!(presented.tenant_id, tenant);
        assert_eq!(presented.digest, minted.digest);
    }

    #[test]
    fn a_token_of_another_kind_or_shape_is_refused() {
        let minted = mint(INVITE_PREFIX, Uuid::now_v7());
        assert!(Presented::parse(RESET_PREFIX, &minted.token).is_none());
        assert!(Presented::parse(INVITE_PREFIX, &minted.token[..minted.token.len() - 1]).is_none());
        assert!(Presented::parse(INVITE_PREFIX, "vfi_nothex_secret").is_none());
    }
}
