//! The manifest a module declares, as a `const`: identity, the route table (which also
//! dispatches requests, see [`crate::router`]), the tables and events it may touch, and the
//! limits it asks the operator for. Rendered to the JSON the host parses strictly (unknown
//! fields are refused there).

use serde::Serialize;

use crate::http::{Request, Response};
use crate::problem::Problem;

/// A route's handler: a plain function of the request.
pub type Handler = fn(&Request) -> Result<Response, Problem>;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Manifest {
    pub name: &'static str,
    /// Semver.
    pub version: &'static str,
    pub slot: &'static str,
    pub routes: &'static [Route],
    pub tables: Tables,
    pub events: Events,
    /// Optional capabilities: `&["payments"]` for [`crate::payments`], `&["http"]` for
    /// [`crate::outbound`] (with the hosts in `outbound`).
    pub capabilities: &'static [&'static str],
    /// Left out of the JSON when nothing is requested, so most manifests stay as they were.
    #[serde(skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// Recurring entry points, in the tenant's time zone: each due run arrives at `on_event`
    /// as a `schedule.tick` event whose payload names the task ([`Schedule`]). Left out of
    /// the JSON when there are none.
    #[serde(skip_serializing_if = "<[Schedule]>::is_empty")]
    pub schedules: &'static [Schedule],
    /// What the module does, shown to tenant admins when they consent to its grants. A
    /// partner's module is named `namespace/module` (its publisher's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'static str>,
    /// Storage the module owns: the host creates these tables when the version is published,
    /// and the module reaches them through [`crate::store`] by their bare names (no grant in
    /// `tables` needed; no other module can reach them). Upgrades may only add collections,
    /// nullable or defaulted columns and indexes. Left out of the JSON when there are none.
    #[serde(
        skip_serializing_if = "<[Collection]>::is_empty",
        serialize_with = "collections_as_map"
    )]
    pub collections: &'static [Collection],
    /// The tenant's configuration and secrets ([`crate::config`]). Left out when empty.
    #[serde(skip_serializing_if = "Config::is_empty")]
    pub config: Config,
    /// The hosts [`crate::outbound`] may reach (with `capabilities: &["http"]`), shown to the
    /// tenant at consent. Left out when empty.
    #[serde(skip_serializing_if = "Outbound::is_empty")]
    pub outbound: Outbound,
}

/// `outbound`: host names (`api.example.com`) or one leading wildcard label
/// (`*.example.org`, one label deep); no IP addresses, ports or paths.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Outbound {
    pub hosts: &'static [&'static str],
}

impl Outbound {
    pub const NONE: Self = Self { hosts: &[] };

    fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// `config`: the JSON Schema of the configuration object (as JSON text) and the secret names.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub schema: Option<&'static str>,
    pub secrets: &'static [&'static str],
}

impl Config {
    pub const NONE: Self = Self {
        schema: None,
        secrets: &[],
    };

    fn is_empty(&self) -> bool {
        self.schema.is_none() && self.secrets.is_empty()
    }
}

impl Serialize for Config {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serde_json::Map::new();
        if let Some(schema) = self.schema {
            let schema = serde_json::from_str(schema).map_err(serde::ser::Error::custom)?;
            map.insert("schema".into(), schema);
        }
        if !self.secrets.is_empty() {
            map.insert("secrets".into(), self.secrets.to_vec().into());
        }
        map.serialize(serializer)
    }
}

