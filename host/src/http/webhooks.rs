//! `/v1/webhooks/endpoints`: a tenant's webhook endpoints, for `webhooks.manage`.
//!
//! The server generates each endpoint's signing secret and shows it twice only: in the answer
//! that creates the endpoint and in the answer of `rotate-secret` (after which the old secret
//! keeps signing for 24 h, so receivers can switch without losing a delivery). A URL must be
//! absolute https (http when `serve --outbound-allow-http`), without userinfo, at most 2 KiB,
//! and must not resolve to a refused address (`outbound`): 422 `destination_refused`. The
//! destination is checked again at every delivery, since DNS answers change.
//!
//! `POST .../{id}/test` sends a signed `webhook.test` event at once and answers the outcome;
//! it is logged like any attempt. Another tenant's endpoint is simply not found (404).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::etag::{check_if_match, etag_header};
use super::extract::{Json, Path, Query, Tenant};
use super::pagination::{Page, PageParams};
use crate::auth::rbac::perm;
use crate::error::{Error, Result, Validator};
use crate::events::deliveries;
use crate::events::subscribers::Subscriber;
use crate::events::types::is_valid_pattern;
use crate::outbound::{Outbound, OutboundError};
use crate::webhooks::signing::new_secret;
use crate::webhooks::store::load_endpoint;
use crate::webhooks::{TEST_EVENT, WebhookEvent, deliver_once, record_attempt};

