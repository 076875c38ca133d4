//! The manifest a module returns from `manifest()`: what it is, which slot it fills, its routes
//! and their permissions, and what it may touch. The capabilities check their grants against it;
//! the router and the authorizer read the routes. Parsed strictly: an unknown field is a typo
//! that would otherwise silently grant nothing.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::capabilities::http;
use super::route_schema;
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
    /// What the module does, in a sentence or two: shown to tenant admins at consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Storage the module owns, created by the host when a version is published
    /// (`storage::collections`); reached through `store` by bare name, by this module only.
    #[serde(default, skip_serializing_if = "Collections::is_empty")]
    pub collections: Collections,
    /// The tenant's configuration (its JSON Schema) and the names of its secrets
    /// (`module_config`).
    #[serde(default, skip_serializing_if = "ConfigSpec::is_empty")]
    pub config: ConfigSpec,
    /// The hosts the `http` capability may reach (`capabilities::http`).
    #[serde(default, skip_serializing_if = "Outbound::is_empty")]
    pub outbound: Outbound,
}

/// `{"hosts": ["api.example.com", "*.example.org"]}`: the only hosts a module granted `http`
/// may send requests to, shown to the tenant at consent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    #[serde(default)]
    pub hosts: Vec<String>,
}

impl Outbound {
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// What a module may touch, as a tenant admin sees it at consent and accepts it on bind
/// (`PUT /v1/tenant/modules/{slot}` with `"accept"`). Sets are sorted, so two manifests that
/// ask for the same things give the same object whatever their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    pub tables: Tables,
    pub capabilities: Vec<String>,
    /// The permissions its routes require of callers.
    pub permissions: Vec<String>,
    pub events: Events,
    pub limits: RequestedLimits,
    /// The collections the module keeps in its own schema (the tenant's data it will hold).
    #[serde(default)]
    pub collections: Vec<String>,
    /// The names of the secrets the tenant may give it.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The hosts it may send HTTP requests to (`http`); left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_hosts: Vec<String>,
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
    /// One line for the API reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The JSON Schema of the request body (`route_schema` bounds and checks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// The JSON Schema of each documented answer, by status code (`"201"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub responses: BTreeMap<String, serde_json::Value>,
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
/// The optional capabilities a manifest may declare.
const CAPABILITIES: [&str; 2] = [super::capabilities::payments::CAPABILITY, http::CAPABILITY];

impl Manifest {
    pub fn parse(json: &str) -> Result<Self> {
        let manifest: Self =
            serde_json::from_str(json).map_err(|error| rejected(error.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The grants a tenant accepts for this module.
    pub fn grants(&self) -> Grants {
        let sorted = |items: &[String]| {
            let mut items = items.to_vec();
            items.sort();
            items.dedup();
            items
        };
        let permissions: Vec<String> = self.routes.iter().map(|r| r.permission.clone()).collect();
        Grants {
            tables: Tables {
                read: sorted(&self.tables.read),
                write: sorted(&self.tables.write),
            },
            capabilities: sorted(&self.capabilities),
            permissions: sorted(&permissions),
            events: Events {
                emit: sorted(&self.events.emit),
                subscribe: sorted(&self.events.subscribe),
            },
            limits: self.limits.clone(),
            collections: self.collections.keys().cloned().collect(),
            secrets: sorted(&self.config.secrets),
            outbound_hosts: sorted(&self.outbound.hosts),
        }
    }

    /// The namespace of a publisher's module (`acme` of `acme/route-plus`); None for a bare
    /// name (built-ins, the operator's uploads).
    pub fn namespace(&self) -> Option<&str> {
        self.name.split_once('/').map(|(namespace, _)| namespace)
    }

    fn validate(&self) -> Result<()> {
        self.validate_name()?;
        if !is_identifier(&self.slot) {
            return Err(rejected(format!(
                "slot `{}` is not lower-case letters, digits and dashes",
                self.slot
            )));
        }
        self.validate_slot_free()?;
        self.validate_description()?;
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
        if let Some(unknown) = self
            .capabilities
            .iter()
            .find(|c| !CAPABILITIES.contains(&c.as_str()))
        {
            return Err(rejected(format!(
                "capability `{unknown}` is not one of {CAPABILITIES:?}"
            )));
        }
        self.validate_outbound()?;
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
        super::routes::check_patterns(&self.routes).map_err(rejected)?;
        self.validate_route_schemas()
    }

    /// Each route's summary and schemas, and their total size (`route_schema`).
    fn validate_route_schemas(&self) -> Result<()> {
        let mut total = 0;
        for route in &self.routes {
            total += route_schema::check_route(
                route.summary.as_deref(),
                route.request.as_ref(),
                &route.responses,
            )
            .map_err(|error| rejected(format!("route {} {}: {error}", route.method, route.path)))?;
        }
        if total > route_schema::MAX_MANIFEST_SCHEMA_BYTES {
            return Err(rejected(format!(
                "the route schemas take {total} bytes, more than {}",
                route_schema::MAX_MANIFEST_SCHEMA_BYTES
            )));
        }
        Ok(())
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

impl Manifest {
    /// `http` and `outbound.hosts` come together: the capability with no host reaches
    /// nothing, hosts without it are a manifest that forgot to ask; each entry is a host name
    /// pattern (`capabilities::http::check_host_pattern`).
    fn validate_outbound(&self) -> Result<()> {
        let granted = self.capabilities.iter().any(|c| c == http::CAPABILITY);
        match (granted, self.outbound.hosts.is_empty()) {
            (true, true) => {
                return Err(rejected(
                    "capability `http` needs the hosts it may reach in `outbound.hosts`".into(),
                ));
            }
            (false, false) => {
                return Err(rejected(
                    "`outbound.hosts` needs the capability `http` in `capabilities`".into(),
                ));
            }
            _ => {}
        }
        if self.outbound.hosts.len() > http::MAX_HOSTS {
            return Err(rejected(format!(
                "`outbound.hosts` lists more than {} hosts",
                http::MAX_HOSTS
            )));
        }
        for host in &self.outbound.hosts {
            http::check_host_pattern(host)
                .map_err(|why| rejected(format!("outbound host `{host}`: {why}")))?;
        }
        Ok(())
    }

    /// `module` or `namespace/module`, each part an identifier.
    fn validate_name(&self) -> Result<()> {
        let valid = match self.name.split_once('/') {
            Some((namespace, module)) => is_identifier(namespace) && is_identifier(module),
            None => is_identifier(&self.name),
        };
        if !valid {
            return Err(rejected(format!(
                "name `{}` is not `module` or `namespace/module`, each lower-case letters, digits and dashes",
                self.name
            )));
        }
        Ok(())
    }

    /// The slot is not one of the host's own `/v1` prefixes (`reserved_slots`).
    fn validate_slot_free(&self) -> Result<()> {
        if super::reserved_slots::is_reserved(&self.slot) {
            return Err(Error::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "module_slot_reserved",
                format!(
                    "slot `{}` is reserved: `/v1/{}/...` is the host's own",
                    self.slot, self.slot
                ),
            ));
        }
        Ok(())
    }

    fn validate_description(&self) -> Result<()> {
        match &self.description {
            Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => Err(rejected(format!(
                "description is longer than {MAX_DESCRIPTION_CHARS} characters"
            ))),
            Some(text) if text.chars().any(|c| c.is_control() && c != '\n') => {
                Err(rejected("description holds control characters".to_owned()))
            }
            _ => Ok(()),
        }
    }
}

impl Grants {
    /// Whether a module asking for `self` asks for nothing beyond `accepted`: every set a
    /// subset, every requested limit at most the accepted one (an unset limit is the default,
    /// which is never more than a set one).
    pub fn within(&self, accepted: &Grants) -> bool {
        let subset = |asked: &[String], given: &[String]| asked.iter().all(|a| given.contains(a));
        let limit = |asked: Option<u64>, given: Option<u64>| match (asked, given) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(asked), Some(given)) => asked <= given,
        };
        let (a, g) = (&self.limits, &accepted.limits);
        subset(&self.tables.read, &accepted.tables.read)
            && subset(&self.tables.write, &accepted.tables.write)
            && subset(&self.capabilities, &accepted.capabilities)
            && subset(&self.permissions, &accepted.permissions)
            && subset(&self.events.emit, &accepted.events.emit)
            && subset(&self.events.subscribe, &accepted.events.subscribe)
            && subset(&self.collections, &accepted.collections)
            && subset(&self.secrets, &accepted.secrets)
            && subset(&self.outbound_hosts, &accepted.outbound_hosts)
            && limit(a.deadline_ms, g.deadline_ms)
            && limit(a.memory_mib.map(u64::from), g.memory_mib.map(u64::from))
            && limit(a.host_calls.map(u64::from), g.host_calls.map(u64::from))
            && limit(
                a.rows_returned.map(u64::from),
                g.rows_returned.map(u64::from),
            )
    }
}

/// A description longer than this is not a description.
const MAX_DESCRIPTION_CHARS: usize = 2000;

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

pub fn is_semver(version: &str) -> bool {
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

    fn grants_of(json: &str) -> Grants {
        Manifest::parse(json).unwrap().grants()
    }

    #[test]
    fn names_may_carry_one_namespace() {
        let base = r#""version": "1.0.0", "slot": "routing", "routes": []"#;
        let namespaced = Manifest::parse(&format!(r#"{{"name": "acme/route-plus", {base}}}"#));
        assert_eq!(namespaced.unwrap().namespace(), Some("acme"));
        assert_eq!(
            Manifest::parse(&format!(r#"{{"name": "crm", {base}}}"#))
                .unwrap()
                .namespace(),
            None
        );
        for bad in ["acme/", "/x", "a/b/c", "Acme/x", "acme/../x", "acme//x"] {
            let parsed = Manifest::parse(&format!(r#"{{"name": "{bad}", {base}}}"#));
            assert!(parsed.is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slot_that_is_a_host_prefix_is_refused_with_its_own_code() {
        for slot in [
            "publisher",
            "operator",
            "users",
            "tenant",
            "scheduled-tasks",
        ] {
            let error = Manifest::parse(&format!(
                r#"{{"name": "acme/x", "version": "1.0.0", "slot": "{slot}", "routes": []}}"#
            ))
            .unwrap_err();
            assert_eq!(error.code(), "module_slot_reserved", "{slot}");
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn grants_are_sorted_and_an_upgrade_within_them_needs_no_new_consent() {
        let small = grants_of(
            r#"{"name": "a/x", "version": "1.0.0", "slot": "x", "description": "X",
                "routes": [{"method": "GET", "path": "/b", "permission": "a.read"},
                           {"method": "GET", "path": "/a", "permission": "a.read"}],
                "tables": {"read": ["crm_customers"]}}"#,
        );
        assert_eq!(small.permissions, ["a.read"]);
        let more = grants_of(
            r#"{"name": "a/x", "version": "1.1.0", "slot": "x",
                "routes": [{"method": "GET", "path": "/a", "permission": "a.read"}],
                "tables": {"read": ["crm_customers"], "write": ["crm_customers"]}}"#,
        );
        let higher_limit = grants_of(
            r#"{"name": "a/x", "version": "1.2.0", "slot": "x", "routes": [],
                "limits": {"deadline_ms": 500}}"#,
        );
        assert!(small.within(&small) && small.within(&more));
        assert!(!more.within(&small));
        assert!(!higher_limit.within(&small));
        assert!(Grants::default().within(&small));
    }

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
            r#"{"name": "crm", "version": "1.2.0", "slot": "crm", "routes": [{"method": "GET", "path": "/", "permission": "x", "responses": {"200": {"type": "nope"}}}]}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "collections": {"Bad": {"columns": {"a": {"type": "text"}}}}}"#,
            r#"{"name": "wo", "version": "1.0.0", "slot": "wo", "routes": [], "tables": {"read": ["crm_customers"]}, "collections": {"crm_customers": {"columns": {"a": {"type": "text"}}}}}"#,
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outbound_hosts_come_with_the_http_capability_and_need_consent_to_grow() {
        let manifest = |capabilities: &str, hosts: &str| {
            format!(
                r#"{{"name": "a/x", "version": "1.0.0", "slot": "x", "routes": [],
                    "capabilities": {capabilities}, "outbound": {{"hosts": {hosts}}}}}"#
            )
        };
        let one = grants_of(&manifest(r#"["http"]"#, r#"["api.example.com"]"#));
        let two = grants_of(&manifest(
            r#"["http"]"#,
            r#"["api.example.com", "*.example.org"]"#,
        ));
        assert_eq!(two.outbound_hosts, ["*.example.org", "api.example.com"]);
        assert!(one.within(&two) && !two.within(&one));
        for (capabilities, hosts, why) in [
            (r#"["http"]"#, "[]", "needs the hosts"),
            ("[]", r#"["api.example.com"]"#, "needs the capability"),
            (r#"["http"]"#, r#"["10.0.0.1"]"#, "an IP address"),
            (
                r#"["http"]"#,
                r#"["api.example.com:8443"]"#,
                "not a lower-case host",
            ),
        ] {
            let error = Manifest::parse(&manifest(capabilities, hosts)).unwrap_err();
            assert_eq!(error.code(), "module_manifest_invalid");
            assert!(error.to_string().contains(why), "{error}");
        }
    }

    #[test]
    fn names_the_route_whose_schema_is_refused() {
        let manifest = |request: &str| {
            format!(
                r#"{{"name": "crm", "version": "1.0.0", "slot": "crm", "routes": [
                    {{"method": "POST", "path": "/customers", "permission": "crm.write",
                      "summary": "Create a customer", "request": {request},
                      "responses": {{"201": {{"type": "object"}}}}}}]}}"#
            )
        };
        let parsed = Manifest::parse(&manifest(r#"{"type": "object"}"#)).unwrap();
        assert_eq!(
            parsed.routes[0].summary.as_deref(),
            Some("Create a customer")
        );
        assert!(parsed.routes[0].responses.contains_key("201"));
        let error = Manifest::parse(&manifest(r#"{"type": 7}"#)).unwrap_err();
        assert_eq!(error.code(), "module_manifest_invalid");
        assert!(
            error
                .to_string()
                .contains("route POST /customers: request schema"),
            "{error}"
        );
        let many: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    r#"{{"method": "GET", "path": "/r{i}", "permission": "x",
                        "request": {{"description": "{}"}}}}"#,
                    "d".repeat(60_000)
                )
            })
            .collect();
        let total = format!(
            r#"{{"name": "crm", "version": "1.0.0", "slot": "crm", "routes": [{}]}}"#,
            many.join(",")
        );
        assert!(
            Manifest::parse(&total)
                .unwrap_err()
                .to_string()
                .contains("route schemas take")
        );
    }
}