/// A collection: `Collection::new("tickets", &[Column::text("title").required()])`, with
/// indexes and unique keys (unique within the tenant) as lists of its columns.
#[derive(Debug, Clone, Copy)]
pub struct Collection {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub indexes: &'static [&'static [&'static str]],
    pub unique: &'static [&'static [&'static str]],
}

impl Collection {
    pub const fn new(name: &'static str, columns: &'static [Column]) -> Self {
        Self {
            name,
            columns,
            indexes: &[],
            unique: &[],
        }
    }

    pub const fn indexes(mut self, indexes: &'static [&'static [&'static str]]) -> Self {
        self.indexes = indexes;
        self
    }

    pub const fn unique(mut self, unique: &'static [&'static [&'static str]]) -> Self {
        self.unique = unique;
        self
    }
}

/// A collection's column: its type is one of `text`, `integer` (64-bit), `numeric`,
/// `boolean`, `date`, `timestamptz`, `uuid`, `jsonb`. The host adds `id`, `version`,
/// `created_at` and `updated_at`.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub required: bool,
    /// The default as JSON text (`"3"`, `"\"open\""`).
    pub default: Option<&'static str>,
}

impl Column {
    pub const fn new(name: &'static str, kind: &'static str) -> Self {
        Self {
            name,
            kind,
            required: false,
            default: None,
        }
    }

    pub const fn text(name: &'static str) -> Self {
        Self::new(name, "text")
    }

    pub const fn integer(name: &'static str) -> Self {
        Self::new(name, "integer")
    }

    /// Every row has a value (given, or the default).
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The default, as JSON text.
    pub const fn default_json(mut self, json: &'static str) -> Self {
        self.default = Some(json);
        self
    }
}

/// The host's shape: `{"tickets": {"columns": {"title": {"type": "text", ...}}, ...}}`.
fn collections_as_map<S: serde::Serializer>(
    collections: &&'static [Collection],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde_json::{Map, Value, json};
    let keys = |keys: &[&[&str]]| -> Value { keys.iter().map(|key| key.to_vec()).collect() };
    let mut map = Map::new();
    for collection in collections.iter() {
        let mut columns = Map::new();
        for column in collection.columns {
            let mut spec = json!({"type": column.kind});
            if column.required {
                spec["required"] = Value::Bool(true);
            }
            if let Some(default) = column.default {
                spec["default"] = serde_json::from_str(default).unwrap_or(Value::Null);
            }
            columns.insert(column.name.to_owned(), spec);
        }
        map.insert(
            collection.name.to_owned(),
            json!({"columns": columns, "indexes": keys(collection.indexes), "unique": keys(collection.unique)}),
        );
    }
    map.serialize(serializer)
}

/// A scheduled entry point: `at` is `daily HH:MM`, `hourly :MM` or `every N minutes`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Schedule {
    pub name: &'static str,
    pub at: &'static str,
}

impl Schedule {
    pub const fn new(name: &'static str, at: &'static str) -> Self {
        Self { name, at }
    }
}

impl Manifest {
    /// A base for struct-update syntax: `Manifest { name: "crm", ..Manifest::EMPTY }`.
    pub const EMPTY: Self = Self {
        name: "",
        version: "0.0.0",
        slot: "",
        routes: &[],
        tables: Tables {
            read: &[],
            write: &[],
        },
        events: Events::NONE,
        capabilities: &[],
        limits: Limits::DEFAULT,
        schedules: &[],
        description: None,
        collections: &[],
        config: Config::NONE,
        outbound: Outbound::NONE,
    };

    /// The JSON `manifest()` returns.
    pub fn to_json(&self) -> String {
        serde_json::to_value(self).unwrap_or_default().to_string()
    }
}

/// Renders a JSON Schema when the manifest is rendered (a `const` cannot hold a `Value`).
pub type SchemaFn = fn() -> serde_json::Value;

/// The most answers one route documents.
pub const MAX_RESPONSES: usize = 4;

/// One route: its method, pattern, permission and handler, and what the API reference shows of
/// it (a summary, the body's schema, each answer's schema), derived from the body and record
/// structs with `schemars`:
///
/// ```ignore
/// Route::post("/customers", WRITE, create)
///     .summary("Create a customer")
///     .request::<CustomerFields>()
///     .responds::<Record<Customer>>(201)
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// A pattern under the slot; `{name}` segments are parameters.
    pub path: &'static str,
    /// The permission the host checks before calling the module.
    pub permission: &'static str,
    pub handler: Handler,
    pub summary: Option<&'static str>,
    pub request: Option<SchemaFn>,
    /// Documented answers by status; the host adds problem+json for every error.
    pub responses: [Option<(u16, SchemaFn)>; MAX_RESPONSES],
}

impl Route {
    pub const fn get(path: &'static str, permission: &'static str, handler: Handler) -> Self {
        Self::new("GET", path, permission, handler)
    }

