//! Extractors: our own `Json`, `Path` and `Query` that turn axum's rejections into problem
//! responses, and [`Tenant`], the authenticated caller (an access token or an API key) with
//! their open tenant transaction.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::auth::api_key;
use crate::auth::client_address::client_address;
use crate::auth::principal::{Lookup, Principal};
use crate::error::{Error, FieldError};
use crate::tenancy::{TenantScope, TenantTx};

/// A JSON body. Parsed in two steps so that the answer says what is wrong: text that is not
/// JSON is 400 `malformed_json`; JSON of the wrong shape (a wrong type, an unknown or missing
/// field) is 422 naming the field; a body over the limit 413; another content type 415.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(req.headers()) {
            return Err(Error::problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Error::problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is larger than the server accepts",
                ));
            }
            Err(rejection) => return Err(Error::bad_request("bad_body", rejection.body_text())),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| Error::bad_request("malformed_json", "the body is not valid JSON"))?;
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|error| {
                let field = match error.path().to_string() {
                    path if path == "." => "body".to_owned(),
                    path => path,
                };
                Error::validation(vec![FieldError::new(field, error.into_inner().to_string())])
            })
    }
}

fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; an unparsable one (a bad UUID) is 400.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => Err(Error::bad_request(
                "invalid_path_parameter",
                error.body_text(),
            )),
            Err(other) => Err(Error::bad_request(
                "invalid_path_parameter",
                other.body_text(),
            )),
        }
    }
}

/// Query parameters; a bad one is 400 naming it.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => Err(Error::bad_request(
                "invalid_query_parameter",
                error.body_text(),
            )),
            Err(other) => Err(Error::bad_request(
                "invalid_query_parameter",
                other.body_text(),
            )),
        }
    }
}

/// The client's address: the TCP peer, or behind a trusted proxy the address it forwarded
/// (`auth::client_address`).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let forwarded_for = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        Ok(Self(client_address(
            peer,
            forwarded_for,
            &state.throttle.trusted_proxies,
        )))
    }
}

/// The request id set by the request-id layer.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Authorization: Bearer <token>`, or None.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An authenticated tenant request: the caller, loaded fresh, and the tenant transaction
/// every query of the request runs in. Dropped without `commit`, it rolls back. The
/// transaction counts against the tenant's share (429 `tenant_busy` past it) and begins only
/// once the body has been read (`body_first`).
pub struct Tenant {
    pub principal: Principal,
    pub tx: TenantTx,
    pub request_id: Option<String>,
}

impl Tenant {
    pub fn require(&self, permission: &str) -> Result<(), Error> {
        if self.principal.permissions.allows(permission) {
            Ok(())
        } else {
            Err(Error::missing_permission(permission))
        }
    }

    pub fn require_any(&self, permissions: &[&str]) -> Result<(), Error> {
        match permissions
            .iter()
            .any(|p| self.principal.permissions.allows(p))
        {
            true => Ok(()),
            false => Err(Error::missing_permission(
                permissions.join("` or `").as_str(),
            )),
        }
    }

    pub async fn commit(self) -> Result<(), Error> {
        Ok(self.tx.commit().await?)
    }

    /// Records `action` on a target in the audit log, in this request's transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        target_type: &str,
        target_id: uuid::Uuid,
        details: serde_json::Value,
    ) -> Result<(), Error> {
        crate::tenancy::provision::audit(
            &mut self.tx,
            action,
            target_type,
            Some(target_id),
            self.request_id.as_deref(),
            details,
        )
        .await
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| Error::unauthorized("missing_token"))?;
        if api_key::is_api_key(token) {
            let presented = api_key::Presented::parse(token)
                .ok_or_else(|| Error::unauthorized("invalid_token"))?;
            return Self::through_api_key(parts, state, presented).await;
        }
        let claims = state.tokens.verify(token).map_err(|error| {
            tracing::info!(%error, "access token refused");
            Error::unauthorized("invalid_token")
        })?;
        let scope = TenantScope {
            tenant_id: claims.tid,
            user_id: Some(claims.sub),
        };
        // The tenant's share first, so that a tenant over it holds no pooled connection.
        let share = state.tenant_transactions.try_acquire(claims.tid)?;
        let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
        tx.hold(share);
        let principal = found(Principal::load(&mut tx, claims.sub).await?)?;
        Self::ready(principal, tx, parts).await
    }
}

