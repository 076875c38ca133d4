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
use super::{AppState, api_keys, auth, roles, users};
use crate::auth::rbac::perm;
use crate::error::Result;
use crate::runtime::Manifest;
use crate::tenancy::provision::NewUser;

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
}

struct HostRoute {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    auth: Auth,
    /// The JSON body's schema.
    body: Option<SchemaOf>,
    /// The success answer: its status and schema.
    answer: Option<(&'static str, SchemaOf)>,
}

/// A host type's schema (utoipa's `ToSchema` derive), collecting the named schemas it refers
/// to into the document's components.
type SchemaOf = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

fn schema_of<T: ToSchema>(named: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(named);
    T::schema()
}

impl HostRoute {
    /// The body is a `T`.
    const fn body<T: ToSchema>(mut self) -> Self {
        self.body = Some(schema_of::<T>);
        self
    }

    /// Answers `status` with a `T`.
    const fn answers<T: ToSchema>(mut self, status: &'static str) -> Self {
        self.answer = Some((status, schema_of::<T>));
        self
    }
}

/// What `add` documents of an operation's body and success answer.
#[derive(Default)]
struct Described {
    body: Option<RefOr<Schema>>,
    answer: Option<(&'static str, RefOr<Schema>)>,
}

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
        body: None,
        answer: None,
    }
}

use Auth::{Operator, User};