    pub const fn post(path: &'static str, permission: &'static str, handler: Handler) -> Self {
        Self::new("POST", path, permission, handler)
    }

    pub const fn put(path: &'static str, permission: &'static str, handler: Handler) -> Self {
        Self::new("PUT", path, permission, handler)
    }

    pub const fn patch(path: &'static str, permission: &'static str, handler: Handler) -> Self {
        Self::new("PATCH", path, permission, handler)
    }

    pub const fn delete(path: &'static str, permission: &'static str, handler: Handler) -> Self {
        Self::new("DELETE", path, permission, handler)
    }

    const fn new(
        method: &'static str,
        path: &'static str,
        permission: &'static str,
        handler: Handler,
    ) -> Self {
        Self {
            method,
            path,
            permission,
            handler,
            summary: None,
            request: None,
            responses: [None; MAX_RESPONSES],
        }
    }

    /// One line for the API reference.
    pub const fn summary(mut self, summary: &'static str) -> Self {
        self.summary = Some(summary);
        self
    }

    /// The body is a `T` (its JSON Schema, derived with `schemars`).
    pub const fn request<T: schemars::JsonSchema>(mut self) -> Self {
        self.request = Some(schema_of::<T>);
        self
    }

    /// Answers `status` with a `T`. More than [`MAX_RESPONSES`] fails to compile.
    pub const fn responds<T: schemars::JsonSchema>(mut self, status: u16) -> Self {
        let mut i = 0;
        while i < MAX_RESPONSES {
            if self.responses[i].is_none() {
                self.responses[i] = Some((status, schema_of::<T>));
                return self;
            }
            i += 1;
        }
        panic!("a route documents at most MAX_RESPONSES answers")
    }
}

fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(T).into()
}

/// The host's route fields; schemas are rendered here, and only those declared.
impl Serialize for Route {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("method", self.method)?;
        map.serialize_entry("path", self.path)?;
        map.serialize_entry("permission", self.permission)?;
        if let Some(summary) = self.summary {
            map.serialize_entry("summary", summary)?;
        }
        if let Some(request) = self.request {
            map.serialize_entry("request", &request())?;
        }
        let responses: std::collections::BTreeMap<String, serde_json::Value> = self
            .responses
            .iter()
            .flatten()
            .map(|(status, schema)| (status.to_string(), schema()))
            .collect();
        if !responses.is_empty() {
            map.serialize_entry("responses", &responses)?;
        }
        map.end()
    }
}

/// Store tables: reading needs the table in `read` or `write`, writing needs `write`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tables {
    pub read: &'static [&'static str],
    pub write: &'static [&'static str],
}

/// Event types the module may emit and those delivered to its `on_event`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Events {
    pub emit: &'static [&'static str],
    pub subscribe: &'static [&'static str],
}

impl Events {
    /// Neither emits nor subscribes.
    pub const NONE: Self = Self {
        emit: &[],
        subscribe: &[],
    };

    /// Emits these events and subscribes to none: what most modules do, so that they need
    /// neither an empty `subscribe` list nor an `on_event` ([`crate::Module`]'s default
    /// accepts every delivery).
    pub const fn emitting(emit: &'static [&'static str]) -> Self {
        Self {
            emit,
            subscribe: &[],
        }
    }
}

/// Limits a module requests beyond the host's defaults. Only a request: the operator's
/// maximum clamps each value, and uploaded modules keep the defaults whatever they ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Wall-clock time of one call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Linear memory of the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// Calls into the host's imports during one call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_calls: Option<u32>,
    /// Rows and groups the store returns in one call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_returned: Option<u32>,
}

impl Limits {
    /// Nothing requested: every limit stays at the host's default.
    pub const DEFAULT: Self = Self {
        deadline_ms: None,
        memory_mib: None,
        host_calls: None,
        rows_returned: None,
    };

