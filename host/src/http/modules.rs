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
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::AppState;
use super::extract::{Json, Path, Query, Tenant};
use super::idempotency::{self, Claim, IdempotencyKey, REPLAYED_HEADER, StoredAnswer};
use super::module_headers;
use super::operator::{self, Operator};
use super::pagination::Page;
use crate::auth::rbac::perm;
use crate::error::{Error, Result, Validator};
use crate::events::OutboxSink;
use crate::registry::{self, Version};
use crate::runtime::manifest::{Manifest, Route};
use crate::runtime::{CallContext, Caller, Request};
use crate::storage::{PgStore, SharedTx};

/// Where the operator uploads components.
pub const UPLOAD_PATH: &str = "/v1/operator/modules";
/// Largest component an operator may upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/modules", get(list_versions))
        .route("/v1/tenant/modules", get(list_bindings))
        .route("/v1/tenant/modules/{slot}", axum::routing::put(rebind))
        .route("/v1/tenant/modules/{slot}/rollback", post(rollback))
        .route(
            UPLOAD_PATH,
            post(upload).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route("/v1/{slot}", any(dispatch_root))
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

#[derive(Serialize)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RebindRequest {
    /// A digest, or `name@version`.
    version: String,
}

async fn rebind(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
    Json(body): Json<RebindRequest>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
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
    registry::bind(&mut ctx.tx, &version).await?;
    ctx.audit(
        "module.bound",
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot, "digest": version.digest}),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(Binding {
        slot,
        source: "binding",
        version,
    }))
}

/// Rebinds the slot to the version that served it before the current binding (the
/// built-in, when the tenant had bound only once).
async fn rollback(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT digest FROM module_bindings WHERE tenant_id = $1 AND slot = $2 ORDER BY id DESC LIMIT 2",
    )
    .bind(ctx.tx.tenant_id())
    .bind(&slot)
    .fetch_all(ctx.tx.conn())
    .await?;
    let previous = match history.as_slice() {
        [] => {
            return Err(Error::conflict(
                "nothing_to_roll_back",
                "the slot has no binding to roll back",
            ));
        }
        [_] => state.registry.builtin(&slot).ok_or_else(|| {
            Error::conflict(
                "nothing_to_roll_back",
                "there is no earlier version for this slot",
            )
        })?,
        // Rolling back is a new bind: a version no longer shared with the tenant cannot be.
        [_, previous, ..] => state
            .registry
            .bindable(&mut ctx.tx, previous)
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "nothing_to_roll_back",
                    "the earlier version is no longer available to this tenant",
                )
            })?,
    };
    registry::bind(&mut ctx.tx, &previous).await?;
    ctx.audit(
        "module.rolled_back",
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot, "digest": previous.digest}),
    )
    .await?;
    ctx.commit().await?;
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
    body: Bytes,
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
    let version = state.registry.publish(&body, false, "operator").await?;
    operator::share_with(&state, &version.digest, &tenants).await?;
    Ok((StatusCode::CREATED, Json(version)))
}

async fn dispatch_root(
    ctx: Tenant,
    state: State<AppState>,
    Path(slot): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    call_module(ctx, state, slot, String::new(), method, uri, headers, body).await
}

async fn dispatch(
    ctx: Tenant,
    state: State<AppState>,
    Path((slot, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    call_module(ctx, state, slot, rest, method, uri, headers, body).await
}

#[allow(clippy::too_many_arguments)]
async fn call_module(
    mut ctx: Tenant,
    State(state): State<AppState>,
    slot: String,
    rest: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    // A slot name that cannot be one is 404 before any look-up; nothing about it is kept.
    let digest = state
        .registry
        .serving(&ctx.principal.module_bindings, &slot)
        .ok_or_else(|| Error::not_found("route"))?;
    let module = state.registry.module(&digest).await?;
    let path = format!("/{rest}");
    let (route, params) = match match_route(&module.manifest, method.as_str(), &path) {
        Ok(found) => found,
        Err(no_route) => return Ok(no_route.into_response()),
    };
    ctx.require(&route.permission)?;
    let idempotency_key = match IdempotencyKey::from_request(
        method.as_str(),
        uri.path(),
        uri.query(),
        &headers,
        &body,
    )? {
        None => None,
        Some(key) => match idempotency::claim(&mut ctx.tx, ctx.principal.user_id, key).await? {
            Claim::Fresh(key) => Some(key),
            Claim::Replay(mut answer) => {
                // Screened again: rows stored by older versions kept every header.
                answer.headers = module_headers::screen(&slot, &answer.headers)?;
                let mut response = respond(answer_status(answer.status)?, answer);
                response
                    .headers_mut()
                    .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                return Ok(response);
            }
        },
    };

    let request_id = ctx.request_id.clone().unwrap_or_default();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|_| {
            Error::bad_request("invalid_query_parameter", "the query string is malformed")
        })?;
    let request = Request {
        method: method.as_str().to_owned(),
        path,
        query,
        headers: headers
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "authorization" | "cookie"))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
        route: route.path.clone(),
        params,
    };
    let Tenant { principal, tx, .. } = ctx;
    let tenant_id = tx.tenant_id();
    let shared: SharedTx = Arc::new(Mutex::new(Some(tx)));
    let call = CallContext {
        tenant_id,
        caller: Caller {
            user_id: principal.user_id,
            roles: principal.roles.clone(),
            permissions: principal.permissions.names().map(str::to_owned).collect(),
        },
        request_id: request_id.clone(),
        store: Box::new(PgStore::new(shared.clone(), state.catalog.clone())),
        events: Box::new(OutboxSink::new(
            shared.clone(),
            module.manifest.name.clone(),
            request_id,
        )),
    };
    let outcome = state
        .registry
        .runtime()
        .handle(&module, call, request)
        .await;
    let tx = shared.lock().await.take();
    let (response, usage) = outcome?;
    // Labelled by module only: a label per tenant would make a series per tenant.
    let labels = [("module", module.manifest.name.clone())];
    metrics::histogram!("module_call_duration_seconds", &labels)
        .record(usage.elapsed.as_secs_f64());
    metrics::counter!("module_host_calls_total", &labels).increment(u64::from(usage.host_calls));
    metrics::counter!("module_rows_returned_total", &labels)
        .increment(u64::from(usage.rows_returned));

    // Checked before the commit: a module that breaks the header caps fails its call.
    let status = answer_status(response.status)?;
    let answer = StoredAnswer {
        status: response.status,
        headers: module_headers::screen(&slot, &response.headers)?,
        body: response.body,
    };
    if let Some(mut tx) = tx
        && status.as_u16() < 400
    {
        if let Some(key) = &idempotency_key {
            idempotency::record(&mut tx, principal.user_id, key, &answer).await?;
        }
        tx.commit().await?;
    }
    Ok(respond(status, answer))
}