const HOST_ROUTES: &[HostRoute] = &[
    route("GET", "/healthz", "Liveness", "platform", Auth::None),
    route(
        "GET",
        "/readyz",
        "Readiness (the database answers)",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/metrics",
        "Prometheus metrics",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/docs",
        "The browsable API reference (HTML)",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/docs/openapi.json",
        "This document with the host's routes only, without a login",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/problems",
        "Every problem code of the host (HTML)",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/problems/{code}",
        "What a problem code means and what to do (HTML)",
        "platform",
        Auth::None,
    ),
    route(
        "GET",
        "/v1/openapi.json",
        "This document",
        "platform",
        User(None),
    ),
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
    .body::<auth::RefreshRequest>(),
    route(
        "POST",
        "/v1/auth/accept-invite",
        "Set a password from an invitation",
        "auth",
        Auth::None,
    )
    .body::<auth::AcceptInvite>(),
    route(
        "GET",
        "/v1/me",
        "The caller, roles and permissions",
        "auth",
        User(None),
    )
    .answers::<auth::Me>("200"),
    route(
        "GET",
        "/v1/users",
        "List users (q, status, cursor, limit)",
        "users",
        User(Some(perm::USERS_READ)),
    )
    .answers::<Page<users::User>>("200"),
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
    ),
    route(
        "GET",
        "/v1/roles",
        "List roles",
        "roles",
        User(Some(perm::USERS_READ)),
    )
    .answers::<Page<roles::Role>>("200"),
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
    ),
    route(
        "GET",
        "/v1/audit",
        "The tenant's audit log",
        "audit",
        User(Some(perm::AUDIT_READ)),
    ),
    route(
        "GET",
        "/v1/api-keys",
        "List API keys (cursor, limit; never the key itself)",
        "api-keys",
        User(Some(perm::API_KEYS_MANAGE)),
    )
    .answers::<Page<api_keys::ApiKey>>("200"),
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
    ),
    route(
        "GET",
        "/v1/modules",
        "Published module versions",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "GET",
        "/v1/tenant/modules",
        "The module serving each slot for this tenant",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "PUT",
        "/v1/tenant/modules/{slot}",
        "Bind a slot to a version (digest or name@version)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "POST",
        "/v1/tenant/modules/{slot}/rollback",
        "Rebind the slot to its previous version",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "GET",
        "/v1/tenant/modules/{slot}/config",
        "The module's configuration and which of its secrets are set",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "PUT",
        "/v1/tenant/modules/{slot}/config",
        "Set the module's configuration (checked by its JSON Schema) and secrets (write-only)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "GET",
        "/v1/tenant/module-data",
        "Export the tenant's rows of a module's collections as JSON lines (?module=NAME)",
        "modules",
        User(Some(perm::MODULES_MANAGE)),
    ),
    route(
        "GET",
        "/v1/webhooks/endpoints",
        "List webhook endpoints (cursor, limit)",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "POST",
        "/v1/webhooks/endpoints",
        "Create a webhook endpoint; the answer shows its secret, once",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "GET",
        "/v1/webhooks/endpoints/{id}",
        "A webhook endpoint",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "PATCH",
        "/v1/webhooks/endpoints/{id}",
        "Change a webhook endpoint (url, description, event_types, enabled)",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "DELETE",
        "/v1/webhooks/endpoints/{id}",
        "Delete a webhook endpoint and its delivery log",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "POST",
        "/v1/webhooks/endpoints/{id}/rotate-secret",
        "A new secret, shown once; the old one signs for 24 h more",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "GET",
        "/v1/webhooks/endpoints/{id}/deliveries",
        "The endpoint's delivery attempts, newest first",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "POST",
        "/v1/webhooks/endpoints/{id}/test",
        "Send a signed webhook.test event now and answer the outcome",
        "webhooks",
        User(Some(perm::WEBHOOKS_MANAGE)),
    ),
    route(
        "GET",
        "/v1/tenant/payments",
        "The tenant's connected Stripe account",
        "payments",
        User(Some(perm::SETTINGS_MANAGE)),
    ),
    route(
        "PUT",
        "/v1/tenant/payments",
        "Connect the tenant's Stripe account (stripe_account: acct_...)",
        "payments",
        User(Some(perm::SETTINGS_MANAGE)),
    ),
    route(
        "POST",
        "/v1/webhooks/stripe",
        "Stripe's webhook deliveries, verified by Stripe-Signature",
        "payments",
        Auth::None,
    ),
    route(
        "POST",
        "/v1/operator/modules",
        "Publish a component (body: its bytes)",
        "operator",
        Operator,
    ),
    route(
        "GET",
        "/v1/operator/modules/{version}/conformance",
        "A version's conformance result, every step of its last run",
        "operator",
        Operator,
    ),
    route(
        "POST",
        "/v1/operator/modules/{version}/conformance",
        "Run the version's conformance pack again (202, pending)",
        "operator",
        Operator,
    ),
    route(
        "POST",
        "/v1/operator/modules/{version}/conformance/override",
        "Make a version bindable whatever its pack said ({\"reason\"}, recorded)",
        "operator",
        Operator,
    ),
    route(
        "GET",
        "/v1/operator/tenants",
        "List tenants",
        "operator",
        Operator,
    ),
    route(
        "POST",
        "/v1/operator/tenants",
        "Create a tenant and its owner",
        "operator",
        Operator,
    ),
    route(
        "POST",
        "/v1/operator/tenants/{id}/suspend",
        "Suspend a tenant",
        "operator",
        Operator,
    ),
    route(
        "POST",
        "/v1/operator/tenants/{id}/activate",
        "Reactivate a tenant",
        "operator",
        Operator,
    ),
];

async fn document(ctx: Tenant, State(state): State<AppState>) -> Result<impl IntoResponse> {
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
    Ok(Json(render(&modules)?))
}

/// The host's routes only, for `/docs` before the reader gives a credential: no login, and
/// nothing in it depends on a tenant.
pub async fn public_document() -> Result<impl IntoResponse> {
    Ok(Json(render(&[])?))
}

/// The document for a tenant served by these modules.
fn render(modules: &[Arc<Manifest>]) -> Result<serde_json::Value> {
    let mut paths = Paths::new();
    let mut named = Vec::new();
    for route in HOST_ROUTES {
        let described = Described {
            body: route.body.map(|schema| schema(&mut named)),
            answer: route
                .answer
                .map(|(status, schema)| (status, schema(&mut named))),
        };
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
        Some((status, schema)) => (
            status,
            ResponseBuilder::new().description("Success").content(
                "application/json",
                ContentBuilder::new().schema(Some(schema)).build(),
            ),
        ),
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
    if let Some(schema) = described.body {
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
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
    use super::*;

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
