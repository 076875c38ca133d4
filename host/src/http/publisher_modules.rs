//! A publisher's modules: upload (`POST /v1/publisher/modules?notes=`, the component as the
//! body, checked by the one upload path every upload takes, `Registry::upload`), its versions
//! with their validation, conformance and the tenants that run them, and the private shares
//! that let named tenants see and bind a version before the operator approves it for all
//! (recorded by slug, answered alike whether or not the tenant exists: `registry::shares`).
//! A version of another publisher is answered exactly as one that does not exist (404).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path, Query};
use super::modules::{ComponentBody, PUBLISHER_UPLOAD_PATH};
use super::operator::{Share, ShareRequest};
use super::pagination::{CursorKey, Page, PageParams};
use super::publishers::Publisher;
use crate::error::{Error, FieldError, Result, Validator};
use crate::registry::installs::{self, Running};
use crate::registry::publishers::Caller;
use crate::registry::shares;
use crate::registry::{Upload, Uploader, Version, VersionKey, VersionRecord};
use crate::tenancy::provision::check_slug;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PUBLISHER_UPLOAD_PATH, get(list).post(upload))
        .route("/v1/publisher/modules/{digest}", get(show))
        .route(
            "/v1/publisher/modules/{digest}/shares",
            get(list_shares).post(share),
        )
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

/// A version's cursor: its publication time in microseconds, then its digest's 64 hex digits.
impl CursorKey for VersionKey {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.published_at.timestamp_micros().to_be_bytes().to_vec();
        bytes.extend_from_slice(self.digest.as_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (micros, digest) = bytes.split_first_chunk::<8>()?;
        let digest = std::str::from_utf8(digest).ok()?;
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        (digest.len() == 64 && digest.chars().all(hex)).then_some(())?;
        Some(Self {
            published_at: chrono::DateTime::from_timestamp_micros(i64::from_be_bytes(*micros))?,
            digest: digest.to_owned(),
        })
    }
}

async fn list(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let (limit, after) = page.resolve_keyed::<VersionKey>()?;
    let rows = state
        .registry
        .versions_of_publisher(caller.publisher.id, after.as_ref(), limit + 1)
        .await?;
    let Page {
        items: versions,
        next_cursor,
    } = Page::from_keyed_rows(rows, limit, VersionKey::of);
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
    Ok(Json(Page { items, next_cursor }))
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

/// Shares a version with the tenant of a slug. The answer is the same whether or not such a
/// tenant exists (`registry::shares`): only a slug that no tenant could have is refused.
async fn share(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Json(body): Json<ShareRequest>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    let mut check = Validator::new();
    check_slug(&mut check, "tenant", &body.tenant);
    check.finish()?;
    shares::share_by_slug(
        &state.pool,
        &caller.publisher,
        &version.digest,
        &body.tenant,
        state.limits.statement_timeout,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Share {
            digest: version.digest,
            tenant: body.tenant,
        }),
    ))
}

/// The shares the publisher recorded for its version, by slug as it named them.
async fn list_shares(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    let (limit, after) = page.resolve()?;
    let rows = shares::list_by_slug(&state.pool, &version.digest, after, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |share| share.id)))
}

/// Withdraws the publisher's own share: 204, or 404 when it recorded none, whether or not the
/// tenant exists.
async fn unshare(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path((reference, tenant)): Path<(String, String)>,
) -> Result<impl IntoResponse> {
    let version = own_version(&state, &caller, &reference).await?;
    let withdrawn = shares::withdraw_by_slug(
        &state.pool,
        &caller.publisher,
        &version.digest,
        &tenant,
        state.limits.statement_timeout,
    )
    .await?;
    match withdrawn {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(Error::not_found("share")),
    }
}
