//! Forging JWTs the way an attacker (or the server) would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::*;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// The server's key id: the first 8 bytes of sha256(key material), lower-case hex.
pub fn kid(material: &[u8]) -> String {
    Sha256::digest(material)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims the server would issue for `sub` in tenant `tid`, valid for ten minutes.
pub fn claims(sub: Uuid, tid: Uuid) -> Value {
    let now = now();
    json!({
        "iss": "verofield",
        "aud": "verofield-api",
        "sub": sub,
        "tid": tid,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": Uuid::new_v4(),
    })
}

/// header.payload.signature with an HMAC-SHA256 signature over whatever header is given.
pub fn sign_hs256(key: &[u8], header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!(
        "{signing_input}.{}",
        b64(&hmac_sha256(key, signing_input.as_bytes()))
    )
}

/// A correctly formed HS256 token with `kid`.
pub fn forge_hs256(key: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({ "alg": "HS256", "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    sign_hs256(key, &header, claims)
}

/// An unsigned token: `header.payload.` (empty signature).
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The decoded header and claims of a token.
pub fn decode(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
    let claims = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
    (header, claims)
}

/// HMAC-SHA256 (RFC 2104), written out so the harness needs no extra crate.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}
