//! Sealing module secrets at rest: ChaCha20-Poly1305 (`ring`, already in the build through
//! rustls) under a 256-bit key generated into `<data-dir>/secrets/module-secrets-key`, a
//! random 96-bit nonce per value, and the tenant, module and secret name as associated data:
//! a sealed value moved to another tenant's or module's row, or under another name, does not
//! open. Stored as base64 of nonce and ciphertext with its tag.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use uuid::Uuid;

/// The file in the secrets directory that holds the key (64 hex characters).
pub const KEY_FILE: &str = "module-secrets-key";

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// A sealer over a 64-hex-character key (`crate::secrets::random_hex`).
    pub fn from_hex(hex: &str) -> anyhow::Result<Self> {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("{KEY_FILE} must hold 64 hex characters"))?;
        anyhow::ensure!(bytes.len() == 32, "{KEY_FILE} must hold 64 hex characters");
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| anyhow::anyhow!("{KEY_FILE} is not a usable key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A sealer with a key of its own, for processes that keep nothing (tests, tools).
    pub fn ephemeral() -> Self {
        Self::from_hex(&crate::secrets::random_hex()).expect("a generated key")
    }

    pub fn seal(&self, tenant: Uuid, module: &str, name: &str, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(associated(tenant, module, name)),
                &mut sealed,
            )
            .expect("sealing a bounded value");
        let mut stored = nonce_bytes.to_vec();
        stored.extend_from_slice(&sealed);
        STANDARD.encode(stored)
    }

    /// The plaintext, or none when the value was sealed for another tenant, module or name,
    /// under another key, or altered.
    pub fn open(&self, tenant: Uuid, module: &str, name: &str, stored: &str) -> Option<String> {
        let bytes = STANDARD.decode(stored).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let mut sealed = sealed.to_vec();
        let plaintext = self
            .key
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(associated(tenant, module, name)),
                &mut sealed,
            )
            .ok()?;
        String::from_utf8(plaintext.to_vec()).ok()
    }
}

/// Tenant, module and name, each length-prefixed so that no two triples encode alike.
fn associated(tenant: Uuid, module: &str, name: &str) -> Vec<u8> {
    let mut data = tenant.as_bytes().to_vec();
    for part in [module, name] {
        data.extend_from_slice(&(part.len() as u32).to_be_bytes());
        data.extend_from_slice(part.as_bytes());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_tenant_module_name_and_key() {
        let sealer = Sealer::ephemeral();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let sealed = sealer.seal(a, "acme/route-plus", "api-key", "sk_live_123");
        assert!(!sealed.contains("sk_live_123"));
        assert_ne!(
            sealed,
            sealer.seal(a, "acme/route-plus", "api-key", "sk_live_123")
        );
        assert_eq!(
            sealer
                .open(a, "acme/route-plus", "api-key", &sealed)
                .as_deref(),
            Some("sk_live_123")
        );
        assert_eq!(sealer.open(b, "acme/route-plus", "api-key", &sealed), None);
        assert_eq!(sealer.open(a, "other", "api-key", &sealed), None);
        assert_eq!(sealer.open(a, "acme/route-plus", "other", &sealed), None);
        assert_eq!(
            Sealer::ephemeral().open(a, "acme/route-plus", "api-key", &sealed),
            None
        );
        assert_eq!(sealer.open(a, "acme/route-plus", "api-key", "AAAA"), None);
    }
}
