//! The HTTP surface: shared state, the router with its middleware stack, and the server
//! loop with graceful shutdown.
//!
//! Middleware, outermost first: request id (a client's checked, then set, then propagated
//! to the response), a tracing span per request, panic capture (a panic is a 500 problem,
//! not a dropped connection), `Connection: close` after a body the handler did not read, the
//! request timeout, the body size limit, reading the body before the handler, and metrics (a
//! route layer: it sees the route template).

pub mod api_keys;
pub mod audit;
pub mod auth;
#[cfg(feature = "bench-baseline")]
pub mod baseline;
pub mod body_first;
pub mod conformance;
pub mod console;
pub mod custom_fields;
pub mod docs;
pub mod etag;
pub mod events;
pub mod extensions;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod imports;
pub mod module_config;
pub mod module_data;
pub mod module_headers;
pub mod modules;
pub mod openapi;
pub mod openapi_custom;
pub mod openapi_modules;
pub mod openapi_webhooks;
pub mod operator;
pub mod pagination;
pub mod passwords;
pub mod pay_links;
pub mod payments;
pub mod problem;
pub mod problem_catalog;
pub mod problem_pages;
pub mod publisher_modules;
pub mod publishers;
pub mod request_id;
pub mod roles;
pub mod scheduled_tasks;
pub mod server;
pub mod shadow;
pub mod unread_body;
pub mod usage;
pub mod users;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::jwt::TokenKeys;
use crate::auth::throttle::ThrottleSettings;
use crate::registry::Registry;
use crate::tenancy::share::TenantShare;

/// Per-request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub request_timeout: Duration,
    pub statement_timeout: Duration,
    pub body_limit: usize,
    pub refresh_ttl: Duration,
}

pub struct Shared {
    pub pool: PgPool,
    pub tokens: TokenKeys,
    pub limits: Limits,
    pub throttle: ThrottleSettings,
    pub operator_token_digest: [u8; 32],
    pub metrics: PrometheusHandle,
    pub registry: Arc<Registry>,
    /// Serve the benchmark's native reference route (`serve --bench-baseline`).
    #[cfg(feature = "bench-baseline")]
    pub bench_baseline: bool,
    /// Each tenant's share of open tenant transactions (`serve --tenant-max-transactions`).
    pub tenant_transactions: TenantShare,
    /// The hardened client for webhooks and other outbound requests.
    pub outbound: crate::outbound::Outbound,
    /// Stripe: the platform key and webhook secrets (`payments`).
    pub stripe: crate::payments::Stripe,
    /// Reset and invitation mail, when SMTP is configured (`mail`).
    pub mailer: crate::mail::Mailer,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(auth::routes())
        .merge(users::routes())
        .merge(passwords::routes())
        .merge(roles::routes())
        .merge(audit::routes())
        .merge(events::routes())
        .merge(api_keys::routes())
        .merge(operator::routes())
        .merge(publishers::routes())
        .merge(publisher_modules::routes())
        .merge(conformance::routes())
        .merge(openapi::routes())
        .merge(docs::routes())
        .merge(console::routes())
        .merge(problem_pages::routes())
        .merge(modules::routes())
        .merge(shadow::routes())
        .merge(module_data::routes())
        .merge(module_config::routes())
        .merge(custom_fields::routes())
        .merge(imports::routes())
        .merge(extensions::routes())
        .merge(webhooks::routes())
        .merge(payments::routes())
        .merge(pay_links::routes())
        .merge(scheduled_tasks::routes())
        .merge(usage::routes());
    // Benchmark-only code stays out of the production server unless the build asks for it.
    #[cfg(feature = "bench-baseline")]
    let routes = routes.merge(baseline::routes(state.bench_baseline));
    routes
        // A route layer sees the matched route template, so metrics label by route.
        .route_layer(middleware::from_fn(record_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read before any handler opens a tenant transaction (`body_first`).
        .layer(middleware::from_fn_with_state(limits.body_limit, body_first::read_body_first))
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(middleware::from_fn_with_state(limits.body_limit, refuse_oversized))
        .layer(middleware::from_fn_with_state(limits.request_timeout, request_timeout))
        .layer(middleware::from_fn(unread_body::close_if_unread))
        .layer(CatchPanicLayer::custom(|_| {
            problem::response(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred", &[])
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(request_id::drop_unacceptable))
        .with_state(state)
}

async fn not_found() -> Response {
    problem::response(StatusCode::NOT_FOUND, "not_found", "no such route", &[])
}

async fn method_not_allowed() -> Response {
    problem::response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
        &[],
    )
}

/// Largest oversized body the server still reads (and discards) before answering 413, so that
/// an ordinary client sees the problem response instead of a reset connection.
const DRAIN_LIMIT: u64 = 16 << 20;

/// Refuses a body whose declared length is over the limit with 413 problem+json, up front.
/// (Bodies without a declared length are limited where they are read, by `DefaultBodyLimit`.)
async fn refuse_oversized(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Component uploads carry their own, larger limit.
    let exempt = modules::is_upload_path(request.uri().path());
    match declared {
        Some(length) if length > limit as u64 && !exempt => {
            if length <= DRAIN_LIMIT {
                let drain = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT as usize);
                let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
            }
            problem::response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than the server accepts",
                &[],
            )
        }
        _ => next.run(request).await,
    }
}

async fn request_timeout(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::response(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            "the request took longer than the server allows",
            &[],
        ),
    }
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
