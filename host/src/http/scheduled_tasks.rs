//! `GET /v1/scheduled-tasks`: the tenant's scheduled tasks (`scheduler`) with their schedule,
//! the tenant's time zone, next and last run, last error and run count, for `modules.manage`
//! (the tasks come from the modules the tenant runs, and the admins who choose those hold it).
//! `GET /v1/operator/scheduled-tasks?tenant=<slug>`: the same list for the operator.
//!
//! Not paginated: a tenant has the host's tasks and those its modules declare, a short list
//! bounded by its slots, like `GET /v1/modules`.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Query, Tenant};
use super::operator::{Operator, tenant_tx};
use crate::auth::rbac::perm;
use crate::error::Result;
use crate::tenancy::TenantTx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/scheduled-tasks", get(list))
        .route("/v1/operator/scheduled-tasks", get(list_for_operator))
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ScheduledTask)]
pub(super) struct TaskView {
    name: String,
    kind: String,
    slot: Option<String>,
    task: String,
    schedule: String,
    timezone: String,
    enabled: bool,
    next_run_at: DateTime<Utc>,
    last_run_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_duration_ms: Option<i64>,
    runs: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ScheduledTasks)]
pub(super) struct Tasks {
    items: Vec<TaskView>,
}

async fn tasks(tx: &mut TenantTx) -> Result<Tasks> {
    let items = sqlx::query_as(
        "SELECT s.name, s.kind, s.slot, s.task, s.schedule, t.time_zone AS timezone, s.enabled,
                s.next_run_at, s.last_run_at, s.last_error, s.last_duration_ms, s.runs
         FROM scheduled_tasks s JOIN tenants t ON t.id = s.tenant_id
         WHERE s.tenant_id = $1 ORDER BY s.name",
    )
    .bind(tx.tenant_id())
    .fetch_all(tx.conn())
    .await?;
    Ok(Tasks { items })
}

async fn list(mut ctx: Tenant) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    Ok(Json(tasks(&mut ctx.tx).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorQuery {
    /// The tenant's slug.
    tenant: String,
}

async fn list_for_operator(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<OperatorQuery>,
) -> Result<impl IntoResponse> {
    let mut tx = tenant_tx(&state, &query.tenant).await?;
    let tasks = tasks(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(tasks))
}
