//! The headers a module may put on its answer. A module's answer is untrusted like a client's
//! request, so its headers pass through an allowlist before the host sends them, on the live
//! path and again when an `Idempotency-Key` replays a stored answer (rows stored by older
//! versions were never screened).
//!
//! Kept: `content-type` when it is JSON, problem+json, CSV, PDF, PNG or JPEG (parameters such as
//! `charset` allowed), `etag`, `cache-control`, `retry-after`, `location` under the module's
//! own prefix (`/v1/{slot}`, a path only) and `x-{slot}-*` headers. Everything else (framing
//! such as `content-length` and `transfer-encoding`, hop-by-hop headers, cookies, CORS, HSTS,
//! an HTML content type, another module's or the host's `x-` names) is dropped and named in a
//! warning. Every module answer carries `x-content-type-options: nosniff`, so a browser never
//! guesses a type the host did not allow.
//!
//! The caps are different: a module that sends more than [`MAX_HEADERS`] headers or more than
//! [`MAX_HEADER_BYTES`] of them is faulty, and its call fails (502 `module_bad_response`)
//! before anything commits.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::error::Error;

/// Most headers one module answer may carry (kept or not).
pub const MAX_HEADERS: usize = 32;
/// Most bytes, names plus values, of one module answer's headers.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The media types a module may answer with: data, never anything a browser renders as a page
/// (raster images are inert under `nosniff`; SVG is a document that can carry script).
const CONTENT_TYPES: [&str; 6] = [
    "application/json",
    "application/problem+json",
    "text/csv",
    "application/pdf",
    "image/png",
    "image/jpeg",
];

/// `x-` names (or prefixes) with a meaning to the host, proxies or browsers: never a module's,
/// even when its slot makes them look namespaced (slot `request` and `x-request-id`).
const RESERVED_X: [&str; 10] = [
    "x-request-id",
    "x-verofield-",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "x-forwarded-",
    "x-real-ip",
    "x-permitted-cross-domain-policies",
    "x-dns-prefetch-control",
    "x-download-options",
];

/// A module's answer failed in a way that is the module's fault (502 `module_bad_response`).
pub fn bad_response(detail: impl Into<String>) -> Error {
    Error::problem(StatusCode::BAD_GATEWAY, "module_bad_response", detail)
}

/// The module's headers that may be sent, names in lower case; the others are dropped with a
/// warning. Fails when the module broke the caps.
pub fn screen(slot: &str, headers: &[(String, String)]) -> Result<Vec<(String, String)>, Error> {
    if headers.len() > MAX_HEADERS {
        return Err(bad_response(format!(
            "the module answered {} headers, over the limit of {MAX_HEADERS}",
            headers.len()
        )));
    }
    let bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(bad_response(format!(
            "the module answered {bytes} bytes of headers, over the limit of {MAX_HEADER_BYTES}"
        )));
    }
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if is_allowed(slot, &name, value) {
            kept.push((name, value.clone()));
        } else {
            dropped.push(name);
        }
    }
    if !dropped.is_empty() {
        // Debug formatting escapes whatever control characters a name holds.
        tracing::warn!(
            target: "verofield::module",
            slot,
            ?dropped,
            "module response headers outside the allowlist dropped"
        );
    }
    Ok(kept)
}

/// Writes screened headers over the host's defaults (a module's content type replaces the
/// default one), then `x-content-type-options: nosniff`.
pub fn apply(screened: Vec<(String, String)>, headers: &mut HeaderMap) {
    for (name, value) in screened {
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value))
        else {
            continue;
        };
        if is_repeatable(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn is_repeatable(name: &HeaderName) -> bool {
    name == header::CACHE_CONTROL || name.as_str().starts_with("x-")
}

fn is_allowed(slot: &str, name: &str, value: &str) -> bool {
    if !is_token(name) || !is_clean(value) {
        return false;
    }
    match name {
        "content-type" => is_allowed_content_type(value),
        "etag" => is_entity_tag(value),
        "cache-control" => !value.trim().is_empty(),
        "retry-after" => is_retry_after(value),
        "location" => is_own_location(slot, value),
        _ => is_module_namespaced(slot, name),
    }
}

/// `x-{slot}-<something>`, unless the name is reserved.
fn is_module_namespaced(slot: &str, name: &str) -> bool {
    let own = name
        .strip_prefix("x-")
        .and_then(|rest| rest.strip_prefix(slot))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| !rest.is_empty());
    own && !RESERVED_X.iter().any(|reserved| name.starts_with(reserved))
}

/// A path under `/v1/{slot}` with nothing that lets a client resolve it elsewhere: no scheme
/// or authority (`//`), no dot segments (`..`, or `%2e` which browsers decode as a dot), no
/// backslash (browsers read it as a slash), no whitespace.
fn is_own_location(slot: &str, value: &str) -> bool {
    let under_prefix = value
        .strip_prefix("/v1/")
        .and_then(|rest| rest.strip_prefix(slot))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']));
    under_prefix
        && !value.contains("//")
        && !value.contains("..")
        && !value.contains('\\')
        && !value.to_ascii_lowercase().contains("%2e")
        && !value.contains([' ', '\t'])
}

