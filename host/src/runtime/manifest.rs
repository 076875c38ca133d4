//! The manifest a module returns from `manifest()`: what it is, which slot it fills, its routes
//! and their permissions, and what it may touch. The capabilities check their grants against it;
//! the router and the authorizer read the routes. Parsed strictly: an unknown field is a typo
//! that would otherwise silently grant nothing.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::types::is_valid_pattern;
use crate::module_config::ConfigSpec;
use crate::storage::collections::{Collections, spec as collection_spec};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// Semver, for example `1.4.0` or `2.0.0-rc.1`.
    pub version: String,
    pub slot: String,
    pub routes: Vec<Route>,
    #[serde(default)]
    pub tables: Tables,
    #[serde(default)]
    pub events: Events,
    /// Optional capabilities beyond the base world: `payments` only (an unknown name is a
    /// typo and refused).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// What the module asks for; the operator decides.
    #[serde(default)]
    pub limits: RequestedLimits,
    /// Recurring entry points: each due run delivers a `schedule.tick` event to this module
    /// only (`scheduler`).
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Storage the module owns, created by the host when a version is published
    /// (`storage::collections`); reached through `store` by bare name, by this module only.
    #[serde(default, skip_serializing_if = "Collections::is_empty")]
    pub collections: Collections,
    /// The tenant's configuration (its JSON Schema) and the names of its secrets
    /// (`module_config`).
    #[serde(default, skip_serializing_if = "ConfigSpec::is_empty")]
    pub config: ConfigSpec,
}

/// A scheduled entry point: `{"name": "extend-horizon", "at": "daily 01:00"}`, in the
/// tenant's time zone (`scheduler::spec` lists the forms of `at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// A pattern under the slot, for example `/customers/{id}`.
    pub path: String,
    /// The permission the caller needs, for example `customers.read`.
    pub permission: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub write: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    #[serde(default)]
    pub emit: Vec<String>,
    #[serde(default)]
    pub subscribe: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedLimits {
    pub deadline_ms: Option<u64>,
    pub memory_mib: Option<u32>,
    pub host_calls: Option<u32>,
    pub rows_returned: Option<u32>,
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl Manifest {
    pub fn parse(json: &str) -> Result<Self> {
        let manifest: Self =
            serde_json::from_str(json).map_err(|error| rejected(error.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        for (what, name) in [("name", &self.name), ("slot", &self.slot)] {
            if !is_identifier(name) {
                return Err(rejected(format!(
                    "{what} `{name}` is not lower-case letters, digits and dashes"
                )));
            }
        }
        if !is_semver(&self.version) {
            return Err(rejected(format!(
                "version `{}` is not semver",
                self.version
            )));
        }
        for route in &self.routes {
            if !METHODS.contains(&route.method.as_str()) {
                return Err(rejected(format!(
                    "route method `{}` is not one of {METHODS:?}",
                    route.method
                )));
            }
            if !route.path.starts_with('/') {
                return Err(rejected(format!(
                    "route path `{}` does not start with /",
                    route.path
                )));
            }
            if route.permission.is_empty() {
                return Err(rejected(format!(
                    "route {} {} has no permission",
                    route.method, route.path
                )));
            }
        }
        for (what, patterns, prefixes) in [
            ("emit", &self.events.emit, false),
            ("subscribe", &self.events.subscribe, true),
        ] {
            if let Some(bad) = patterns
                .iter()
                .find(|pattern| !is_valid_pattern(pattern) || (!prefixes && pattern.ends_with('*')))
            {
                return Err(rejected(format!(
                    "events.{what} `{bad}` is not an event type{}",
                    if prefixes {
                        " or a `prefix.*` pattern"
                    } else {
                        ""
                    }
                )));
            }
        }
        if let Some(unknown) = self.capabilities.iter().find(|c| *c != "payments") {
            return Err(rejected(format!(
                "capability `{unknown}` is not one of [\"payments\"]"
            )));
        }
        for (i, schedule) in self.schedules.iter().enumerate() {
            if !is_identifier(&schedule.name) {
                return Err(rejected(format!(
                    "schedule name `{}` is not lower-case letters, digits and dashes",
                    schedule.name
                )));
            }
            if self.schedules[..i].iter().any(|s| s.name == schedule.name) {
                return Err(rejected(format!(
                    "schedule `{}` is declared twice",
                    schedule.name
                )));
            }
            crate::scheduler::spec::Spec::parse(&schedule.at).map_err(rejected)?;
        }
        self.validate_collections()?;
        self.config.validate().map_err(rejected)?;
        super::routes::check_patterns(&self.routes).map_err(rejected)
    }

    /// Collections follow their own rules, and none may share a name with a granted store
    /// table: the bare name must mean one table.
    fn validate_collections(&self) -> Result<()> {
        collection_spec::validate(&self.collections)
            .map_err(|why| rejected(format!("collections: {why}")))?;
        let granted = self.tables.read.iter().chain(&self.tables.write);
        if let Some(clash) = granted
            .into_iter()
            .find(|table| self.collections.contains_key(*table))
        {
            return Err(rejected(format!(
                "collection `{clash}` has the name of a granted store table"
            )));
        }
        Ok(())
    }
}

fn rejected(detail: String) -> Error {
    Error::problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "module_manifest_invalid",
        detail,
    )
}

/// A name, or a slot: lower-case letters, digits and dashes, starting with a letter, at most
/// 64 characters. Slot names in URLs are checked with it before any look-up.
pub fn is_identifier(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_digit())
                && (part == &"0" || !part.starts_with('0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_full_manifest_and_refuses_typos() {
        let manifest = Manifest::parse(
            r#"{"name": "crm", "version": "1.2.0-rc.1", "slot": "crm",
                "routes": [{"method": "GET", "path": "/customers/{id}", "permission": "customers.read"}],
                "tables": {"read": ["customers"], "write": ["customers"]},
                "events": {"emit": ["customer.created"], "subscribe": []},
                "capabilities": [], "limits": {"memory_mib": 32}}"#,
        )
        .unwrap();
        assert_eq!(manifest.limits.memory_mib, Some(32));
        assert!(manifest.schedules.is_empty());
        let scheduled = Manifest::parse(
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [],
                "schedules": [{"name": "extend-horizon", "at": "daily 01:00"}]}"#,
        )
        .unwrap();
        assert_eq!(scheduled.schedules[0].at, "daily 01:00");
        for bad in [
            r#"{"name": "crm", "version": "1.2", "slot": "crm", "routes": []}"#,
            r#"{"name": "CRM", "version": "1.2.0", "slot": "crm", "routes": []}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [], "tabels": {}}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [{"method": "TRACE", "path": "/", "permission": "x"}]}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [{"method": "GET", "path": "/{id}", "permission": "x"}, {"method": "GET", "path": "/{key}", "permission": "x"}]}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [], "events": {"subscribe": ["*"]}}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [], "events": {"emit": ["job.*"]}}"#,
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [], "capabilities": ["payment"]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "schedules": [{"name": "x", "at": "weekly 01:00"}]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "schedules": [{"name": "X", "at": "daily 01:00"}]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "schedules": [{"name": "x", "at": "daily 01:00"}, {"name": "x", "at": "daily 02:00"}]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "schedules": [{"name": "x", "at": "daily 01:00", "tz": "UTC"}]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "collections": {"Bad": {"columns": {"a": {"type": "text"}}}}}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "tables": {"read": ["crm_customers"]}, "collections": {"crm_customers": {"columns": {"a": {"type": "text"}}}}}"#,
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }
}
