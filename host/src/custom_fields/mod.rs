//! Custom fields (issue 24, item 2): a tenant's own fields on customers, locations, jobs and
//! service agreements. A definition (`custom_field_definitions`, a tenant table under RLS)
//! names a key, a label, a type and its rules; the values live in the entity row's `custom`
//! JSON object. The host's store checks every module write of `custom` against the tenant's
//! definitions ([`values::check`]) so that no module, built-in or partner, can store a value
//! the definition does not allow, and resolves `custom.<key>` filters and sorts
//! ([`values::resolve_query`]) so that a key the tenant never defined is refused, as for
//! another tenant. The routes live in `crate::http::custom_fields`.

pub mod values;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

/// The entities that carry custom fields and the store table of each.
pub const ENTITIES: [(&str, &str); 4] = [
    ("customer", "crm_customers"),
    ("location", "crm_locations"),
    ("job", "jobs"),
    ("agreement", "service_agreements"),
];

/// The value types a definition can name. `money` is an integer of minor units in the
/// tenant's currency, so it sorts and compares as a number.
pub const TYPES: [&str; 6] = ["text", "number", "boolean", "date", "enum", "money"];

/// The entity whose rows a store table holds, if it carries custom fields.
pub fn entity_of_table(schema: &str, table: &str) -> Option<&'static str> {
    (schema == "store")
        .then(|| ENTITIES.iter().find(|(_, t)| *t == table).map(|(e, _)| *e))
        .flatten()
}

/// The store table of an entity (from the fixed list: never a caller's text).
pub fn table_of_entity(entity: &str) -> Option<&'static str> {
    ENTITIES.iter().find(|(e, _)| *e == entity).map(|(_, t)| *t)
}

/// A key: lower-case letter, then up to 39 lower-case letters, digits or `_` (the same
/// pattern as the migration's check). Only such a key is ever bound into a statement.
pub fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 40
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = CustomFieldDefinition)]
pub struct Definition {
    pub entity: String,
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub required: bool,
    #[serde(rename = "default")]
    #[sqlx(rename = "default_value")]
    pub default: Option<Value>,
    pub enum_values: Vec<String>,
    pub shown_in_lists: bool,
    pub version: i64,
}

const COLUMNS: &str =
    "entity, key, label, type, required, default_value, enum_values, shown_in_lists, version";

/// The tenant's definitions (RLS narrows to the transaction's tenant), of one entity or all.
pub async fn load(conn: &mut PgConnection, entity: Option<&str>) -> sqlx::Result<Vec<Definition>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_field_definitions \
         WHERE $1::text IS NULL OR entity = $1 ORDER BY entity, key"
    ))
    .bind(entity)
    .fetch_all(conn)
    .await
}
