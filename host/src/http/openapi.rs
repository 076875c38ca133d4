//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API as this tenant sees it.
//!
//! Two halves: the host's own routes, listed once in [`HOST_ROUTES`] beside the permission
//! each needs, and the routes of the modules serving the caller's tenant, read from their
//! manifests. A tenant that swaps its CRM for a partner's sees the partner's routes on its
//! next fetch. Every error is described by the shared problem+json schema; a module route's
//! body and answers by the JSON Schemas of its manifest (`openapi_modules`). The `webhooks` section (every event type's payload) comes from
//! `crate::event_catalog`, added by [`super::openapi_webhooks`].

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required,
};

use super::extract::{Json, Tenant};
use super::modules::tenant_bindings;
use super::openapi_modules::{Components, module_path};
use super::pagination::Page;
use super::{
    AppState, api_keys, audit, auth, conformance, custom_fields, events, extensions, health,
    module_config, modules, operator, passwords, payments, publisher_modules, publishers, roles,
    scheduled_tasks, shadow, usage, users, webhooks,
};
use crate::auth::rbac::perm;
use crate::error::Result;
use crate::registry::publishers::{Key, Member, NewKey, Publisher};
use crate::registry::{Version, VersionRecord};
use crate::runtime::Manifest;
use crate::tenancy::provision::{CreatedTenant, NewUser};

/// An OpenAPI document (this one), as [`render`] builds it.
#[derive(serde::Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
struct OpenApiDocument(serde_json::Value);

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(document))
}