fn is_allowed_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    CONTENT_TYPES.contains(&media_type.as_str()) && parts.all(|p| is_parameter(p.trim()))
}

/// `name=token` or `name="quoted"` (RFC 9110 section 5.6.6).
fn is_parameter(parameter: &str) -> bool {
    let Some((name, value)) = parameter.split_once('=') else {
        return false;
    };
    let quoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .is_some_and(|inner| !inner.contains(['"', '\\']));
    is_token(name) && (is_token(value) || quoted)
}

/// `"opaque"` or `W/"opaque"` (RFC 9110 section 8.8.3).
fn is_entity_tag(value: &str) -> bool {
    let tag = value.strip_prefix("W/").unwrap_or(value);
    tag.len() >= 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && tag[1..tag.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
}

/// Seconds, or an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn is_retry_after(value: &str) -> bool {
    let seconds =
        !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit());
    let date = (20..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b',' | b':' | b'-'));
    seconds || date
}

/// An RFC 9110 token: the characters a header name or a bare parameter may use.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII, spaces and tabs only: no control character, no byte a client may decode
/// differently.
fn is_clean(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn kept(list: &[(&str, &str)]) -> Vec<(String, String)> {
        screen("crm", &pairs(list)).unwrap()
    }

    #[test]
    fn keeps_the_allowlist_and_drops_the_rest() {
        let allowed = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("etag", "\"3\""),
            ("ETag", "W/\"a-b\""),
            ("cache-control", "private, max-age=60"),
            ("retry-after", "120"),
            ("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("location", "/v1/crm/customers/42"),
            ("location", "/v1/crm?page=2"),
            ("x-crm-trace", "abc"),
        ];
        assert_eq!(kept(&allowed).len(), allowed.len());
        for content_type in [
            "application/problem+json",
            "text/csv; charset=\"utf-8\"",
            "application/pdf",
            "image/png",
            "image/jpeg",
            "APPLICATION/JSON",
        ] {
            assert_eq!(
                kept(&[("content-type", content_type)]).len(),
                1,
                "{content_type}"
            );
        }
    }

    #[test]
    fn drops_framing_cookies_cors_and_foreign_names() {
        let refused = [
            ("content-length", "0"),
            ("transfer-encoding", "chunked"),
            ("connection", "close"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "websocket"),
            ("set-cookie", "sid=1"),
            ("access-control-allow-origin", "*"),
            ("strict-transport-security", "max-age=0"),
            ("content-security-policy", "default-src *"),
            ("x-request-id", "forged"),
            ("x-content-type-options", "sniff"),
            ("x-other-trace", "1"),
            ("x-crm-", "1"),
            ("x-crm-trace", "a\nb"),
            ("x-crm-trace", "caf\u{e9}"),
            ("bad name", "1"),
            ("etag", "3"),
            ("retry-after", "soon<script>"),
        ];
        for (name, value) in refused {
            assert!(kept(&[(name, value)]).is_empty(), "{name}: {value}");
        }
        for content_type in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/json, text/html",
            "application/json; charset",
            "application/json;x=\"a\\\"\"",
        ] {
            assert!(
                kept(&[("content-type", content_type)]).is_empty(),
                "{content_type}"
            );
        }
    }

    #[test]
    fn location_stays_under_the_modules_prefix() {
        for location in [
            "https://evil.test/v1/crm/x",
            "//evil.test/v1/crm",
            "/v1/crm//evil.test",
            "/v1/crmx/1",
            "/v1/jobs/1",
            "/v1/crm/../auth/login",
            "/v1/crm/%2E%2E/auth",
            "/v1/crm/\\evil.test",
            "/v1/crm/a b",
            "v1/crm/1",
        ] {
            assert!(kept(&[("location", location)]).is_empty(), "{location}");
        }
    }

    #[test]
    fn reserved_names_stay_reserved_whatever_the_slot() {
        let headers = pairs(&[("x-request-id", "forged"), ("x-request-trace", "1")]);
        assert_eq!(
            screen("request", &headers).unwrap(),
            pairs(&[("x-request-trace", "1")])
        );
    }

    #[test]
    fn the_caps_are_a_module_fault() {
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-crm-{i}"), "1".to_owned()))
            .collect();
        assert_eq!(
            screen("crm", &many).unwrap_err().code(),
            "module_bad_response"
        );
        let big = pairs(&[("x-crm-big", &"x".repeat(MAX_HEADER_BYTES))]);
        assert_eq!(
            screen("crm", &big).unwrap_err().code(),
            "module_bad_response"
        );
        assert!(screen("crm", &many[..MAX_HEADERS]).is_ok());
    }

    #[test]
    fn apply_replaces_the_defaults_and_adds_nosniff() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        apply(
            kept(&[
                ("content-type", "application/json"),
                ("x-crm-a", "1"),
                ("x-crm-a", "2"),
            ]),
            &mut headers,
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers.get_all("x-crm-a").iter().count(), 2);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
