//! The operator's view of conformance: a version's full result
//! (`GET /v1/operator/modules/{version}/conformance`), a rerun (`POST` the same path: 202,
//! pending) and an override (`POST .../conformance/override` with `{"reason"}`), which makes a
//! failed or pending version bindable and records who and why. `{version}` is a digest or
//! `name@version`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path};
use super::operator::Operator;
use crate::conformance::{self, results};
use crate::error::{Error, FieldError, Result};

/// Who an override names: the operator has one shared token, not a user of its own.
const OVERRIDDEN_BY: &str = "operator";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/operator/modules/{version}/conformance",
            get(show).post(rerun),
        )
        .route(
            "/v1/operator/modules/{version}/conformance/override",
            post(override_verdict),
        )
}

/// Every step of the version's last run, or its summary when it has none.
async fn show(
    _: Operator,
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<impl IntoResponse> {
    let version = state.registry.find(&reference).await?;
    Ok(Json(ConformanceAnswer(
        match results::record(&state.pool, &version.digest).await? {
            Some(record) => serde_json::to_value(record).map_err(anyhow::Error::from)?,
            None => conformance::summary(&state.pool, &version.digest).await?,
        },
    )))
}

async fn rerun(
    _: Operator,
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<impl IntoResponse> {
    let version = state.registry.find(&reference).await?;
    conformance::rerun(&state, &version).await?;
    let summary = conformance::summary(&state.pool, &version.digest).await?;
    Ok((StatusCode::ACCEPTED, Json(ConformanceAnswer(summary))))
}

/// A version's conformance as `conformance::results` builds it: its summary, or every step of
/// its last run.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(as = Conformance, value_type = Object)]
pub(super) struct ConformanceAnswer(serde_json::Value);

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ConformanceOverride)]
#[serde(deny_unknown_fields)]
pub(super) struct OverrideRequest {
    reason: String,
}

async fn override_verdict(
    _: Operator,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Json(body): Json<OverrideRequest>,
) -> Result<impl IntoResponse> {
    let reason = body.reason.trim();
    if !(1..=1000).contains(&reason.chars().count()) {
        return Err(Error::validation(vec![FieldError::new(
            "reason",
            "must be 1 to 1000 characters",
        )]));
    }
    let version = state.registry.find(&reference).await?;
    if !results::override_verdict(&state.pool, &version.digest, OVERRIDDEN_BY, reason).await? {
        return Err(Error::conflict(
            "conformance_not_applicable",
            "this version has no conformance result to override",
        ));
    }
    tracing::warn!(digest = %version.digest, name = %version.name, version = %version.version, reason, "conformance overridden by the operator");
    Ok(Json(ConformanceAnswer(
        conformance::summary(&state.pool, &version.digest).await?,
    )))
}