fn answer_status(status: u16) -> Result<StatusCode> {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .ok_or_else(|| module_headers::bad_response("the module answered an invalid status"))
}

/// The HTTP response for a module's answer, its headers already screened
/// ([`module_headers::screen`]); they replace the defaults (content-type).
fn respond(status: StatusCode, answer: StoredAnswer) -> Response {
    let mut response = (status, answer.body).into_response();
    module_headers::apply(answer.headers, response.headers_mut());
    response
}

/// A manifest route and the values of its path parameters.
type RouteMatch<'m> = (&'m Route, Vec<(String, String)>);

/// Why no manifest route serves a request.
#[derive(Debug, PartialEq, Eq)]
enum NoRoute {
    /// No pattern matches the path (404).
    NotFound,
    /// Patterns match the path, for these methods only (405 with `Allow`, RFC 9110 15.5.6).
    MethodNotAllowed(Vec<String>),
}

impl IntoResponse for NoRoute {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => Error::not_found("route").into_response(),
            Self::MethodNotAllowed(methods) => {
                let mut response = Error::problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this route does not accept that method",
                )
                .into_response();
                if let Ok(allow) = HeaderValue::try_from(methods.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                response
            }
        }
    }
}

/// Finds the manifest route for a method and path, or says why there is none.
fn match_route<'m>(
    manifest: &'m Manifest,
    method: &str,
    path: &str,
) -> Result<RouteMatch<'m>, NoRoute> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut allowed: Vec<String> = Vec::new();
    for route in &manifest.routes {
        let pattern: Vec<&str> = route.path.trim_end_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    params.push((name.to_owned(), (*s).to_owned()));
                    true
                }
                Some(_) => false,
                None => p == s,
            }
        });
        if !matched {
            continue;
        }
        if route.method.eq_ignore_ascii_case(method) {
            return Ok((route, params));
        }
        let route_method = route.method.to_ascii_uppercase();
        if !allowed.contains(&route_method) {
            allowed.push(route_method);
        }
    }
    if allowed.is_empty() {
        Err(NoRoute::NotFound)
    } else {
        Err(NoRoute::MethodNotAllowed(allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            routes: vec![
                Route {
                    method: "GET".into(),
                    path: "/customers".into(),
                    permission: "crm.customers.read".into(),
                },
                Route {
                    method: "GET".into(),
                    path: "/customers/{id}".into(),
                    permission: "crm.customers.read".into(),
                },
                Route {
                    method: "PATCH".into(),
                    path: "/customers/{id}".into(),
                    permission: "crm.customers.write".into(),
                },
            ],
            ..Manifest::default()
        }
    }

    #[test]
    fn routes_match_with_params_and_methods() {
        let manifest = manifest();
        let (route, params) = match_route(&manifest, "PATCH", "/customers/42").unwrap();
        assert_eq!(route.permission, "crm.customers.write");
        assert_eq!(params, [("id".to_owned(), "42".to_owned())]);
        assert_eq!(
            match_route(&manifest, "GET", "/customers/").unwrap().0.path,
            "/customers"
        );
        assert_eq!(
            match_route(&manifest, "DELETE", "/customers/42").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["GET".into(), "PATCH".into()])
        );
        assert_eq!(
            match_route(&manifest, "GET", "/customers/42/x").unwrap_err(),
            NoRoute::NotFound
        );
    }
}
