//! `/v1/audit`: the tenant's audit log, newest first, for `audit.read`.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::AppState;
use super::extract::{Json, Query, Tenant};
use super::pagination::{Page, PageParams};
use crate::auth::rbac::perm;
use crate::error::Result;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub(super) struct Entry {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_user_id: Option<Uuid>,
    /// Set when the actor used an API key (`actor_user_id` is then the key's creator).
    actor_api_key_id: Option<Uuid>,
    action: String,
    target_type: Option<String>,
    target_id: Option<Uuid>,
    request_id: Option<String>,
    details: serde_json::Value,
}

async fn list(mut ctx: Tenant, Query(page): Query<PageParams>) -> Result<impl IntoResponse> {
    ctx.require(perm::AUDIT_READ)?;
    let (limit, before) = page.resolve()?;
    let rows: Vec<Entry> = sqlx::query_as(
        "SELECT id, occurred_at, actor_user_id, actor_api_key_id, action, target_type, target_id, request_id, details
         FROM audit_log WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(ctx.tx.tenant_id())
    .bind(before)
    .bind(limit + 1)
    .fetch_all(ctx.tx.conn())
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}
