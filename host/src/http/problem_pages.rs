//! `GET /problems` and `GET /problems/{code}`: the pages every problem's `type` points at.
//!
//! One HTML page per code of the host's catalog (`problem_catalog`): what it means, the status
//! it comes with, what to do. A well-formed code the host does not know belongs to a module
//! (modules answer their own problems, such as `assignment_conflict`): its page says so and
//! points at the module's documentation in the API reference. No login: the pages hold
//! nothing tenant-specific.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::extract::Path;
use super::problem_catalog::{CODES, ProblemCode, find};
use crate::error::{Error, Result};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/problems", get(index))
        .route("/problems/{code}", get(page))
}

/// Where a problem's `type` points: relative to the server that answered, since the host
/// has no public-URL setting (a problem's `type` may be a relative reference, RFC 9457 3.1.1).
pub fn type_uri(code: &str) -> String {
    format!("/problems/{code}")
}

async fn index() -> Response {
    let rows: String = CODES
        .iter()
        .map(|entry| {
            format!(
                "<tr><td><a href=\"/problems/{code}\"><code>{code}</code></a></td><td>{status}</td><td>{meaning}</td></tr>\n",
                code = entry.code,
                status = entry.status,
                meaning = escape(entry.meaning),
            )
        })
        .collect();
    html(
        "Problem codes",
        &format!(
            "<p>Every error answer is <code>application/problem+json</code> with a stable \
             <code>code</code>; these are the host's. Modules define codes of their own.</p>\n\
             <table><tr><th>code</th><th>status</th><th>meaning</th></tr>\n{rows}</table>"
        ),
    )
}

async fn page(Path(code): Path<String>) -> Result<Response> {
    let well_formed = (1..=64).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(Error::not_found("problem code"));
    }
    Ok(match find(&code) {
        Some(entry) => known(entry),
        None => html(
            &code,
            &format!(
                "<p><code>{code}</code> is not one of the host's codes: a module defines it. \
                 The module serving the route that answered it documents it; see the \
                 <a href=\"/docs\">API reference</a> for the route, and the answer's \
                 <code>detail</code> for what went wrong.</p>"
            ),
        ),
    })
}

fn known(entry: &ProblemCode) -> Response {
    let reason = StatusCode::from_u16(entry.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    html(
        entry.code,
        &format!(
            "<dl><dt>Status</dt><dd>{status} {reason}</dd>\
             <dt>What it means</dt><dd>{meaning}</dd>\
             <dt>What to do</dt><dd>{remedy}</dd></dl>\
             <p>The answer's <code>detail</code> says more about the case at hand.</p>",
            status = entry.status,
            meaning = escape(entry.meaning),
            remedy = escape(entry.remedy),
        ),
    )
}

fn html(title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} - VeroField problems</title></head>\n<body>\
         <p><a href=\"/problems\">All problem codes</a> · <a href=\"/docs\">API reference</a></p>\
         <h1><code>{title}</code></h1>\n{body}\n</body></html>\n",
        title = escape(title),
    );
    let mut response = page.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