const ENDPOINTS: &str = "/v1/webhooks/endpoints";
const MAX_URL_BYTES: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_FILTERS: usize = 50;
/// How long a rotated-out secret keeps signing.
const ROTATION_OVERLAP_HOURS: i32 = 24;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ENDPOINTS, get(list).post(create))
        .route(
            "/v1/webhooks/endpoints/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route(
            "/v1/webhooks/endpoints/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/v1/webhooks/endpoints/{id}/deliveries", get(deliveries))
        .route("/v1/webhooks/endpoints/{id}/test", post(test))
        .route(
            "/v1/webhooks/endpoints/{id}/deliveries/{event_id}/redeliver",
            post(redeliver),
        )
}

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
pub(super) struct EndpointView {
    id: Uuid,
    url: String,
    description: String,
    event_types: Vec<String>,
    enabled: bool,
    /// Until when the previous secret still signs (a rotation in progress).
    previous_secret_expires_at: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

const SELECT_VIEW: &str = "SELECT id, url, description, event_types, enabled,
        CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END
            AS previous_secret_expires_at,
        failing_since, disabled_reason, created_at, updated_at, version
    FROM webhook_endpoints";

async fn load_view(ctx: &mut Tenant, id: Uuid) -> Result<EndpointView> {
    sqlx::query_as(&format!("{SELECT_VIEW} WHERE tenant_id = $1 AND id = $2"))
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .fetch_optional(ctx.tx.conn())
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint"))
}

async fn list(mut ctx: Tenant, Query(page): Query<PageParams>) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let (limit, after) = page.resolve()?;
    let rows: Vec<EndpointView> = sqlx::query_as(&format!(
        "{SELECT_VIEW} WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(ctx.tx.tenant_id())
    .bind(after)
    .bind(limit + 1)
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}

async fn fetch(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let endpoint = load_view(&mut ctx, id).await?;
    Ok((
        [(header::ETAG, etag_header(endpoint.version))],
        Json(endpoint),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewWebhookEndpoint)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEndpoint {
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// The create answer: the endpoint and, this once, its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpointWithSecret)]
pub(super) struct WithSecret {
    #[serde(flatten)]
    endpoint: EndpointView,
    secret: String,
}

async fn create(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Json(body): Json<NewEndpoint>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let mut check = Validator::new();
    check_description(&mut check, &body.description);
    check_filters(&mut check, &body.event_types);
    check_url_shape(&mut check, &state.outbound, &body.url);
    check.finish()?;
    check_destination(&state.outbound, &body.url).await?;
    let id = Uuid::now_v7();
    let secret = new_secret();
    sqlx::query(
        "INSERT INTO webhook_endpoints (tenant_id, id, url, description, event_types, enabled, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(&body.url)
    .bind(body.description.trim())
    .bind(&body.event_types)
    .bind(body.enabled)
    .bind(&secret)
    .execute(ctx.tx.conn())
    .await?;
    let details = serde_json::json!({ "url": body.url, "event_types": body.event_types });
    ctx.audit("webhook_endpoint.created", "webhook_endpoint", id, details)
        .await?;
    let endpoint = load_view(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                HeaderValue::try_from(format!("{ENDPOINTS}/{id}")).map_err(anyhow::Error::from)?,
            ),
            (header::ETAG, etag_header(endpoint.version)),
        ],
        Json(WithSecret { endpoint, secret }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpointPatch)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointPatch {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
}

async fn update(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<EndpointPatch>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let mut check = Validator::new();
    if let Some(description) = &body.description {
        check_description(&mut check, description);
    }
    if let Some(filters) = &body.event_types {
        check_filters(&mut check, filters);
    }
    if let Some(url) = &body.url {
        check_url_shape(&mut check, &state.outbound, url);
    }
    check.finish()?;
    if let Some(url) = &body.url {
        check_destination(&state.outbound, url).await?;
    }
    lock(&mut ctx, id).await?;
    let current = load_view(&mut ctx, id).await?;
    check_if_match(&headers, current.version)?;
    // Enabling again starts a fresh record: the failures that disabled it are history.
    sqlx::query(
        "UPDATE webhook_endpoints SET
            url = coalesce($3, url),
            description = coalesce($4, description),
            event_types = coalesce($5, event_types),
            enabled = coalesce($6, enabled),
            disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
            failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END,
            version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(&body.url)
    .bind(body.description.as_deref().map(str::trim))
    .bind(&body.event_types)
    .bind(body.enabled)
    .execute(ctx.tx.conn())
    .await?;
    let details = serde_json::json!({
        "url": body.url,
        "description": body.description,
        "event_types": body.event_types,
        "enabled": body.enabled,
    });
    ctx.audit("webhook_endpoint.updated", "webhook_endpoint", id, details)
        .await?;
    let endpoint = load_view(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok((
        [(header::ETAG, etag_header(endpoint.version))],
        Json(endpoint),
    ))
}

/// Deletes the endpoint and its delivery log.
async fn remove(mut ctx: Tenant, Path(id): Path<Uuid>, headers: HeaderMap) -> Result<StatusCode> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    lock(&mut ctx, id).await?;
    let current = load_view(&mut ctx, id).await?;
    check_if_match(&headers, current.version)?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .execute(ctx.tx.conn())
        .await?;
    let details = serde_json::json!({ "url": current.url });
    ctx.audit("webhook_endpoint.deleted", "webhook_endpoint", id, details)
        .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret; the current one becomes the previous one and keeps signing for 24 h
/// (a still-live previous secret from an earlier rotation is dropped).
async fn rotate_secret(mut ctx: Tenant, Path(id): Path<Uuid>) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    lock(&mut ctx, id).await?;
    let secret = new_secret();
    sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,
            previous_secret_expires_at = now() + make_interval(hours => $4),
            version = version + 1, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(&secret)
    .bind(ROTATION_OVERLAP_HOURS)
    .execute(ctx.tx.conn())
    .await?;
    ctx.audit(
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint",
        id,
        serde_json::json!({}),
    )
    .await?;
    let endpoint = load_view(&mut ctx, id).await?;
    ctx.commit().await?;
    Ok((
        [(header::ETAG, etag_header(endpoint.version))],
        Json(WithSecret { endpoint, secret }),
    ))
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = WebhookAttempt)]
pub(super) struct Attempt {
    id: Uuid,
    event_id: Uuid,
    event_type: String,
    attempt: i32,
    status_code: Option<i32>,
    duration_ms: i32,
    error: Option<String>,
    success: bool,
    attempted_at: DateTime<Utc>,
}

/// The endpoint's delivery log, newest first.
async fn deliveries(
    mut ctx: Tenant,
    Path(id): Path<Uuid>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let (limit, before) = page.resolve()?;
    load_view(&mut ctx, id).await?;
    let rows: Vec<Attempt> = sqlx::query_as(
        "SELECT id, event_id, event_type, attempt, status_code, duration_ms, error,
                coalesce(status_code BETWEEN 200 AND 299, false) AS success, attempted_at
         FROM webhook_attempts
         WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id)))
}

/// Queues the event for the endpoint again, due now and with its attempts counted afresh
/// (after the receiver was fixed, say), whether its delivery is dead, delivered or was never
/// made. 202: the dispatcher delivers it; the attempts log shows how it went.
async fn redeliver(
    mut ctx: Tenant,
    Path((id, event_id)): Path<(Uuid, Uuid)>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    load_view(&mut ctx, id).await?;
    let subscriber = Subscriber::Webhook(id).key();
    if !deliveries::redeliver(&mut ctx.tx, event_id, &subscriber).await? {
        return Err(Error::not_found("event"));
    }
    ctx.audit(
        "webhook.redelivered",
        "webhook_endpoint",
        id,
        serde_json::json!({ "event_id": event_id }),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookTestAnswer)]
pub(super) struct TestAnswer {
    event_id: Uuid,
    attempt_id: Uuid,
    #[serde(flatten)]
    outcome: crate::webhooks::AttemptOutcome,
}

/// Sends a signed `webhook.test` event now, whether or not the endpoint is enabled or its
/// filters take it, and answers what came of it. The request's transaction stays open for
/// the delivery (at most the outbound timeout, 10 s), so that the attempt is logged with it.
async fn test(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::WEBHOOKS_MANAGE)?;
    let endpoint = load_endpoint(&mut ctx.tx, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint"))?;
    let event = WebhookEvent {
        id: Uuid::now_v7(),
        event_type: TEST_EVENT.to_owned(),
        occurred_at: Utc::now(),
        payload: serde_json::json!({ "webhook_id": id, "endpoint_id": id }),
    };
    let outcome = deliver_once(&state.outbound, &endpoint, &event).await;
    let attempt_id = record_attempt(&mut ctx.tx, id, &event, 1, &outcome).await?;
    ctx.commit().await?;
    Ok(Json(TestAnswer {
        event_id: event.id,
        attempt_id,
        outcome,
    }))
}

/// Locks the endpoint's row for a change; 404 when the tenant has no such endpoint.
async fn lock(ctx: &mut Tenant, id: Uuid) -> Result<()> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(ctx.tx.tenant_id())
    .bind(id)
    .fetch_optional(ctx.tx.conn())
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found("webhook endpoint"))
}

fn check_description(check: &mut Validator, description: &str) {
    check.check(
        description.chars().count() <= MAX_DESCRIPTION_CHARS,
        "description",
        format!("at most {MAX_DESCRIPTION_CHARS} characters"),
    );
}

fn check_filters(check: &mut Validator, filters: &[String]) {
    check.check(
        filters.len() <= MAX_FILTERS,
        "event_types",
        format!("at most {MAX_FILTERS} filters"),
    );
    for (index, filter) in filters.iter().enumerate() {
        check.check(
            is_valid_pattern(filter),
            &format!("event_types[{index}]"),
            "an event type (`job.completed`) or a prefix filter (`job.*`)",
        );
    }
}

/// What can be said of a URL without DNS: its length and shape, and an IP literal host.
/// A refused IP literal is left to [`check_destination`], which answers its own code.
fn check_url_shape(check: &mut Validator, client: &Outbound, url: &str) {
    if url.len() > MAX_URL_BYTES {
        check.push("url", format!("at most {MAX_URL_BYTES} bytes"));
        return;
    }
    if let Err(OutboundError::InvalidUrl(why)) = client.check_url(url) {
        check.push("url", why);
    }
}

/// Refuses a URL whose host is, or resolves to, an address the outbound client refuses
/// (422 `destination_refused`). A name that does not resolve now is accepted: it is
/// resolved and checked again at every delivery.
async fn check_destination(client: &Outbound, url: &str) -> Result<()> {
    let parsed = match client.check_url(url) {
        Ok(parsed) => parsed,
        Err(OutboundError::Refused(why)) => return Err(refused(why)),
        Err(other) => return Err(Error::bad_request("invalid_url", other.to_string())),
    };
    match client.resolve(&parsed).await {
        Err(OutboundError::Refused(why)) => Err(refused(why)),
        _ => Ok(()),
    }
}

fn refused(why: String) -> Error {
    Error::problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "destination_refused",
        format!("webhooks cannot be sent there: {why}"),
    )
}
