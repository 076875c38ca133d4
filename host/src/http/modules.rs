//! Modules over HTTP: the dispatch of `/v1/{slot}/...` to the tenant's module, and the
//! registry endpoints (list versions, see and change the tenant's bindings, roll back, and
//! the operator's upload).
//!
//! A module request runs in the caller's tenant transaction: the host resolves the slot's
//! version, matches the route in the module's manifest, checks the route's permission before
//! the module runs, then calls it with the store and outbox bound to that transaction. A
//! response below 400 commits; an error response, a trap or a limit rolls everything back.
//! A `POST` with an `Idempotency-Key` replays the first answer to that key ([`idempotency`]).
//! Each request resolves the binding afresh, so a rebind applies to the next request while
//! requests in flight finish on the version they started with.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path, Query, Tenant};
use super::idempotency::{self, Claim, IdempotencyKey, REPLAYED_HEADER, StoredAnswer};
use super::module_headers;
use super::operator::{self, Operator};
use super::pagination::Page;
use crate::auth::rbac::perm;
use crate::error::{Error, Result, Validator};
use crate::registry::{self, ModuleRequest, Upload, Uploader, Version, consent};
use crate::runtime::Caller;
use crate::runtime::manifest::Grants;
use crate::storage::collections::retention;

/// Where the operator uploads components.
pub const UPLOAD_PATH: &str = "/v1/operator/modules";
/// Where a publisher uploads components.
pub const PUBLISHER_UPLOAD_PATH: &str = "/v1/publisher/modules";
/// Largest component anyone may upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// Whether a path takes uploads with their own, larger limit (components: [`ComponentBody`];
/// CSV imports: `imports::MAX_FILE_BYTES`), read by their handler before any tenant
/// transaction opens, so the general body handling passes them by.
pub fn is_upload_path(path: &str) -> bool {
    path == UPLOAD_PATH
        || path == super::imports::IMPORT_PATH
        || path == PUBLISHER_UPLOAD_PATH
        || path == super::extensions::EXTENSION_UPLOAD_PATH
}

/// An uploaded component's bytes, at most 64 MiB: a larger declared length is 413 before any
/// byte is read, and a body that turns out larger is 413 when it passes the cap.
pub struct ComponentBody(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ComponentBody {
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            Error::problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "a component may be at most {} MiB",
                    MAX_COMPONENT_BYTES >> 20
                ),
            )
        };
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_COMPONENT_BYTES as u64) {
            return Err(too_large());
        }
        axum::body::to_bytes(req.into_body(), MAX_COMPONENT_BYTES)
            .await
            .map(Self)
            .map_err(|_| too_large())
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/modules", get(list_versions))
        .route("/v1/modules/{name}/{version}", get(show_version))
        .route(
            "/v1/modules/{namespace}/{name}/{version}",
            get(show_namespaced_version),
        )
        .route("/v1/tenant/modules", get(list_bindings))
        .route("/v1/tenant/modules/{slot}", axum::routing::put(rebind))
        .route("/v1/tenant/modules/{slot}/rollback", post(rollback))
        .route(UPLOAD_PATH, post(upload))
        .route("/v1/{slot}", any(dispatch))
        .route("/v1/{slot}/{*rest}", any(dispatch))
}

/// The versions the tenant may bind: the built-ins and the uploads shared with it.
async fn list_versions(
    mut ctx: Tenant,
    State(state): State<AppState>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    Ok(Json(Page {
        items: state.registry.bindable_versions(&mut ctx.tx).await?,
        next_cursor: None,
    }))
}

/// What a tenant admin reads before binding a version: who publishes it, what it does and
/// exactly what it may touch (the `grants` to accept on bind), and its conformance.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ModuleVersionDetail)]
pub(super) struct VersionDetail {
    #[serde(flatten)]
    version: Version,
    publisher: Option<registry::publishers::Publisher>,
    description: Option<String>,
    /// What it may touch: tables, capabilities, permissions, events, limits, collections.
    #[schema(value_type = Object)]
    grants: Grants,
    conformance: serde_json::Value,
    /// Whether binding it needs `accept` (uploads do; built-ins do not).
    consent_required: bool,
}

