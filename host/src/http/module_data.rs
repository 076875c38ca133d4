//! `GET /v1/tenant/module-data?module=NAME`: the tenant's rows of a module's collections, as
//! JSON lines (`application/x-ndjson`, one `{"collection", "id", "version", "values"}` per
//! row), streamed a page at a time from one tenant transaction. What a tenant takes with it
//! before the retention period after leaving a module ends (`storage::collections::retention`).
//! By module name rather than slot: the module may no longer fill any slot of the tenant.
//! Only modules the tenant may bind (the built-ins, uploads shared with it) are found; any
//! other name is 404 whether it exists or not.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::extract::{Query, Tenant};
use crate::auth::rbac::perm;
use crate::error::{Error, Result};
use crate::storage::collections::{retention, schema_name};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/tenant/module-data", get(export))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    module: String,
}

async fn export(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Query(params): Query<ExportParams>,
) -> Result<Response> {
    ctx.require(perm::MODULES_MANAGE)?;
    let visible = state
        .registry
        .bindable_versions(&mut ctx.tx)
        .await?
        .iter()
        .any(|version| version.name == params.module);
    if !visible {
        return Err(Error::not_found("module"));
    }
    let schema = schema_name(&params.module);
    let collections = state.registry.collections_in(&schema);
    let lines = retention::export(ctx.tx, schema, collections);
    Ok(([(CONTENT_TYPE, "application/x-ndjson")], Body::new(lines)).into_response())
}
