//! A publisher's modules: upload (`POST /v1/publisher/modules?notes=`, the component as the
//! body, checked by the one upload path every upload takes, `Registry::upload`), its versions
//! with their validation, conformance and the tenants that run them, and the private shares
//! that let named tenants see and bind a version before the operator approves it for all.
//! A version of another publisher is answered exactly as one that does not exist (404).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path, Query};
use super::modules::{ComponentBody, PUBLISHER_UPLOAD_PATH};
use super::operator::{self, Share, ShareRequest};
use super::pagination::Page;
use super::publishers::Publisher;
use crate::error::{Error, FieldError, Result};
use crate::registry::installs::{self, Running};
use crate::registry::publishers::Caller;
use crate::registry::{Upload, Uploader, Version, VersionRecord};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PUBLISHER_UPLOAD_PATH, get(list).post(upload))
        .route("/v1/publisher/modules/{digest}", get(show))
        .route("/v1/publisher/modules/{digest}/shares", post(share))
        .route(
            "/v1/publisher/modules/{digest}/shares/{tenant}",
            delete(unshare),
        )
}

/// Notes longer than this are not notes.
const MAX_NOTES_CHARS: usize = 2000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadParams {
    notes: Option<String>,
}

async fn upload(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Query(params): Query<UploadParams>,
    ComponentBody(body): ComponentBody,
) -> Result<impl IntoResponse> {
    let notes = params.notes.unwrap_or_default();
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(Error::validation(vec![FieldError::new(
            "notes",
            format!("must be at most {MAX_NOTES_CHARS} characters"),
        )]));
    }
    let mut record = state
        .registry
        .upload(Upload {
            component: &body,
            uploader: Uploader::Publisher {
                id: caller.publisher.id,
                namespace: &caller.publisher.namespace,
            },
            notes: &notes,
        })
        .await?;
    record.conformance = crate::conformance::on_upload(&state, &record.version).await?;
    tracing::info!(publisher = %caller.publisher.namespace, name = %record.version.name,
        version = %record.version.version, digest = %record.version.digest, "module uploaded");
    Ok((StatusCode::CREATED, Json(record)))
}

/// A version with the tenants that run it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublisherModuleVersion)]
pub(super) struct Listed {
    #[serde(flatten)]
    record: VersionRecord,
    tenants: Running,
}

async fn list(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
) -> Result<impl IntoResponse> {
    let versions = state
        .registry
        .versions_of_publisher(caller.publisher.id)
        .await?;
    let names: HashMap<String, String> = versions
        .iter()
        .map(|v| (v.digest.clone(), v.name.clone()))
        .collect();
    let mut running =
        installs::running(&state.pool, &names, state.limits.statement_timeout).await?;
    let mut items = Vec::with_capacity(versions.len());
    for version in versions {
        let tenants = running.remove(&version.digest).unwrap_or_default();
        items.push(Listed {
            record: state.registry.version_record(version).await?,
            tenants,
        });
    }
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn show(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    Ok(Json(state.registry.version_record(version).await?))
}

/// The publisher's own version by digest or `name@version`; 404 for anything else.
async fn own_version(state: &AppState, caller: &Caller, reference: &str) -> Result<Version> {
    match state.registry.find(reference).await {
        Ok(version) if version.publisher_id == Some(caller.publisher.id) => Ok(version),
        Ok(_) => Err(Error::not_found("module version")),
        Err(error) => Err(error),
    }
}

async fn share(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Json(body): Json<ShareRequest>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    let tenants = operator::tenant_ids(&state, &[body.tenant.as_str()], "tenant").await?;
    let by = format!("publisher:{}", caller.publisher.namespace);
    operator::share_with(&state, &version.digest, &tenants, &by).await?;
    Ok((
        StatusCode::CREATED,
        Json(Share {
            digest: version.digest,
            tenant: body.tenant,
        }),
    ))
}

async fn unshare(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path((reference, tenant)): Path<(String, String)>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    operator::withdraw_share(&state, &version.digest, &tenant).await
}