impl Tenant {
    /// `Authorization: Bearer vfk_...`: the tenant comes from the key, the caller is the key's
    /// creator with the key's permissions narrowed to what the creator still holds. Unknown,
    /// revoked and expired keys, and keys of a deactivated creator, get the answer of any bad
    /// token; the key is looked up before the tenant's share is taken (see below). The key's
    /// last use is written at most once a minute, committed on its own before the request's
    /// transaction opens, so that a read (which never commits) records it too and no request
    /// holds two pooled connections.
    async fn through_api_key(
        parts: &mut Parts,
        state: &AppState,
        presented: api_key::Presented,
    ) -> Result<Self, Error> {
        let scope = TenantScope {
            tenant_id: presented.tenant_id,
            user_id: None,
        };
        let timeout = state.limits.statement_timeout;
        let mut tx = TenantTx::begin(&state.pool, scope, timeout).await?;
        let key = api_key::resolve(&mut tx, &presented)
            .await?
            .ok_or_else(|| Error::unauthorized("invalid_token"))?;
        // The tenant's share only once the key is known: the tenant id of a key is not yet
        // proven, and a flood of made-up keys must not use up a real tenant's share.
        let share = state.tenant_transactions.try_acquire(scope.tenant_id)?;
        tx.act_through_key(key.created_by, key.id).await?;
        let creator = found(Principal::load(&mut tx, key.created_by).await?)?;
        if key.stale {
            let ClientIp(address) = ClientIp::from_request_parts(parts, state).await?;
            api_key::record_use(&mut tx, key.id, &address.to_string()).await?;
            tx.commit().await?;
            tx = TenantTx::begin(&state.pool, scope, timeout).await?;
            tx.act_through_key(key.created_by, key.id).await?;
        }
        tx.hold(share);
        let principal = creator.acting_through_key(key.id, key.permissions);
        Self::ready(principal, tx, parts).await
    }

    async fn ready(principal: Principal, mut tx: TenantTx, parts: &Parts) -> Result<Self, Error> {
        scope_jobs(&mut tx, &principal).await?;
        Ok(Self {
            principal,
            tx,
            request_id: request_id(&parts.headers),
        })
    }
}

/// The principal a lookup found, or the answer for a caller who is no longer one.
fn found(lookup: Lookup) -> Result<Principal, Error> {
    match lookup {
        Lookup::Found(principal) => Ok(*principal),
        Lookup::NoSuchUser => Err(Error::unauthorized("invalid_token")),
        Lookup::TenantSuspended => Err(Error::forbidden(
            "tenant_suspended",
            "this tenant is suspended",
        )),
    }
}

/// Narrows a caller who may not read every job (the technician role: `jobs.own` without
/// `jobs.read`) to the jobs assigned to them, below any module: `app.job_scope = 'own'` turns
/// on the restrictive policies of `migrations/0005_field_ops.sql` on jobs, their assignments
/// and their history for the rest of the transaction. Set for every such principal, on every
/// tenant request, so that an unset scope always means a caller allowed to read all jobs.
async fn scope_jobs(tx: &mut TenantTx, principal: &Principal) -> Result<(), Error> {
    if !principal
        .permissions
        .allows(crate::auth::rbac::perm::JOBS_READ)
    {
        narrow_to_own_jobs(tx).await?;
    }
    Ok(())
}

/// Turns on the technician's narrowing for the rest of the transaction (see `scope_jobs`);
/// also for a shadow run acting for such a caller (`crate::shadow`).
pub(crate) async fn narrow_to_own_jobs(tx: &mut TenantTx) -> Result<(), Error> {
    // `SET LOCAL` like the tenant settings (Citus propagates it; `set_config` it does
    // not); a constant, so nothing from the request reaches the statement.
    sqlx::Executor::execute(tx.conn(), "SET LOCAL app.job_scope = 'own'").await?;
    Ok(())
}
