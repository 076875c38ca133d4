//! Publishers over HTTP: the operator creates and lists them (`/v1/operator/publishers`), and
//! a publisher manages itself under `/v1/publisher/*`, authenticated by a publishing key
//! (`Bearer vfp_...`) and nothing else: a tenant's token or API key is 401 there, and a
//! publishing key is 401 on every tenant route (the tenant extractor knows no `vfp_` key).
//! Accepting an invitation is the one publisher route without a key: the invitation token in
//! the body is the credential. The modules a publisher uploads are in `publisher_modules.rs`.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::extract::{Json, Path, Query, bearer};
use super::operator::Operator;
use super::pagination::{Page, PageParams};
use crate::error::{Error, Result};
use crate::registry::publishers::{self, Caller, Member, NewKey};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/publishers", get(list).post(create))
        .route("/v1/publisher", get(whoami))
        .route("/v1/publisher/members", get(members).post(invite))
        .route("/v1/publisher/members/{id}", delete(remove_member))
        .route("/v1/publisher/accept-invite", post(accept_invite))
        .route("/v1/publisher/keys", get(keys).post(create_key))
        .route("/v1/publisher/keys/{id}", delete(revoke_key))
}

/// A request made with a live publishing key: the publisher and the member it acts for.
pub struct Publisher(pub Caller);

impl FromRequestParts<AppState> for Publisher {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| Error::unauthorized("missing_token"))?;
        publishers::authenticate(&state.pool, token)
            .await?
            .map(Publisher)
            .ok_or_else(|| Error::unauthorized("invalid_token"))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreatePublisher {
    namespace: String,
    name: String,
    owner_email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedPublisher)]
pub(super) struct Created {
    publisher: publishers::Publisher,
    /// The owner's first key; its secret is shown only here.
    key: NewKey,
}

async fn create(
    _: Operator,
    State(state): State<AppState>,
    Json(body): Json<CreatePublisher>,
) -> Result<impl IntoResponse> {
    let (publisher, key) =
        publishers::create(&state.pool, &body.namespace, &body.name, &body.owner_email).await?;
    tracing::info!(namespace = %publisher.namespace, "publisher created");
    Ok((StatusCode::CREATED, Json(Created { publisher, key })))
}

async fn list(
    _: Operator,
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let (limit, after) = page.resolve()?;
    let rows = publishers::list(&state.pool, after, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |p| p.id)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublisherWhoAmI)]
pub(super) struct WhoAmI {
    publisher: publishers::Publisher,
    member_id: Uuid,
    role: String,
    key_id: Uuid,
}

async fn whoami(Publisher(caller): Publisher) -> Json<WhoAmI> {
    Json(WhoAmI {
        publisher: caller.publisher,
        member_id: caller.member_id,
        role: caller.role,
        key_id: caller.key_id,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PublisherInvite)]
#[serde(deny_unknown_fields)]
pub(super) struct Invite {
    email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublisherInvited)]
pub(super) struct Invited {
    member: Member,
    /// Shown only here: the invitee accepts with it at `POST /v1/publisher/accept-invite`.
    invitation_token: String,
}

async fn invite(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Json(body): Json<Invite>,
) -> Result<impl IntoResponse> {
    let (member, invitation_token) = publishers::invite(&state.pool, &caller, &body.email).await?;
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            member,
            invitation_token,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PublisherAcceptInvite)]
#[serde(deny_unknown_fields)]
pub(super) struct Accept {
    token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublisherInviteAccepted)]
pub(super) struct Accepted {
    publisher: publishers::Publisher,
    member: Member,
    key: NewKey,
}

async fn accept_invite(
    State(state): State<AppState>,
    Json(body): Json<Accept>,
) -> Result<impl IntoResponse> {
    let (publisher, member, key) = publishers::accept(&state.pool, &body.token).await?;
    Ok((
        StatusCode::CREATED,
        Json(Accepted {
            publisher,
            member,
            key,
        }),
    ))
}

async fn members(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let (limit, after) = page.resolve()?;
    let rows = publishers::members(&state.pool, caller.publisher.id, after, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |row| row.id)))
}

async fn remove_member(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse> {
    publishers::remove_member(&state.pool, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewPublisherKeyRequest)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKey {
    name: String,
}

async fn create_key(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Json(body): Json<CreateKey>,
) -> Result<impl IntoResponse> {
    let key = publishers::create_key(&state.pool, &caller, &body.name).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

async fn keys(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<impl IntoResponse> {
    let (limit, after) = page.resolve()?;
    let rows = publishers::keys(&state.pool, caller.publisher.id, after, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |row| row.id)))
}

async fn revoke_key(
    Publisher(caller): Publisher,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse> {
    publishers::revoke_key(&state.pool, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