async fn show_version(
    ctx: Tenant,
    state: State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<impl IntoResponse> {
    version_detail(ctx, state, format!("{name}@{version}")).await
}

async fn show_namespaced_version(
    ctx: Tenant,
    state: State<AppState>,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<impl IntoResponse> {
    version_detail(ctx, state, format!("{namespace}/{name}@{version}")).await
}

/// A version this tenant may bind; 404 for every other, whether it exists or not.
async fn version_detail(
    mut ctx: Tenant,
    State(state): State<AppState>,
    reference: String,
) -> Result<Json<VersionDetail>> {
    ctx.require(perm::MODULES_MANAGE)?;
    let version = state
        .registry
        .bindable(&mut ctx.tx, &reference)
        .await?
        .ok_or_else(|| Error::not_found("module version"))?;
    let manifest = state
        .registry
        .module(&version.digest)
        .await?
        .manifest
        .clone();
    let publisher = match version.publisher_id {
        Some(id) => registry::publishers::by_id(&state.pool, id).await?,
        None => None,
    };
    Ok(Json(VersionDetail {
        publisher,
        description: manifest.description.clone(),
        grants: manifest.grants(),
        conformance: state.registry.conformance(&version.digest).await?,
        consent_required: !version.builtin,
        version,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ModuleBinding)]
pub struct Binding {
    pub slot: String,
    /// `binding` when the tenant chose the version, `builtin` when it is the default.
    pub source: &'static str,
    pub version: Version,
}

async fn list_bindings(ctx: Tenant, State(state): State<AppState>) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    Ok(Json(Page {
        items: tenant_bindings(&ctx.principal.module_bindings, &state.registry).await?,
        next_cursor: None,
    }))
}

/// The version serving each slot for a tenant with these bindings (slot -> digest, as the
/// principal carries them): its binding, or else the newest built-in.
pub async fn tenant_bindings(
    bindings: &HashMap<String, String>,
    registry: &registry::Registry,
) -> Result<Vec<Binding>> {
    let mut serving = Vec::new();
    for slot in registry.slots(bindings) {
        let source = match bindings.contains_key(&slot) {
            true => "binding",
            false => "builtin",
        };
        let Some(digest) = registry.serving(bindings, &slot) else {
            continue;
        };
        let version = registry.find(&digest).await?;
        serving.push(Binding {
            slot,
            source,
            version,
        });
    }
    Ok(serving)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RebindRequest {
    /// A digest, or `name@version`.
    pub(super) version: String,
    /// The grants the admin accepts: exactly those `GET /v1/modules/{name}/{version}` shows.
    /// Needed for an upload, unless the tenant accepted them (or more) for this module before.
    pub(super) accept: Option<serde_json::Value>,
    /// Whether the module's publisher may see this tenant's name among those running it.
    pub(super) name_me_to_publisher: Option<bool>,
}

async fn rebind(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
    Json(body): Json<RebindRequest>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let version = bindable_for_slot(&mut ctx, &state, &slot, &body).await?;
    bind_slot(ctx, &state, &slot, &version, "module.bound").await?;
    Ok(Json(Binding {
        slot,
        source: "binding",
        version,
    }))
}

/// The version `body` names if this tenant may bind it to `slot`: shared with it, of that
/// slot, bindable by its conformance, and consented to (recorded here) if it is an upload.
/// A shadow run's candidate passes the same checks (`super::shadow`).
pub(super) async fn bindable_for_slot(
    ctx: &mut Tenant,
    state: &AppState,
    slot: &str,
    body: &RebindRequest,
) -> Result<Version> {
    // An upload not shared with this tenant is answered exactly as one that does not exist.
    let version = state
        .registry
        .bindable(&mut ctx.tx, &body.version)
        .await?
        .ok_or_else(|| {
            Error::validation(vec![crate::error::FieldError::new(
                "version",
                "no such published version",
            )])
        })?;
    let mut check = Validator::new();
    check.check(
        version.slot == slot,
        "version",
        format!("that module fills slot `{}`", version.slot),
    );
    check.finish()?;
    // A core slot takes an upload only once its conformance pack passed (or was overridden);
    // asked first, so that no admin is asked to consent to a version that cannot serve.
    crate::conformance::require_bindable(&mut ctx.tx, &version).await?;
    if !version.builtin {
        consent(ctx, state, &version, body).await?;
    }
    Ok(version)
}

/// Binds `slot` to `version` in the request's transaction (recording the module switch and
/// `action` in the audit log), commits, and has the scheduler pick up the new schedules.
pub(super) async fn bind_slot(
    mut ctx: Tenant,
    state: &AppState,
    slot: &str,
    version: &Version,
    action: &str,
) -> Result<()> {
    let leaving = state
        .registry
        .module_serving(&ctx.principal.module_bindings, slot)
        .await?;
    registry::bind(&mut ctx.tx, version).await?;
    retention::record_switch(&mut ctx.tx, leaving.as_deref(), &version.name).await?;
    ctx.audit(
        action,
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot, "digest": version.digest}),
    )
    .await?;
    let tenant = ctx.tx.tenant_id();
    ctx.commit().await?;
    // The new version's schedules replace the old one's at the next tick.
    crate::scheduler::reconcile_soon(&state.pool, tenant).await;
    Ok(())
}

/// Checks (and records) the tenant's consent to an upload's grants: an `accept` must be
/// exactly the grants; without one, an earlier consent for the module must cover them. The
/// consent and the naming choice are audited.
async fn consent(
    ctx: &mut Tenant,
    state: &AppState,
    version: &Version,
    body: &RebindRequest,
) -> Result<()> {
    let grants = state
        .registry
        .module(&version.digest)
        .await?
        .manifest
        .grants();
    let shown = serde_json::to_value(&grants).map_err(anyhow::Error::from)?;
    match &body.accept {
        Some(accept) if *accept == shown => {
            consent::record(&mut ctx.tx, &version.name, &version.digest, &grants).await?;
            ctx.audit(
                "module.consented",
                "module",
                uuid::Uuid::nil(),
                serde_json::json!({"module": version.name, "digest": version.digest, "grants": shown}),
            )
            .await?;
        }
        Some(_) => return Err(consent::required(&version.name, &grants)),
        None => match consent::accepted(&mut ctx.tx, &version.name).await? {
            Some(accepted) if grants.within(&accepted) => {}
            _ => return Err(consent::required(&version.name, &grants)),
        },
    }
    if let Some(named) = body.name_me_to_publisher {
        consent::name_me_to_publisher(&mut ctx.tx, &version.name, named).await?;
        ctx.audit(
            "module.naming_changed",
            "module",
            uuid::Uuid::nil(),
            serde_json::json!({"module": version.name, "name_me_to_publisher": named}),
        )
        .await?;
    }
    Ok(())
}

/// Rebinds the slot to the version that served it before the current binding (the
/// built-in, when the tenant had bound only once).
async fn rollback(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let previous = state.registry.previous(&mut ctx.tx, &slot).await?;
    bind_slot(ctx, &state, &slot, &previous, "module.rolled_back").await?;
    Ok(Json(Binding {
        slot,
        source: "binding",
        version: previous,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadParams {
    /// Tenants (slugs, comma-separated) to share the new version with at once.
    share: Option<String>,
}

/// The operator publishes a partner's component (body: the component bytes). The version is
/// private: only the tenants in `?share=` (or shared with later) may see and bind it.
async fn upload(
    _: Operator,
    State(state): State<AppState>,
    Query(params): Query<UploadParams>,
    ComponentBody(body): ComponentBody,
) -> Result<impl IntoResponse> {
    let slugs: Vec<&str> = params
        .share
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|slug| !slug.is_empty())
        .collect();
    // Every tenant is checked before anything is recorded.
    let tenants = operator::tenant_ids(&state, &slugs, "share").await?;
    let mut record = state
        .registry
        .upload(Upload {
            component: &body,
            uploader: Uploader::Operator,
            notes: "",
        })
        .await?;
    operator::share_with(
        &state,
        &record.version.digest,
        &tenants,
        crate::registry::shares::OPERATOR,
    )
    .await?;
    record.conformance = crate::conformance::on_upload(&state, &record.version).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Extract, call, respond: the registry routes and runs the call ([`Registry::call`]); this
/// handler adds what is HTTP's own, the permission check, the idempotent replay, the header
/// screen and the commit.
///
/// [`Registry::call`]: crate::registry::Registry::call
///
/// Serves both `/v1/{slot}` and `/v1/{slot}/{*rest}`: the path the module sees is `/` and
/// `/{rest}`.
async fn dispatch(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(segments): Path<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let slot = segments.get("slot").cloned().unwrap_or_default();
    let path = format!("/{}", segments.get("rest").map_or("", String::as_str));
    let routed = state
        .registry
        .route(
            &ctx.principal.module_bindings,
            &slot,
            method.as_str(),
            &path,
        )
        .await?;
    // Pay-link routes answer only under `/pay/...`, to the holder of the link.
    if routed.permission() == super::pay_links::PAY_LINK {
        return Err(Error::not_found("route"));
    }
    ctx.require(routed.permission())?;
    crate::usage::quota::check(&mut ctx.tx, state.registry.meter(), chrono::Utc::now()).await?;
    let key =
        IdempotencyKey::from_request(method.as_str(), uri.path(), uri.query(), &headers, &body)?;
    let idempotency_key = match key {
        None => None,
        Some(key) => match idempotency::claim(&mut ctx.tx, ctx.principal.user_id, key).await? {
            Claim::Fresh(key) => Some(key),
            Claim::Replay(answer) => return replay(&slot, answer),
        },
    };
    let request = module_request(&method, path, &uri, &headers, &body)?;
    let shadow_job = super::shadow::sampled_job(&ctx, &slot, &request);
    let Tenant {
        principal,
        tx,
        request_id,
        ..
    } = ctx;
    let caller = caller_of(&principal);
    let started = std::time::Instant::now();
    let answer = state
        .registry
        .call(routed, tx, caller, request_id.unwrap_or_default(), request)
        .await?;
    let elapsed = started.elapsed();

    // Checked before the commit: a module that breaks the header caps fails its call.
    let (status, stored) = screened(&slot, answer.response)?;
    if let Some(mut tx) = answer.tx
        && status.as_u16() < 400
    {
        if let Some(key) = &idempotency_key {
            idempotency::record(&mut tx, principal.user_id, key, &stored).await?;
        }
        tx.commit().await?;
    }
    if let Some(job) = shadow_job {
        super::shadow::run_after(&state, job, status.as_u16(), &stored.body, elapsed);
    }
    Ok(respond(status, stored))
}

/// Who a module call acts for: the request's principal, as the module sees it.
pub(super) fn caller_of(principal: &crate::auth::principal::Principal) -> Caller {
    Caller {
        user_id: principal.user_id,
        roles: principal.roles.clone(),
        permissions: principal.permissions.names().map(str::to_owned).collect(),
    }
}

/// What a module sees of an HTTP request: `path` relative to its slot, the query parsed
/// (400 `invalid_query_parameter` when malformed), the headers but the caller's credentials.
pub(super) fn module_request(
    method: &Method,
    path: String,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<ModuleRequest> {
    Ok(ModuleRequest {
        method: method.as_str().to_owned(),
        path,
        query: serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|_| {
            Error::bad_request("invalid_query_parameter", "the query string is malformed")
        })?,
        headers: forwarded_headers(headers),
        body: body.to_vec(),
    })
}

/// A module's answer made safe to send: a valid status, its headers screened for `slot`.
/// An answer that breaks the rules is an error (the call fails, nothing commits).
pub(super) fn screened(
    slot: &str,
    response: crate::runtime::Response,
) -> Result<(StatusCode, StoredAnswer)> {
    let status = answer_status(response.status)?;
    let stored = StoredAnswer {
        status: response.status,
        headers: module_headers::screen(slot, &response.headers)?,
        body: response.body,
    };
    Ok((status, stored))
}

/// The headers a module sees: all but the caller's credentials.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "authorization" | "cookie"))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

/// The first answer to an idempotency key, again. Its headers are screened again: rows
/// stored by older versions kept every header.
fn replay(slot: &str, mut answer: StoredAnswer) -> Result<Response> {
    answer.headers = module_headers::screen(slot, &answer.headers)?;
    let mut response = respond(answer_status(answer.status)?, answer);
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(response)
}

fn answer_status(status: u16) -> Result<StatusCode> {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .ok_or_else(|| module_headers::bad_response("the module answered an invalid status"))
}

/// The HTTP response for a module's answer, its headers already screened
/// ([`module_headers::screen`]); they replace the defaults (content-type).
pub(super) fn respond(status: StatusCode, answer: StoredAnswer) -> Response {
    let mut response = (status, answer.body).into_response();
    module_headers::apply(answer.headers, response.headers_mut());
    response
}
