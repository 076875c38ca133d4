//! `GET` and `PUT /v1/tenant/modules/{slot}/config`: a tenant's configuration and secrets of
//! the module serving a slot (`module_config`), for `modules.manage`. Stored by module name,
//! so they follow the module across its versions and stay behind when the slot moves to
//! another module. `PUT {"config": {...}, "secrets": {"api-key": "...", "old": null}}`: the
//! configuration (if given) replaces the stored one after the manifest's JSON Schema accepts it
//! (422 with a field per violation); each named secret is set, or removed with `null`, others
//! stay. Secrets are write-only: answers name them with `set: true/false`, never a value.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::extract::{Json, Path, Tenant};
use crate::auth::rbac::perm;
use crate::error::{Error, FieldError, Result};
use crate::module_config::{self, MAX_SECRET_BYTES, Stored};
use crate::runtime::Manifest;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/tenant/modules/{slot}/config", get(show).put(update))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ModuleConfig)]
pub(super) struct Answer {
    module: String,
    config: Value,
    secrets: Vec<SecretState>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SecretState {
    name: String,
    set: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ModuleConfigUpdate)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    config: Option<Value>,
    #[serde(default)]
    secrets: BTreeMap<String, Option<String>>,
}

/// The manifest of the module serving `slot` for this tenant.
async fn serving(ctx: &Tenant, state: &AppState, slot: &str) -> Result<std::sync::Arc<Manifest>> {
    let digest = state
        .registry
        .serving(&ctx.principal.module_bindings, slot)
        .ok_or_else(|| Error::not_found("slot"))?;
    Ok(state.registry.module(&digest).await?.manifest.clone())
}

fn answer(manifest: &Manifest, stored: Stored) -> Answer {
    Answer {
        module: manifest.name.clone(),
        config: stored.config,
        secrets: manifest
            .config
            .secrets
            .iter()
            .map(|name| SecretState {
                name: name.clone(),
                set: stored.secrets.contains_key(name),
            })
            .collect(),
    }
}

async fn show(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let manifest = serving(&ctx, &state, &slot).await?;
    let stored = module_config::read(&mut ctx.tx, &manifest.name).await?;
    Ok(Json(answer(&manifest, stored)))
}

async fn update(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
    Json(body): Json<Update>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let manifest = serving(&ctx, &state, &slot).await?;
    let mut errors = match &body.config {
        Some(config) => manifest.config.check(config),
        None => Vec::new(),
    };
    for (name, value) in &body.secrets {
        if !manifest.config.secrets.contains(name) {
            errors.push(FieldError::new(
                format!("secrets.{name}"),
                "the module declares no such secret",
            ));
        } else if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > MAX_SECRET_BYTES)
        {
            errors.push(FieldError::new(
                format!("secrets.{name}"),
                format!("1 to {MAX_SECRET_BYTES} bytes, or null to remove it"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let tenant = ctx.tx.tenant_id();
    let mut stored = module_config::read(&mut ctx.tx, &manifest.name).await?;
    if let Some(config) = body.config {
        stored.config = config;
    }
    for (name, value) in &body.secrets {
        match value {
            Some(value) => {
                let sealed = state
                    .registry
                    .sealer()
                    .seal(tenant, &manifest.name, name, value);
                stored.secrets.insert(name.clone(), sealed);
            }
            None => {
                stored.secrets.remove(name);
            }
        }
    }
    module_config::write(&mut ctx.tx, &manifest.name, &stored).await?;
    ctx.audit(
        "module.configured",
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot, "module": manifest.name,
                           "secrets_changed": body.secrets.keys().collect::<Vec<_>>()}),
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(answer(&manifest, stored)))
}
