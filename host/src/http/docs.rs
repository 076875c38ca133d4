//! `/docs`: the browsable API reference, and `/docs/openapi.json`, the document it shows
//! before the reader gives a credential.
//!
//! The page is three small hand-written files (`host/assets/docs/`) compiled into the binary:
//! nothing is fetched from a CDN or any other host, and a strict Content-Security-Policy says
//! so to the browser. It renders the same OpenAPI document clients get: without a credential
//! `/docs/openapi.json` (the host's routes only, no login needed, nothing tenant-specific);
//! with an access token or API key typed into the page, `/v1/openapi.json` as that caller's
//! tenant sees it, module routes included. Each operation shows its parameters, body and
//! answers, with an example request and answer generated from the schemas.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

const INDEX: &str = include_str!("../../assets/docs/index.html");
const SCRIPT: &str = include_str!("../../assets/docs/docs.js");
const STYLE: &str = include_str!("../../assets/docs/docs.css");

/// Only this server's own files and API; no inline script, no framing.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/docs",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/docs/docs.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/docs/docs.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/docs/openapi.json", get(super::openapi::public_document))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    static_file(body.into_response(), content_type, POLICY)
}

/// The headers of a file of the server's own pages (this reference, the console): its type,
/// the page's Content-Security-Policy, no sniffing, and `no-cache` so a new binary's files are
/// used at once.
pub(super) fn static_file(
    mut response: Response,
    content_type: &'static str,
    policy: &'static str,
) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
