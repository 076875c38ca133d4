//! Access tokens: short-lived JWTs naming one user in one tenant.
//!
//! Verification is strict on purpose: one algorithm (the configured one; never `none`),
//! a `kid` that must equal ours exactly, required `exp`, `iss`, `aud` and `sub`, `nbf`
//! honoured, and a size cap checked before any parsing. A token only says who the caller
//! claims to be; the request path then loads the user in the tenant (so a deactivated user
//! or a token for a tenant the user is not in is refused even when the signature is good).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::secrets;

/// Longer than any token we issue by two orders of magnitude; bigger ones are not parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    /// The tenant id.
    pub tid: Uuid,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: Uuid,
}

/// Where the signing key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A random secret generated into the data directory on first start.
    GeneratedHs256 { data_dir: PathBuf },
    /// PEM files: `EdDSA` (Ed25519) or `RS256`.
    Pem {
        algorithm: Algorithm,
        private_key: PathBuf,
        public_key: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
}

pub struct TokenKeys {
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: TokenSettings,
}

/// Why a token was refused. Callers answer 401 for all of them; the variant is logged.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token too large")]
    TooLarge,
    #[error("malformed token header: {0}")]
    Header(jsonwebtoken::errors::Error),
    #[error("unexpected algorithm")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKid,
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
}

impl TokenKeys {
    pub fn load(source: &KeySource, settings: TokenSettings) -> Result<Self> {
        let (algorithm, encoding, decoding, fingerprint_of) = match source {
            KeySource::GeneratedHs256 { data_dir } => {
                let secret = secrets::load_or_generate(&hs256_secret_path(data_dir), || {
                    let bytes: [u8; 64] = rand::random();
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                })?;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(secret.trim())
                    .context("the HS256 secret file is not base64")?;
                if key.len() < 32 {
                    bail!("the HS256 secret must be at least 32 bytes");
                }
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(&key),
                    DecodingKey::from_secret(&key),
                    key,
                )
            }
            KeySource::Pem {
                algorithm,
                private_key,
                public_key,
            } => {
                let private = std::fs::read(private_key)
                    .with_context(|| format!("reading {}", private_key.display()))?;
                let public = std::fs::read(public_key)
                    .with_context(|| format!("reading {}", public_key.display()))?;
                let (encoding, decoding) = match algorithm {
                    Algorithm::EdDSA => (
                        EncodingKey::from_ed_pem(&private)?,
                        DecodingKey::from_ed_pem(&public)?,
                    ),
                    Algorithm::RS256 => (
                        EncodingKey::from_rsa_pem(&private)?,
                        DecodingKey::from_rsa_pem(&public)?,
                    ),
                    other => {
                        bail!("unsupported JWT algorithm {other:?}; use HS256, EdDSA or RS256")
                    }
                };
                (*algorithm, encoding, decoding, public)
            }
        };
        let kid = key_id(&fingerprint_of);
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(Self {
            algorithm,
            kid,
            encoding,
            decoding,
            validation,
            settings,
        })
    }

    pub fn access_ttl(&self) -> Duration {
        self.settings.access_ttl
    }

    pub fn issue(&self, tenant_id: Uuid, user_id: Uuid) -> Result<String> {
        let now = unix_now();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user_id,
            tid: tenant_id,
            iat: now,
            nbf: now,
            exp: now + self.settings.access_ttl.as_secs(),
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let header = jsonwebtoken::decode_header(token).map_err(TokenError::Header)?;
        if header.alg != self.algorithm {
            return Err(TokenError::Algorithm);
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::UnknownKid);
        }
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(TokenError::Invalid)
    }
}

pub fn hs256_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets").join("jwt-hs256.key")
}

/// A short public fingerprint of the verification key.
fn key_id(material: &[u8]) -> String {
    let digest = Sha256::digest(material);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &Path) -> TokenKeys {
        TokenKeys::load(
            &KeySource::GeneratedHs256 {
                data_dir: dir.to_path_buf(),
            },
            TokenSettings {
                issuer: "iss".into(),
                audience: "aud".into(),
                access_ttl: Duration::from_secs(60),
            },
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_key_persistence() {
        let dir = std::env::temp_dir().join(format!("vf-jwt-{}", Uuid::new_v4()));
        let (tenant, user) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys(&dir).issue(tenant, user).unwrap();
        // A second load reads the same secret back, so tokens survive a restart.
        let claims = keys(&dir).verify(&token).unwrap();
        assert_eq!((claims.tid, claims.sub), (tenant, user));
        assert!(matches!(
            keys(&dir).verify(&"x".repeat(MAX_TOKEN_BYTES + 1)),
            Err(TokenError::TooLarge)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
