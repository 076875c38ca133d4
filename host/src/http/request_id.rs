//! The client's `x-request-id`, checked before the host adopts it. The request id is written
//! on every log line of the request, returned in the response, and stored in the audit log
//! and the event outbox, so it must be short and plain: at most [`MAX_LEN`] characters of
//! `A-Z a-z 0-9 - _ . : / + = @` (UUIDs, hex trace ids, ULIDs). Anything else (too long,
//! control characters, spaces, quotes, several values) is dropped here, and the request-id
//! layer inside this one generates an id in its place.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client request id the host keeps.
pub const MAX_LEN: usize = 128;

/// Drops a client's request id that is not acceptable, so that a fresh one is generated.
pub async fn drop_unacceptable(mut request: Request, next: Next) -> Response {
    let values = request.headers().get_all(HEADER);
    let mut values = values.iter();
    let acceptable = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_acceptable(value.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !acceptable {
        request.headers_mut().remove(HEADER);
    }
    next.run(request).await
}

fn is_acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_short_ids_are_kept() {
        for id in [
            "trace-me-123",
            "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "svc:a/b+c=d@e_f.g",
        ] {
            assert!(is_acceptable(id.as_bytes()), "{id}");
        }
        assert!(is_acceptable("a".repeat(MAX_LEN).as_bytes()));
    }

    #[test]
    fn long_or_unusual_ids_are_refused() {
        for id in [
            "",
            "a b",
            "a\tb",
            "a\"b",
            "a\\b",
            "caf\u{e9}",
            "x;y",
            "<script>",
        ] {
            assert!(!is_acceptable(id.as_bytes()), "{id:?}");
        }
        assert!(!is_acceptable("a".repeat(MAX_LEN + 1).as_bytes()));
    }
}