    fn is_default(&self) -> bool {
        *self == Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request) -> Result<Response, Problem> {
        Ok(Response::no_content())
    }

    #[test]
    fn renders_the_hosts_manifest_fields() {
        const MANIFEST: Manifest = Manifest {
            name: "notes",
            version: "1.0.0",
            slot: "notes",
            routes: &[Route::get("/notes/{id}", "notes.read", ok)],
            tables: Tables {
                read: &[],
                write: &["notes"],
            },
            ..Manifest::EMPTY
        };
        let json: serde_json::Value = serde_json::from_str(&MANIFEST.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "notes",
                "version": "1.0.0",
                "slot": "notes",
                "routes": [{"method": "GET", "path": "/notes/{id}", "permission": "notes.read"}],
                "tables": {"read": [], "write": ["notes"]},
                "events": {"emit": [], "subscribe": []},
                "capabilities": [],
            })
        );
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Note {
        text: String,
        pinned: Option<bool>,
    }

    #[test]
    fn renders_declared_schemas_only() {
        const MANIFEST: Manifest = Manifest {
            routes: &[
                Route::post("/notes", "notes.write", ok)
                    .summary("Create a note")
                    .request::<Note>()
                    .responds::<Note>(201),
                Route::get("/notes", "notes.read", ok),
            ],
            ..Manifest::EMPTY
        };
        let json: serde_json::Value = serde_json::from_str(&MANIFEST.to_json()).unwrap();
        let create = &json["routes"][0];
        assert_eq!(create["summary"], "Create a note");
        assert_eq!(create["request"]["required"], serde_json::json!(["text"]));
        assert_eq!(create["responses"]["201"]["title"], "Note");
        let plain = json["routes"][1].as_object().unwrap();
        assert_eq!(plain.len(), 3, "{plain:?}");
    }

    #[test]
    fn renders_only_the_requested_limits() {
        const MANIFEST: Manifest = Manifest {
            name: "solver",
            slot: "solver",
            limits: Limits {
                deadline_ms: Some(30_000),
                memory_mib: Some(256),
                ..Limits::DEFAULT
            },
            ..Manifest::EMPTY
        };
        let json: serde_json::Value = serde_json::from_str(&MANIFEST.to_json()).unwrap();
        assert_eq!(
            json["limits"],
            serde_json::json!({"deadline_ms": 30000, "memory_mib": 256})
        );
    }

    #[test]
    fn renders_schedules_only_when_declared() {
        const MANIFEST: Manifest = Manifest {
            name: "wo",
            slot: "wo",
            schedules: &[Schedule::new("extend-horizon", "daily 01:00")],
            ..Manifest::EMPTY
        };
        let json: serde_json::Value = serde_json::from_str(&MANIFEST.to_json()).unwrap();
        assert_eq!(
            json["schedules"],
            serde_json::json!([{"name": "extend-horizon", "at": "daily 01:00"}])
        );
        let json: serde_json::Value = serde_json::from_str(&Manifest::EMPTY.to_json()).unwrap();
        assert!(json.get("schedules").is_none());
    }

    #[test]
    fn renders_collections_in_the_hosts_shape() {
        const MANIFEST: Manifest = Manifest {
            name: "tickets",
            slot: "tickets",
            collections: &[Collection::new(
                "tickets",
                &[
                    Column::text("title").required(),
                    Column::integer("priority").default_json("3"),
                    Column::new("due", "date"),
                ],
            )
            .indexes(&[&["due"]])
            .unique(&[&["title"]])],
            ..Manifest::EMPTY
        };
        let json: serde_json::Value = serde_json::from_str(&MANIFEST.to_json()).unwrap();
        assert_eq!(
            json["collections"],
            serde_json::json!({"tickets": {
                "columns": {"title": {"type": "text", "required": true},
                            "priority": {"type": "integer", "default": 3},
                            "due": {"type": "date"}},
                "indexes": [["due"]], "unique": [["title"]]}})
        );
        let json: serde_json::Value = serde_json::from_str(&Manifest::EMPTY.to_json()).unwrap();
        assert!(json.get("collections").is_none());
    }
}
