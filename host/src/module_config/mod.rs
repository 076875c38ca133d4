//! Per-tenant configuration and secrets of a module (issue 23 item 6). A manifest declares
//! `config: {"schema": <JSON Schema of the configuration object>, "secrets": ["api-key"]}`;
//! tenant admins set both (`http/module_config.rs`); the module reads them through the
//! `config` import (`runtime/capabilities/config.rs`, backed by [`PgConfig`]).
//!
//! Stored in `module_settings` (a tenant table under RLS, migration 0016), keyed by module
//! name, so every version of the module sees them and no other module can. Secrets are
//! write-only over HTTP and sealed at rest ([`seal`]) with the host's key, bound to tenant,
//! module and secret name, so a value copied to another tenant's or module's row does not open.

pub mod seal;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use seal::Sealer;

use crate::error::FieldError;
use crate::runtime::capabilities::config::{ConfigBackend, Settings};
use crate::runtime::capabilities::store::BoxFuture;
use crate::runtime::manifest::is_identifier;
use crate::storage::SharedTx;
use crate::tenancy::TenantTx;

/// Most secrets a module may declare.
pub const MAX_SECRETS: usize = 32;
/// Longest secret value, in bytes.
pub const MAX_SECRET_BYTES: usize = 4_096;

/// The manifest's `config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    /// JSON Schema of the configuration object; none: the module takes no configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Names of the secrets the tenant may set (lower-case letters, digits, dashes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

impl ConfigSpec {
    pub fn is_empty(&self) -> bool {
        self.schema.is_none() && self.secrets.is_empty()
    }

    /// Checks the declaration: the schema compiles (no remote references: the validator is
    /// built without network or file resolution) and the secret names are distinct names.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(schema) = &self.schema {
            jsonschema::validator_for(schema)
                .map_err(|error| format!("config.schema is not a usable JSON Schema: {error}"))?;
        }
        if self.secrets.len() > MAX_SECRETS {
            return Err(format!("config.secrets: at most {MAX_SECRETS}"));
        }
        for (i, name) in self.secrets.iter().enumerate() {
            if !is_identifier(name) {
                return Err(format!(
                    "config.secrets: `{name}` is not lower-case letters, digits and dashes"
                ));
            }
            if self.secrets[..i].contains(name) {
                return Err(format!("config.secrets: `{name}` is declared twice"));
            }
        }
        Ok(())
    }

    /// The field errors of a configuration object against the schema (`config` without a
    /// schema must be `{}`).
    pub fn check(&self, config: &Value) -> Vec<FieldError> {
        if !config.is_object() {
            return vec![FieldError::new("config", "must be an object")];
        }
        let Some(schema) = &self.schema else {
            return match config.as_object().is_some_and(|o| o.is_empty()) {
                true => Vec::new(),
                false => vec![FieldError::new(
                    "config",
                    "this module takes no configuration",
                )],
            };
        };
        let Ok(validator) = jsonschema::validator_for(schema) else {
            return vec![FieldError::new("config", "the module's schema is unusable")];
        };
        validator
            .iter_errors(config)
            .map(|error| {
                let path = error.instance_path().to_string();
                FieldError::new(
                    format!("config{}", path.replace('/', ".")),
                    error.to_string(),
                )
            })
            .collect()
    }
}

/// A tenant's stored settings of one module: the configuration and the sealed secrets.
#[derive(Debug, Default)]
pub struct Stored {
    pub config: Value,
    pub secrets: BTreeMap<String, String>,
}

/// The stored settings of `module` in the transaction's tenant (empty when never set).
pub async fn read(tx: &mut TenantTx, module: &str) -> sqlx::Result<Stored> {
    let row: Option<(Value, sqlx::types::Json<BTreeMap<String, String>>)> = sqlx::query_as(
        "SELECT config, secrets FROM module_settings WHERE tenant_id = $1 AND module = $2 FOR UPDATE",
    )
    .bind(tx.tenant_id())
    .bind(module)
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some((config, secrets)) => Stored {
            config,
            secrets: secrets.0,
        },
        None => Stored {
            config: Value::Object(Default::default()),
            secrets: BTreeMap::new(),
        },
    })
}