/// How a route authenticates.
#[derive(Clone, Copy)]
enum Auth {
    None,
    /// A user's access token or an API key; the permission, when there is one, is checked by
    /// the host.
    User(Option<&'static str>),
    /// The operator token.
    Operator,
    /// A publisher member's key (`vfp_...`).
    Publisher,
}

struct HostRoute {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    auth: Auth,
    body: Body,
    answer: Answer,
}

/// What a route takes. `Unstated` is a gap the `every_host_route_states_its_body_and_answer`
/// test refuses, so that a new route cannot slip into the document undescribed.
#[derive(Clone, Copy)]
enum Body {
    Unstated,
    /// No body at all.
    Nothing,
    Json(SchemaOf),
    /// Bytes of this media type (a component's `application/wasm`).
    Raw(&'static str),
}

/// What a route answers on success: its status and content.
#[derive(Clone, Copy)]
enum Answer {
    Unstated,
    Json(&'static str, SchemaOf),
    /// No content (`204`, `202`).
    Nothing(&'static str),
    /// Not JSON: a page, a script, metrics, JSON lines; of this media type.
    Raw(&'static str, &'static str),
}

/// A host type's schema (utoipa's `ToSchema` derive), collecting the named schemas it refers
/// to into the document's components.
type SchemaOf = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

fn schema_of<T: ToSchema>(named: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(named);
    T::schema()
}

/// A [`Page`] of `T`s. utoipa's `Page<T>` refers to `T` by name without collecting it (a
/// type's `schemas` are those it refers to, not its own), so `T` is added here.
fn page_of<T: ToSchema>(named: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    named.push((T::name().into_owned(), T::schema()));
    schema_of::<Page<T>>(named)
}

impl HostRoute {
    /// The body is a `T`.
    const fn body<T: ToSchema>(mut self) -> Self {
        self.body = Body::Json(schema_of::<T>);
        self
    }

    /// Takes no body (a POST that is an action on its path alone).
    const fn no_body(mut self) -> Self {
        self.body = Body::Nothing;
        self
    }

    /// The body is bytes of `media_type`.
    const fn raw_body(mut self, media_type: &'static str) -> Self {
        self.body = Body::Raw(media_type);
        self
    }

    /// Answers `status` with a `T`.
    const fn answers<T: ToSchema>(mut self, status: &'static str) -> Self {
        self.answer = Answer::Json(status, schema_of::<T>);
        self
    }

    /// Answers `200` with a page of `T`s.
    const fn answers_page<T: ToSchema>(mut self) -> Self {
        self.answer = Answer::Json("200", page_of::<T>);
        self
    }

    /// Answers `status` with no content.
    const fn answers_nothing(mut self, status: &'static str) -> Self {
        self.answer = Answer::Nothing(status);
        self
    }

    /// Answers `200` with content of `media_type` that is not JSON.
    const fn answers_raw(mut self, media_type: &'static str) -> Self {
        self.answer = Answer::Raw("200", media_type);
        self
    }
}

/// A media type and, for JSON, its schema.
type Content = (&'static str, Option<RefOr<Schema>>);

/// What `add` documents of an operation's body and success answer (its status and content).
#[derive(Default)]
struct Described {
    body: Option<Content>,
    answer: Option<(&'static str, Option<Content>)>,
}

impl Described {
    fn of(route: &HostRoute, named: &mut Vec<(String, RefOr<Schema>)>) -> Self {
        let body = match route.body {
            Body::Unstated | Body::Nothing => None,
            Body::Json(schema) => Some((JSON, Some(schema(named)))),
            Body::Raw(media_type) => Some((media_type, None)),
        };
        let answer = match route.answer {
            Answer::Unstated => None,
            Answer::Json(status, schema) => Some((status, Some((JSON, Some(schema(named)))))),
            Answer::Nothing(status) => Some((status, None)),
            Answer::Raw(status, media_type) => Some((status, Some((media_type, None)))),
        };
        Self { body, answer }
    }
}

const JSON: &str = "application/json";

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    auth: Auth,
) -> HostRoute {
    HostRoute {
        method,
        path,
        summary,
        tag,
        auth,
        body: Body::Unstated,
        answer: Answer::Unstated,
    }
}

use Auth::{Operator, User};

const HOST_ROUTES: &[HostRoute] = &[
    route("GET", "/healthz", "Liveness", "platform", Auth::None).answers::<health::Health>("200"),
    route(
        "GET",
        "/readyz",
        "Readiness (the database answers)",
        "platform",
        Auth::None,
    )
    .answers::<health::Health>("200"),
    route(
        "GET",
        "/metrics",
        "Prometheus metrics",
        "platform",
        Auth::None,
    )
    .answers_raw("text/plain"),
    route(
        "GET",
        "/docs",
        "The browsable API reference (HTML)",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/docs/docs.js",
        "The reference's script",
        "platform",
        Auth::None,
    )
    .answers_raw("text/javascript"),
    route(
        "GET",
        "/docs/docs.css",
        "The reference's style",
        "platform",
        Auth::None,
    )
    .answers_raw("text/css"),
    route(
        "GET",
        "/console",
        "The web console (HTML; it signs in and calls this API)",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/console/",
        "The web console (HTML)",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/console/{*path}",
        "A console file (script, style, image), or the console's page for a path without an extension",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/docs/openapi.json",
        "This document with the host's routes only, without a login",
        "platform",
        Auth::None,
    )
    .answers::<OpenApiDocument>("200"),
    route(
        "GET",
        "/problems",
        "Every problem code of the host (HTML)",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/problems/{code}",
        "What a problem code means and what to do (HTML)",
        "platform",
        Auth::None,
    )
    .answers_raw("text/html"),
    route(
        "GET",
        "/v1/openapi.json",
        "This document",
        "platform",
        User(None),
    )
    .answers::<OpenApiDocument>("200"),
    route(
        "POST",
        "/v1/auth/login",
        "Log in: tenant, email, password -> tokens",
        "auth",
        Auth::None,
    )
    .body::<auth::LoginRequest>()
    .answers::<auth::TokenResponse>("200"),
    route(
        "POST",
        "/v1/auth/refresh",
        "Rotate a refresh token",
        "auth",
        Auth::None,
    )
    .body::<auth::RefreshRequest>()
    .answers::<auth::TokenResponse>("200"),
    route(
        "POST",
        "/v1/auth/logout",
        "Revoke a refresh token's family",
        "auth",
        Auth::None,
    )
    .body::<auth::RefreshRequest>()
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/auth/accept-invite",
        "Set a password from an invitation",
        "auth",
        Auth::None,
    )
    .body::<auth::AcceptInvite>()
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/auth/forgot-password",
        "Ask for a password-reset link by mail (always 202)",
        "auth",
        Auth::None,
    )
    .body::<passwords::ForgotPassword>()
    .answers_nothing("202"),
    route(
        "POST",
        "/v1/auth/reset-password",
        "Set a new password from a one-time reset link",
        "auth",
        Auth::None,
    )
    .body::<passwords::ResetPassword>()
    .answers_nothing("204"),
    route(
        "GET",
        "/v1/me",
        "The caller, roles and permissions",
        "auth",
        User(None),
    )
    .answers::<auth::Me>("200"),
    route(
        "POST",
        "/v1/me/password",
        "Change one's own password (other sessions signed out)",
        "auth",
        User(None),
    )
    .body::<passwords::ChangePassword>()
    .answers_nothing("204"),
    route(
        "GET",
        "/v1/users",
        "List users (q, status, cursor, limit)",
        "users",
        User(Some(perm::USERS_READ)),
    )
    .answers_page::<users::User>(),
    route(
        "POST",
        "/v1/users",
        "Create or invite a user",
        "users",
        User(Some(perm::USERS_MANAGE)),
    )
    .body::<NewUser>()
    .answers::<users::Created>("201"),
    route(
        "GET",
        "/v1/users/{id}",
        "A user (ETag)",
        "users",
        User(Some(perm::USERS_READ)),
    )
    .answers::<users::User>("200"),
    route(
        "PATCH",
        "/v1/users/{id}",
        "Change a user (If-Match)",
        "users",
        User(Some(perm::USERS_MANAGE)),
    )
    .body::<users::UpdateUser>()
    .answers::<users::User>("200"),
    route(
        "DELETE",
        "/v1/users/{id}",
        "Deactivate a user and end their sessions",
        "users",
        User(Some(perm::USERS_MANAGE)),
    )
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/users/{id}/password-reset",
        "Issue a one-time password-reset link (mailed when SMTP is configured)",
        "users",
        User(Some(perm::USERS_MANAGE)),
    )
    .no_body()
    .answers::<passwords::IssuedLink>("201"),
    route(
        "POST",
        "/v1/users/{id}/invitation",
        "Issue an invited user a new invitation (mailed when SMTP is configured)",
        "users",
        User(Some(perm::USERS_MANAGE)),
    )
    .no_body()
    .answers::<passwords::IssuedLink>("201"),
    route(
        "GET",
        "/v1/roles",
        "List roles",
        "roles",
        User(Some(perm::USERS_READ)),
    )
    .answers_page::<roles::Role>(),
    route(
        "POST",
        "/v1/roles",
        "Create a custom role",
        "roles",
        User(Some(perm::ROLES_MANAGE)),
    )
    .body::<roles::CreateRole>()
    .answers::<roles::Role>("201"),
    route(
        "GET",
        "/v1/roles/{id}",
        "A role",
        "roles",
        User(Some(perm::USERS_READ)),
    )
    .answers::<roles::Role>("200"),
    route(
        "PATCH",
        "/v1/roles/{id}",
        "Change a custom role",
        "roles",
        User(Some(perm::ROLES_MANAGE)),
    )
    .body::<roles::UpdateRole>()
    .answers::<roles::Role>("200"),
    route(
        "DELETE",
        "/v1/roles/{id}",
        "Delete a custom role",
        "roles",
        User(Some(perm::ROLES_MANAGE)),
    )
    .answers_nothing("204"),
    route(
        "GET",
        "/v1/audit",
        "The tenant's audit log (cursor, limit)",
        "audit",
        User(Some(perm::AUDIT_READ)),
    )
    .answers_page::<audit::Entry>(),
    route(
        "GET",
        "/v1/events",
        "The tenant's event feed (after, types, limit); poll from next_cursor",
        "events",
        User(None),
    )
    .answers::<events::Feed>("200"),
    route(
        "GET",
        "/v1/api-keys",
        "List API keys (cursor, limit; never the key itself)",
        "api-keys",
        User(Some(perm::API_KEYS_MANAGE)),
    )
    .answers_page::<api_keys::ApiKey>(),
    route(
        "POST",
        "/v1/api-keys",
        "Create an API key (name, permissions, expires_at); the key is shown once",
        "api-keys",
        User(Some(perm::API_KEYS_MANAGE)),
    )
    .body::<api_keys::CreateKey>()
    .answers::<api_keys::Created>("201"),
    route(
        "GET",
        "/v1/api-keys/{id}",
        "An API key",
        "api-keys",
        User(Some(perm::API_KEYS_MANAGE)),
    )
    .answers::<api_keys::ApiKey>("200"),
    route(
        "DELETE",
        "/v1/api-keys/{id}",
        "Revoke an API key at once",
        "api-keys",
        User(Some(perm::API_KEYS_MANAGE)),
    )
    .answers_nothing("204"),
    route(
        "GET",
        "/v1/modules",
        "Published module versions",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers_page::<Version>(),
    route(
        "GET",
        "/v1/modules/{name}/{version}",
        "A version before binding it: publisher, grants to accept, conformance",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<modules::VersionDetail>("200"),
    route(
        "GET",
        "/v1/modules/{namespace}/{name}/{version}",
        "A publisher's version before binding it: publisher, grants to accept, conformance",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<modules::VersionDetail>("200"),
    route(
        "GET",
        "/v1/tenant/modules",
        "The module serving each slot for this tenant",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers_page::<modules::Binding>(),
    route(
        "PUT",
        "/v1/tenant/modules/{slot}",
        "Bind a slot to a version (digest or name@version)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .body::<modules::RebindRequest>()
    .answers::<modules::Binding>("200"),
    route(
        "POST",
        "/v1/tenant/modules/{slot}/rollback",
        "Rebind the slot to its previous version",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .no_body()
    .answers::<modules::Binding>("200"),
    route(
        "POST",
        "/v1/tenant/modules/{slot}/shadow",
        "Start a shadow run: a candidate version also serves a sample of the slot's requests, rolled back",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .body::<shadow::StartRequest>()
    .answers::<shadow::Report>("201"),
    route(
        "GET",
        "/v1/tenant/modules/{slot}/shadow/report",
        "The slot's current or last shadow run: counters and example differences",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<shadow::Report>("200"),
    route(
        "POST",
        "/v1/tenant/modules/{slot}/shadow/promote",
        "Bind the shadow run's candidate and end the run, in one transaction",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .no_body()
    .answers::<modules::Binding>("200"),
    route(
        "DELETE",
        "/v1/tenant/modules/{slot}/shadow",
        "Stop the shadow run (its report stays until the slot's next run)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<shadow::Report>("200"),
    route(
        "GET",
        "/v1/tenant/modules/{slot}/config",
        "The module's configuration and which of its secrets are set",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<module_config::Answer>("200"),
    route(
        "PUT",
        "/v1/tenant/modules/{slot}/config",
        "Set the module's configuration (checked by its JSON Schema) and secrets (write-only)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .body::<module_config::Update>()
    .answers::<module_config::Answer>("200"),
    route(
        "GET",
        "/v1/tenant/custom-fields",
        "The tenant's custom-field definitions (?entity=customer|location|job|agreement)",
        "custom-fields",
        User(None),
    )
    .answers_page::<crate::custom_fields::Definition>(),
    route(
        "POST",
        "/v1/tenant/custom-fields",
        "Define a custom field on customers, locations, jobs or agreements",
        "custom-fields",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .body::<custom_fields::Create>()
    .answers::<crate::custom_fields::Definition>("201"),
    route(
        "PATCH",
        "/v1/tenant/custom-fields/{entity}/{key}",
        "Change a custom field (If-Match); refused if rows hold values it would no longer allow",
        "custom-fields",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .body::<custom_fields::Update>()
    .answers::<crate::custom_fields::Definition>("200"),
    route(
        "DELETE",
        "/v1/tenant/custom-fields/{entity}/{key}",
        "Delete a custom field no row holds a value for (If-Match)",
        "custom-fields",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .no_body()
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/imports",
        "Import a CSV file of customers, technicians or service_types (?kind, ?dry_run, \
         ?mapping: JSON of header to column); the rows run as a job (also needs the module's \
         write permission)",
        "imports",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .raw_body("text/csv")
    .answers::<crate::imports::ImportJob>("202"),
    route(
        "GET",
        "/v1/imports/{id}",
        "An import job: progress, counts and every bad row (line, column, message)",
        "imports",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .answers::<crate::imports::ImportJob>("200"),
    route(
        "GET",
        "/v1/exports/{file}",
        "Export customers.csv, technicians.csv or service_types.csv with the columns an \
         import reads (needs the module's read permission)",
        "imports",
        User(None),
    )
    .answers_raw("text/csv"),
    route(
        "GET",
        "/v1/tenant/extensions",
        "Every extension point with the tenant's extensions at it, in the order they run",
        "extensions",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers_page::<extensions::InstalledPoint>(),
    route(
        "PUT",
        "/v1/tenant/extensions/{point}",
        "Set the ordered extensions of a point (the list replaced whole; empty uninstalls)",
        "extensions",
        User(Some(perm::MODULES_MANAGE)),
    )
    .body::<extensions::Install>()
    .answers::<extensions::InstalledPoint>("200"),
    route(
        "GET",
        "/v1/tenant/extensions/failures",
        "The 100 most recent failures of the tenant's extensions (trap, fuel, memory, schema)",
        "extensions",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers_page::<extensions::FailureRecord>(),
    route(
        "GET",
        "/v1/tenant/module-data",
        "Export the tenant's rows of a module's collections as JSON lines (?module=NAME)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers_raw("application/x-ndjson"),
    route(
        "GET",
        "/v1/scheduled-tasks",
        "The tenant's scheduled tasks: when each runs next and how its last run went",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<scheduled_tasks::Tasks>("200"),
    route(
        "GET",
        "/v1/tenant/usage",
        "What the tenant's module calls used (?from, ?to: RFC 3339; ?group_by=hour|day|module)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    )
    .answers::<crate::usage::report::Report>("200"),
    route(
        "GET",
        "/v1/webhooks/endpoints",
        "List webhook endpoints (cursor, limit)",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .answers_page::<webhooks::EndpointView>(),
    route(
        "POST",
        "/v1/webhooks/endpoints",
        "Create a webhook endpoint; the answer shows its secret, once",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .body::<webhooks::NewEndpoint>()
    .answers::<webhooks::WithSecret>("201"),
    route(
        "GET",
        "/v1/webhooks/endpoints/{id}",
        "A webhook endpoint",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .answers::<webhooks::EndpointView>("200"),
    route(
        "PATCH",
        "/v1/webhooks/endpoints/{id}",
        "Change a webhook endpoint (url, description, event_types, enabled)",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .body::<webhooks::EndpointPatch>()
    .answers::<webhooks::EndpointView>("200"),
    route(
        "DELETE",
        "/v1/webhooks/endpoints/{id}",
        "Delete a webhook endpoint and its delivery log",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/webhooks/endpoints/{id}/rotate-secret",
        "A new secret, shown once; the old one signs for 24 h more",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .no_body()
    .answers::<webhooks::WithSecret>("200"),
    route(
        "GET",
        "/v1/webhooks/endpoints/{id}/deliveries",
        "The endpoint's delivery attempts, newest first",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .answers_page::<webhooks::Attempt>(),
    route(
        "POST",
        "/v1/webhooks/endpoints/{id}/test",
        "Send a signed webhook.test event now and answer the outcome",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .no_body()
    .answers::<webhooks::TestAnswer>("200"),
    route(
        "POST",
        "/v1/webhooks/endpoints/{id}/deliveries/{event_id}/redeliver",
        "Queue the event for the endpoint again, due now (202)",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    )
    .no_body()
    .answers_nothing("202"),
    route(
        "GET",
        "/v1/tenant/payments",
        "The tenant's connected Stripe account",
        "payments",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .answers::<payments::PaymentSettings>("200"),
    route(
        "PUT",
        "/v1/tenant/payments",
        "Connect the tenant's Stripe account (stripe_account: acct_...)",
        "payments",
        User(Some(perm::SETTINGS_MANAGE)),
    )
    .body::<payments::PaymentSettings>()
    .answers::<payments::PaymentSettings>("200"),
    route(
        "POST",
        "/v1/webhooks/stripe",
        "Stripe's webhook deliveries, verified by Stripe-Signature",
        "payments",
        Auth::None,
    )
    .raw_body("application/json")
    .answers::<payments::Receipt>("200"),
    route(
        "POST",
        "/v1/operator/modules",
        "Publish a component (body: its bytes; ?share=slugs)",
        "operator",
        Operator,
    )
    .raw_body("application/wasm")
    .answers::<VersionRecord>("201"),
    route(
        "POST",
        "/v1/operator/extensions",
        "Upload an extension component (world `extension`; body: its bytes; \
         ?fuel=&memory_mib= grant its runs more than the default budget)",
        "operator",
        Operator,
    )
    .raw_body("application/wasm")
    .answers::<extensions::UploadedExtension>("201"),
    route(
        "POST",
        "/v1/operator/modules/{version}/shares",
        "Share an uploaded version with a tenant",
        "operator",
        Operator,
    )
    .body::<operator::ShareRequest>()
    .answers::<operator::Share>("201"),
    route(
        "DELETE",
        "/v1/operator/modules/{version}/shares/{tenant}",
        "Withdraw a version's share with a tenant",
        "operator",
        Operator,
    )
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/operator/modules/{version}/approve",
        "Make an uploaded version public: every tenant may bind it",
        "operator",
        Operator,
    )
    .no_body()
    .answers::<VersionRecord>("200"),
    route(
        "GET",
        "/v1/operator/modules/{version}/conformance",
        "A version's conformance result, every step of its last run",
        "operator",
        Operator,
    )
    .answers::<conformance::ConformanceAnswer>("200"),
    route(
        "POST",
        "/v1/operator/modules/{version}/conformance",
        "Run the version's conformance pack again (202, pending)",
        "operator",
        Operator,
    )
    .no_body()
    .answers::<conformance::ConformanceAnswer>("202"),
    route(
        "POST",
        "/v1/operator/modules/{version}/conformance/override",
        "Make a version bindable whatever its pack said ({\"reason\"}, recorded)",
        "operator",
        Operator,
    )
    .body::<conformance::OverrideRequest>()
    .answers::<conformance::ConformanceAnswer>("200"),
    route(
        "GET",
        "/v1/operator/tenants",
        "List tenants (cursor, limit)",
        "operator",
        Operator,
    )
    .answers_page::<operator::TenantRow>(),
    route(
        "POST",
        "/v1/operator/tenants",
        "Create a tenant and its owner",
        "operator",
        Operator,
    )
    .body::<operator::CreateTenant>()
    .answers::<CreatedTenant>("201"),
    route(
        "POST",
        "/v1/operator/tenants/{id}/suspend",
        "Suspend a tenant",
        "operator",
        Operator,
    )
    .no_body()
    .answers::<operator::TenantRow>("200"),
    route(
        "POST",
        "/v1/operator/tenants/{id}/activate",
        "Reactivate a tenant",
        "operator",
        Operator,
    )
    .no_body()
    .answers::<operator::TenantRow>("200"),
    route(
        "GET",
        "/v1/operator/scheduled-tasks",
        "A tenant's scheduled tasks (?tenant=SLUG)",
        "operator",
        Operator,
    )
    .answers::<scheduled_tasks::Tasks>("200"),
    route(
        "GET",
        "/v1/operator/usage",
        "A tenant's usage (?tenant=SLUG, ?from, ?to, ?group_by=hour|day|module), or without \
         tenant every tenant's totals (?from, ?to, cursor, limit)",
        "operator",
        Operator,
    )
    .answers::<usage::OperatorUsage>("200"),
    route(
        "PUT",
        "/v1/operator/usage/quota",
        "Set a tenant's monthly module-call quota (null lifts it); past it, 429 quota_exceeded",
        "operator",
        Operator,
    )
    .body::<usage::QuotaRequest>()
    .answers::<usage::Quota>("200"),
    route(
        "GET",
        "/v1/operator/publishers",
        "List publishers (cursor, limit)",
        "publishers",
        Operator,
    )
    .answers_page::<Publisher>(),
    route(
        "POST",
        "/v1/operator/publishers",
        "Create a publisher and its owner; the owner's first key is shown once",
        "publishers",
        Operator,
    )
    .body::<publishers::CreatePublisher>()
    .answers::<publishers::Created>("201"),
    route(
        "GET",
        "/v1/publisher",
        "The calling key's publisher and member",
        "publishers",
        Auth::Publisher,
    )
    .answers::<publishers::WhoAmI>("200"),
    route(
        "GET",
        "/v1/publisher/members",
        "The publisher's members",
        "publishers",
        Auth::Publisher,
    )
    .answers_page::<Member>(),
    route(
        "POST",
        "/v1/publisher/members",
        "Invite a member by email; the invitation token is shown once",
        "publishers",
        Auth::Publisher,
    )
    .body::<publishers::Invite>()
    .answers::<publishers::Invited>("201"),
    route(
        "DELETE",
        "/v1/publisher/members/{id}",
        "Remove a member and revoke their keys",
        "publishers",
        Auth::Publisher,
    )
    .answers_nothing("204"),
    route(
        "POST",
        "/v1/publisher/accept-invite",
        "Accept an invitation: the new member's first key, shown once",
        "publishers",
        Auth::None,
    )
    .body::<publishers::Accept>()
    .answers::<publishers::Accepted>("201"),
    route(
        "GET",
        "/v1/publisher/keys",
        "The publisher's keys (never their secrets)",
        "publishers",
        Auth::Publisher,
    )
    .answers_page::<Key>(),
    route(
        "POST",
        "/v1/publisher/keys",
        "Create a key; its secret is shown once",
        "publishers",
        Auth::Publisher,
    )
    .body::<publishers::CreateKey>()
    .answers::<NewKey>("201"),
    route(
        "DELETE",
        "/v1/publisher/keys/{id}",
        "Revoke a key at once",
        "publishers",
        Auth::Publisher,
    )
    .answers_nothing("204"),
    route(
        "GET",
        "/v1/publisher/modules",
        "The publisher's versions and the tenants running each",
        "publishers",
        Auth::Publisher,
    )
    .answers_page::<publisher_modules::Listed>(),
    route(
        "POST",
        "/v1/publisher/modules",
        "Upload a component (body: its bytes; ?notes=)",
        "publishers",
        Auth::Publisher,
    )
    .raw_body("application/wasm")
    .answers::<VersionRecord>("201"),
    route(
        "GET",
        "/v1/publisher/modules/{digest}",
        "One of the publisher's versions (digest or name@version)",
        "publishers",
        Auth::Publisher,
    )
    .answers::<VersionRecord>("200"),
    route(
        "GET",
        "/v1/publisher/modules/{digest}/shares",
        "The shares the publisher recorded for its version (cursor, limit)",
        "publishers",
        Auth::Publisher,
    )
    .answers_page::<crate::registry::shares::PublisherShare>(),
    route(
        "POST",
        "/v1/publisher/modules/{digest}/shares",
        "Share one of the publisher's versions with a tenant",
        "publishers",
        Auth::Publisher,
    )
    .body::<operator::ShareRequest>()
    .answers::<operator::Share>("201"),
    route(
        "DELETE",
        "/v1/publisher/modules/{digest}/shares/{tenant}",
        "Withdraw a version's share with a tenant",
        "publishers",
        Auth::Publisher,
    )
    .answers_nothing("204"),
];

async fn document(mut ctx: Tenant, State(state): State<AppState>) -> Result<impl IntoResponse> {
    let mut modules = Vec::new();
    for binding in tenant_bindings(&ctx.principal.module_bindings, &state.registry).await? {
        modules.push(
            state
                .registry
                .module(&binding.version.digest)
                .await?
                .manifest
                .clone(),
        );
    }
    let mut document = render(&modules)?;
    let definitions = crate::custom_fields::load(ctx.tx.conn(), None).await?;
    super::openapi_custom::add(&mut document, &definitions);
    Ok(Json(OpenApiDocument(document)))
}

/// The host's routes only, for `/docs` before the reader gives a credential: no login, and
/// nothing in it depends on a tenant.
pub async fn public_document() -> Result<impl IntoResponse> {
    Ok(Json(OpenApiDocument(render(&[])?)))
}

/// The document for a tenant served by these modules.
fn render(modules: &[Arc<Manifest>]) -> Result<serde_json::Value> {
    let mut paths = Paths::new();
    let mut named = Vec::new();
    for route in HOST_ROUTES {
        let described = Described::of(route, &mut named);
        add(
            &mut paths,
            route.method,
            route.path,
            route.summary,
            route.tag,
            route.auth,
            None,
            described,
        );
    }
    for manifest in modules {
        let by = format!("{}@{}", manifest.name, manifest.version);
        for module_route in &manifest.routes {
            let summary = module_route
                .summary
                .clone()
                .unwrap_or_else(|| format!("{} {}", module_route.method, module_route.path));
            add(
                &mut paths,
                &module_route.method,
                &module_path(&manifest.slot, &module_route.path),
                &summary,
                &manifest.slot,
                User(None),
                Some((&by, &module_route.permission)),
                Described::default(),
            );
        }
    }
    let mut document = serde_json::to_value(build(paths, named)).map_err(anyhow::Error::from)?;
    let mut components = Components::default();
    for manifest in modules {
        for route in &manifest.routes {
            let path = module_path(&manifest.slot, &route.path);
            components.describe(&mut document, &manifest.slot, &path, route);
        }
    }
    components.finish(&mut document);
    super::openapi_webhooks::add(&mut document);
    Ok(document)
}

/// Adds one operation. `module` is the serving module and the route's permission.
#[allow(clippy::too_many_arguments)]
fn add(
    paths: &mut Paths,
    method: &str,
    path: &str,
    summary: &str,
    tag: &str,
    auth: Auth,
    module: Option<(&str, &str)>,
    described: Described,
) {
    let Some(method) = http_method(method) else {
        return;
    };
    // axum's catch-all `{*rest}` is, to OpenAPI, one parameter `{rest}` (slashes included).
    let path = &path.replace("{*", "{");
    let permission = match (auth, module) {
        (_, Some((_, permission))) => Some(permission),
        (User(permission), None) => permission,
        _ => None,
    };
    let mut description = match permission {
        Some(permission) => format!("Requires the `{permission}` permission."),
        None => String::new(),
    };
    if let Some((by, _)) = module {
        description.push_str(&format!(" Served by the module `{by}`."));
    }
    let success = match described.answer {
        Some((status, Some((media_type, schema)))) => (
            status,
            ResponseBuilder::new()
                .description("Success")
                .content(media_type, ContentBuilder::new().schema(schema).build()),
        ),
        Some((status, None)) => (status, ResponseBuilder::new().description("Success")),
        None => ("2XX", ResponseBuilder::new().description("Success")),
    };
    let mut operation = OperationBuilder::new()
        .summary(Some(summary))
        .tag(tag)
        .responses(
            ResponsesBuilder::new()
                .response(success.0, success.1)
                .response("default", Ref::from_response_name("Problem")),
        );
    if let Some((media_type, schema)) = described.body {
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(media_type, ContentBuilder::new().schema(schema).build())
                .build(),
        ));
    }
    if !description.is_empty() {
        operation = operation.description(Some(description.trim()));
    }
    if let Some(permission) = permission {
        operation = operation.extensions(Some(
            ExtensionsBuilder::new()
                .add("x-permission", permission)
                .build(),
        ));
    }
    operation = match auth {
        Auth::None => operation,
        User(_) => operation.security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        Operator => operation.security(SecurityRequirement::new("operator", Vec::<String>::new())),
        Auth::Publisher => {
            operation.security(SecurityRequirement::new("publisher", Vec::<String>::new()))
        }
    };
    for name in path_parameters(path) {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    paths.add_path_operation(path, vec![method], operation.build());
}

/// The `{name}`s of a path, also those inside a segment (`/invoices/{id}.pdf`).
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => return None,
    })
}

fn build(paths: Paths, named: Vec<(String, RefOr<Schema>)>) -> OpenApi {
    let problem = ObjectBuilder::new()
        .property("type", ObjectBuilder::new().schema_type(Type::String))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Stable machine-readable error code")),
        )
        .required("status")
        .required("code");
    let components = ComponentsBuilder::new()
        .schemas_from_iter(named)
        .schema("Problem", problem)
        .response(
            "Problem",
            ResponseBuilder::new()
                .description("An RFC 9457 problem")
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                ),
        )
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or vfk_ API key")
                    .description(Some(
                        "A user's access token, or a tenant API key (`vfk_...`) acting with \
                         its permissions as far as its creator still holds them",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "operator",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .security_scheme(
            "publisher",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vfp_ publisher key")
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("VeroField API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Multi-tenant field-service platform. Module routes (/v1/{slot}/...) are \
                     those of the modules serving the caller's tenant.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_schema_the_host_document_refers_to_is_in_it() {
        let document = render(&[]).unwrap();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let text = document.to_string();
        let prefix = "#/components/schemas/";
        for (at, _) in text.match_indices(prefix) {
            let name = text[at + prefix.len()..].split('"').next().unwrap();
            assert!(
                schemas.contains_key(name),
                "{name} is referred to, not defined"
            );
        }
    }

    #[test]
    fn every_host_route_states_its_body_and_answer() {
        for route in HOST_ROUTES {
            let takes_body = matches!(route.method, "POST" | "PUT" | "PATCH");
            assert!(
                !(takes_body && matches!(route.body, Body::Unstated)),
                "{} {}: say what body it takes (.body::<T>(), .raw_body or .no_body())",
                route.method,
                route.path
            );
            assert!(
                !matches!(route.answer, Answer::Unstated),
                "{} {}: say what it answers (.answers::<T>, .answers_raw or .answers_nothing)",
                route.method,
                route.path
            );
        }
    }

    /// The routers' `(method, path)`s, read from the sources of `http/`: `axum::Router` cannot
    /// list its routes. A path is a literal or a `const` of one of those files.
    fn routed_in_sources() -> BTreeSet<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
        let sources: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        let all = sources.concat();
        let call = [".", "route("].concat();
        let mut routed = BTreeSet::new();
        for source in &sources {
            for (start, _) in source.match_indices(&call) {
                let args = balanced(&source[start + call.len()..]);
                let Some(path) = route_path(&all, args) else {
                    continue; // not a Router's `.route` (the registry's, say)
                };
                for method in ["get", "post", "put", "patch", "delete", "any"] {
                    let token = format!("{method}(");
                    let called = args
                        .match_indices(&token)
                        .any(|(at, _)| at == 0 || !args.as_bytes()[at - 1].is_ascii_alphanumeric());
                    if called {
                        routed.insert((method.to_uppercase(), path.clone()));
                    }
                }
            }
        }
        routed
    }

    /// The text up to the parenthesis closing the one just opened.
    fn balanced(text: &str) -> &str {
        let mut depth = 1;
        for (at, byte) in text.bytes().enumerate() {
            depth += match byte {
                b'(' => 1,
                b')' => -1,
                _ => 0,
            };
            if depth == 0 {
                return &text[..at];
            }
        }
        text
    }

    fn route_path(source: &str, args: &str) -> Option<String> {
        let first = args.split(',').next()?.trim();
        if let Some(literal) = first.strip_prefix('"') {
            return Some(literal.trim_end_matches('"').to_owned());
        }
        let declared = format!("const {first}: &str = \"");
        let at = source.find(&declared)? + declared.len();
        Some(source[at..].split('"').next()?.to_owned())
    }

    #[test]
    fn the_document_lists_every_route_the_host_serves() {
        // Module routes come from manifests; the baseline exists only under `--bench-baseline`.
        let undocumented = |(method, path): &(String, String)| {
            method == "ANY" || path.starts_with("/v1/baseline/")
        };
        let routed: BTreeSet<_> = routed_in_sources()
            .into_iter()
            .filter(|route| !undocumented(route))
            .collect();
        let listed: BTreeSet<_> = HOST_ROUTES
            .iter()
            .map(|route| (route.method.to_owned(), route.path.to_owned()))
            .collect();
        assert!(routed.len() > 60, "the source scan found only {routed:?}");
        assert_eq!(
            routed.difference(&listed).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "served but not in HOST_ROUTES"
        );
        assert_eq!(
            listed.difference(&routed).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "in HOST_ROUTES but not served"
        );
    }

    #[test]
    fn path_parameters_inside_segments_count_too() {
        let names: Vec<&str> = path_parameters("/v1/billing/pay/{token}.pdf").collect();
        assert_eq!(names, ["token"]);
        let names: Vec<&str> =
            path_parameters("/v1/jobs/{id}/assignments/{technician_id}").collect();
        assert_eq!(names, ["id", "technician_id"]);
        assert_eq!(path_parameters("/v1/me").count(), 0);
    }
}
