//! `GET /v1/tenant/usage?from=&to=&group_by=hour|day|module`: what the tenant's module calls
//! used (`usage`), for `modules.manage` (the admins who choose the modules that use it).
//! `GET /v1/operator/usage?tenant=<slug>&from=&to=&group_by=`: the same figures for the
//! operator, read in that tenant's transaction like every tenant read.
//!
//! Figures are those flushed: a host's last few seconds (`serve --usage-flush-ms`) are not in
//! them yet.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;

use super::AppState;
use super::extract::{Json, Query, Tenant};
use super::operator::{Operator, tenant_tx};
use crate::auth::rbac::perm;
use crate::error::{Error, FieldError, Result};
use crate::usage::report::{self, UsageQuery, Window};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant/usage", get(for_tenant))
        .route("/v1/operator/usage", get(for_operator))
}

async fn for_tenant(mut ctx: Tenant, Query(query): Query<UsageQuery>) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    if query.tenant.is_some() {
        return Err(Error::validation(vec![FieldError::new(
            "tenant",
            "names a tenant only in the operator's view; this is your own tenant's usage",
        )]));
    }
    let window = Window::parse(&query, Utc::now())?;
    Ok(Json(report::read(&mut ctx.tx, window).await?))
}

async fn for_operator(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<UsageQuery>,
) -> Result<impl IntoResponse> {
    let window = Window::parse(&query, Utc::now())?;
    let Some(slug) = query.tenant.as_deref() else {
        return Err(Error::validation(vec![FieldError::new(
            "tenant",
            "is required: the tenant's slug",
        )]));
    };
    let mut tx = tenant_tx(&state, slug).await?;
    let report = report::read(&mut tx, window).await?;
    tx.commit().await?;
    Ok(Json(report))
}
