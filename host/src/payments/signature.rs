//! Stripe's webhook signature, checked as Stripe documents it
//! (<https://docs.stripe.com/webhooks#verify-manually>): the `Stripe-Signature` header is
//! `t=<unix seconds>,v1=<hex>,...` where each `v1` is HMAC-SHA256, keyed by the endpoint's
//! signing secret (the whole `whsec_...` text), of `"{t}.{raw body}"`. During a secret's
//! rotation Stripe sends one `v1` per live secret, and the platform may hold several secrets
//! (several endpoints, or the old and new during a rotation): any pair that matches is enough.
//! Comparisons are constant-time; `v0` (test-mode legacy) and unknown schemes are ignored.
//!
//! A timestamp further than [`TOLERANCE`] from the server's clock is refused even when the
//! signature matches, so that a captured delivery cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far the signed timestamp may be from now, either way (Stripe's libraries: 300 s).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused; the HTTP layer turns each into a stable problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is not `t=...,v1=...`")]
    Malformed,
    #[error("no v1 signature matches a configured webhook secret")]
    NoMatch,
    #[error(
        "the signed timestamp is {0} s from the server's clock, over the tolerance of {TOLERANCE_SECS} s"
    )]
    Stale(i64),
}

/// Checks `header` over `body` against any of `secrets` at `now` (unix seconds); returns the
/// signed timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for pair in header.split(',') {
        let (key, value) = pair
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            "t" => return Err(SignatureError::Malformed),
            "v1" => signatures.push(decode_hex(value)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = mac(secret, timestamp, body);
        signatures.iter().flatten().fold(false, |found, given| {
            found | bool::from(given.ct_eq(&expected))
        })
    });
    if !matched {
        return Err(SignatureError::NoMatch);
    }
    let skew = (now - timestamp).abs();
    if skew > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    Ok(timestamp)
}

/// The header Stripe would send for `body` at `timestamp`, one `v1` per secret (tests, and the
/// test Stripe server).
pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&encode_hex(&mac(secret, timestamp, body)));
    }
    header
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// None for text that is not lower- or upper-case hex of whole bytes (it then matches nothing).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_known_vector_verifies() {
        // HMAC-SHA256("whsec_test", "1700000000.{BODY}"), computed with Python's hmac module.
        let header = header(&["whsec_test"], 1_700_000_000, BODY);
        assert_eq!(
            header,
            "t=1700000000,v1=4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021"
        );
        assert_eq!(
            verify(
                Some(&header),
                BODY,
                &secrets(&["whsec_test"]),
                1_700_000_010
            ),
            Ok(1_700_000_000)
        );
    }

    #[test]
    fn any_signature_under_any_secret_is_enough() {
        let header = header(&["whsec_old", "whsec_new"], 100, BODY);
        for configured in [["whsec_new", "whsec_x"], ["whsec_x", "whsec_old"]] {
            assert_eq!(
                verify(Some(&header), BODY, &secrets(&configured), 100),
                Ok(100)
            );
        }
        assert_eq!(
            verify(Some(&header), BODY, &secrets(&["whsec_x"]), 100),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_changed_body_or_timestamp_fails() {
        let header = header(&["whsec_a"], 100, BODY);
        let configured = secrets(&["whsec_a"]);
        assert_eq!(
            verify(Some(&header), b"{}", &configured, 100),
            Err(SignatureError::NoMatch)
        );
        let moved = header.replace("t=100", "t=101");
        assert_eq!(
            verify(Some(&moved), BODY, &configured, 100),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_stale() {
        let configured = secrets(&["whsec_a"]);
        let header = header(&["whsec_a"], 1000, BODY);
        assert_eq!(verify(Some(&header), BODY, &configured, 1300), Ok(1000));
        assert_eq!(
            verify(Some(&header), BODY, &configured, 1301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(Some(&header), BODY, &configured, 600),
            Err(SignatureError::Stale(400))
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let configured = secrets(&["whsec_a"]);
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,t=2,v1=00", "nonsense"] {
            assert_eq!(
                verify(Some(bad), BODY, &configured, 1),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(None, BODY, &configured, 1),
            Err(SignatureError::Missing)
        );
        // v0 and bad hex never match.
        assert_eq!(
            verify(Some("t=1,v1=zz,v0=00"), BODY, &configured, 1),
            Err(SignatureError::NoMatch)
        );
    }
}
