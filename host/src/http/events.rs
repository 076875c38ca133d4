//! `GET /v1/events`: the tenant's event feed, for clients that poll rather than receive
//! webhooks (permission `events.read`).
//!
//! Oldest first from a cursor: `?after=<cursor>` continues where the last page ended, and
//! every answer carries a `next_cursor` (the same one when nothing is new), so a client polls
//! with it forever. The cursor is the event's place in the feed, taken when the dispatcher
//! fanned the event out (serialized per tenant), so a transaction that committed late never
//! lands behind a cursor already handed out. `types` takes event types and `prefix.*`
//! patterns, comma-separated. Events are kept for the outbox retention (30 days by default).

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::extract::{Json, Query, Tenant};
use super::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::auth::rbac::perm;
use crate::error::{Error, Result};
use crate::events::types::is_valid_pattern;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(feed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedParams {
    after: Option<String>,
    types: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(super) struct FeedEvent {
    id: Uuid,
    #[serde(rename = "type")]
    #[sqlx(rename = "event_type")]
    kind: String,
    occurred_at: DateTime<Utc>,
    source: String,
    #[sqlx(rename = "payload")]
    data: serde_json::Value,
    #[serde(skip)]
    feed_seq: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EventFeed)]
pub(super) struct Feed {
    items: Vec<FeedEvent>,
    /// Where the next poll starts; never absent.
    next_cursor: String,
}

async fn feed(mut ctx: Tenant, Query(params): Query<FeedParams>) -> Result<impl IntoResponse> {
    ctx.require(perm::EVENTS_READ)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(
            "invalid_query_parameter",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = params
        .after
        .as_deref()
        .map(decode)
        .transpose()?
        .unwrap_or(0);
    let (exact, prefixes) = match params.types.as_deref() {
        None => (None, None),
        Some(types) => {
            let (exact, prefixes) = type_filters(types)?;
            (Some(exact), Some(prefixes))
        }
    };
    let items: Vec<FeedEvent> = sqlx::query_as(
        "SELECT id, event_type, occurred_at, source, payload, feed_seq FROM event_outbox
         WHERE tenant_id = $1 AND feed_seq > $2
           AND ($3::text[] IS NULL OR event_type = ANY ($3) OR event_type LIKE ANY ($4))
         ORDER BY feed_seq LIMIT $5",
    )
    .bind(ctx.tx.tenant_id())
    .bind(after)
    .bind(exact)
    .bind(prefixes)
    .bind(limit)
    .fetch_all(ctx.tx.conn())
    .await?;
    let last = items.last().map_or(after, |event| event.feed_seq);
    Ok(Json(Feed {
        items,
        next_cursor: URL_SAFE_NO_PAD.encode(last.to_be_bytes()),
    }))
}

/// The exact types and the LIKE patterns of `prefix.*` filters (`_` escaped).
fn type_filters(types: &str) -> Result<(Vec<String>, Vec<String>)> {
    let mut exact = Vec::new();
    let mut prefixes = Vec::new();
    for pattern in types.split(',').filter(|pattern| !pattern.is_empty()) {
        if !is_valid_pattern(pattern) {
            return Err(Error::bad_request(
                "invalid_query_parameter",
                format!("`{pattern}` is not an event type or a `prefix.*` pattern"),
            ));
        }
        match pattern.strip_suffix('*') {
            Some(prefix) => prefixes.push(format!("{}_%", prefix.replace('_', "\\_"))),
            None => exact.push(pattern.to_owned()),
        }
    }
    Ok((exact, prefixes))
}

fn decode(cursor: &str) -> Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| {
            Error::bad_request("invalid_cursor", "the cursor is not one this API issued")
        })
}