/// Writes the settings of `module` for the transaction's tenant.
pub async fn write(tx: &mut TenantTx, module: &str, stored: &Stored) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO module_settings (tenant_id, module, config, secrets, updated_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, module) DO UPDATE
         SET config = EXCLUDED.config, secrets = EXCLUDED.secrets,
             updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
    )
    .bind(tx.tenant_id())
    .bind(module)
    .bind(&stored.config)
    .bind(sqlx::types::Json(&stored.secrets))
    .bind(tx.user_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The `config` capability's backend: the call's tenant and module, read in the call's
/// transaction.
pub struct PgConfig {
    tx: SharedTx,
    tenant: Uuid,
    module: String,
    sealer: Arc<Sealer>,
}

impl PgConfig {
    pub fn new(tx: SharedTx, tenant: Uuid, module: String, sealer: Arc<Sealer>) -> Self {
        Self {
            tx,
            tenant,
            module,
            sealer,
        }
    }
}

impl ConfigBackend for PgConfig {
    fn load(&mut self) -> BoxFuture<'_, anyhow::Result<Settings>> {
        Box::pin(async move {
            let mut guard = self.tx.lock().await;
            let tx = guard
                .as_mut()
                .ok_or_else(|| anyhow::anyhow!("the request's transaction has ended"))?;
            let row: Option<(Value, sqlx::types::Json<BTreeMap<String, String>>)> = sqlx::query_as(
                "SELECT config, secrets FROM module_settings WHERE tenant_id = $1 AND module = $2",
            )
            .bind(self.tenant)
            .bind(&self.module)
            .fetch_optional(tx.conn())
            .await?;
            let Some((config, sealed)) = row else {
                return Ok(Settings {
                    config: "{}".into(),
                    secrets: HashMap::new(),
                });
            };
            let secrets = sealed
                .0
                .iter()
                .filter_map(|(name, sealed)| {
                    let opened = self.sealer.open(self.tenant, &self.module, name, sealed);
                    if opened.is_none() {
                        tracing::warn!(module = %self.module, secret = %name, "a stored secret does not open for this tenant and module");
                    }
                    Some((name.clone(), opened?))
                })
                .collect();
            Ok(Settings {
                config: config.to_string(),
                secrets,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_declaration_needs_a_usable_schema_and_distinct_names() {
        let spec = |value: Value| serde_json::from_value::<ConfigSpec>(value).unwrap();
        spec(json!({"schema": {"type": "object"}, "secrets": ["api-key"]}))
            .validate()
            .unwrap();
        for bad in [
            json!({"schema": {"type": "nonsense"}}),
            json!({"secrets": ["API_KEY"]}),
            json!({"secrets": ["a", "a"]}),
        ] {
            assert!(spec(bad.clone()).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn configuration_is_checked_against_the_schema_with_field_paths() {
        let spec = ConfigSpec {
            schema: Some(json!({"type": "object", "required": ["region"],
                "properties": {"region": {"type": "string"}, "limits": {"type": "object",
                "properties": {"daily": {"type": "integer", "minimum": 1}}}},
                "additionalProperties": false})),
            secrets: vec![],
        };
        assert!(spec.check(&json!({"region": "eu"})).is_empty());
        let errors = spec.check(&json!({"region": 3, "limits": {"daily": 0}}));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"config.region") && fields.contains(&"config.limits.daily"),
            "{fields:?}"
        );
        assert_eq!(ConfigSpec::default().check(&json!({"x": 1})).len(), 1);
        assert!(ConfigSpec::default().check(&json!({})).is_empty());
    }
}
