//! CSV import and export routes (`crate::imports` does the work).
//!
//! `POST /v1/imports?kind=customers|technicians|service_types&dry_run=true|false&mapping=JSON`
//! with a `text/csv` body of at most 32 MiB: checks the header against the kind's columns
//! (422 `import_columns_invalid` naming each wrong column), records the job and answers 202
//! with it; the rows run in the background. `GET /v1/imports/{id}` answers its progress and
//! bad rows (and takes up a job whose server stopped). Both need `settings.manage` and the
//! permission of the module route that creates the kind's records (one a partner module in
//! the slot may name differently: it is read from the route, not assumed).
//!
//! `GET /v1/exports/{kind}.csv` streams the kind's records; it needs only the module's read
//! permission, since it shows what the caller can already list.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::extract::{Path, Query, Tenant};
use crate::auth::rbac::perm;
use crate::error::{Error, FieldError, Result};
use crate::imports::{self, Kind, MAX_FILE_BYTES, columns, export, file, job};
use crate::registry::acting::ActingUser;

pub const IMPORT_PATH: &str = "/v1/imports";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(IMPORT_PATH, post(start))
        .route("/v1/imports/{id}", get(show))
        .route("/v1/exports/{file}", get(export_csv))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    kind: String,
    #[serde(default)]
    dry_run: bool,
    /// A JSON object: the file's header -> the column it fills (`""` ignores it).
    mapping: Option<String>,
}

async fn start(State(state): State<AppState>, request: Request) -> Result<Response> {
    let (mut parts, body) = request.into_parts();
    let bytes = read_csv(&parts.headers, body).await?;
    let Query(params) = Query::<ImportParams>::from_request_parts(&mut parts, &state).await?;
    let mut ctx = Tenant::from_request_parts(&mut parts, &state).await?;
    ctx.require(perm::SETTINGS_MANAGE)?;
    let kind = Kind::parse(&params.kind).ok_or_else(|| {
        Error::validation(vec![FieldError::new(
            "kind",
            "must be customers, technicians or service_types",
        )])
    })?;
    let mapping: BTreeMap<String, String> = match &params.mapping {
        None => BTreeMap::new(),
        Some(text) => serde_json::from_str(text).map_err(|_| {
            Error::validation(vec![FieldError::new(
                "mapping",
                "must be a JSON object of file headers to column names",
            )])
        })?,
    };
    let acting = ActingUser::of(&state, ctx.principal.clone());
    acting.require("POST", kind.collection()).await?;
    let definitions = match kind.entity() {
        Some(entity) => crate::custom_fields::load(ctx.tx.conn(), Some(entity)).await?,
        None => Vec::new(),
    };
    let columns = columns::of(kind, &definitions);
    let (layout, total_rows) = file::layout(&bytes, &columns, &mapping)?;
    let spec = job::Spec {
        id: Uuid::now_v7(),
        kind,
        dry_run: params.dry_run,
        layout,
    };
    job::insert(&mut ctx.tx, &spec, &mapping, &bytes, total_rows).await?;
    let created = imports::load(&mut ctx.tx, spec.id).await?;
    ctx.commit().await?;
    job::spawn(acting, spec, bytes, 0);
    Ok((StatusCode::ACCEPTED, axum::Json(created)).into_response())
}

/// The body, which must be `text/csv` of at most [`MAX_FILE_BYTES`] (413 before reading a
/// larger declared length, or when the stream passes it).
async fn read_csv(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("text/csv") {
        return Err(Error::problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "an import's body is text/csv",
        ));
    }
    let too_large = || {
        Error::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("an import file may be at most {} MiB", MAX_FILE_BYTES >> 20),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_FILE_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_FILE_BYTES)
        .await
        .map_err(|_| too_large())
}

async fn show(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    let found = imports::load(&mut ctx.tx, id).await?;
    job::resume_if_orphaned(&state, &mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(axum::Json(found).into_response())
}

async fn export_csv(
    ctx: Tenant,
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response> {
    let kind = file
        .strip_suffix(".csv")
        .and_then(Kind::parse)
        .ok_or_else(|| Error::not_found("export"))?;
    let acting = ActingUser::of(&state, ctx.principal);
    let body = export::stream(acting, ctx.tx, kind).await?;
    let disposition = format!("attachment; filename=\"{}.csv\"", kind.as_str());
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        Body::new(body),
    )
        .into_response())
}
