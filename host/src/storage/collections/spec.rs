//! What a manifest's `collections` declare, and the checks a declaration must pass before
//! any DDL is written from it: names by the identifier rule and clear of the host's columns,
//! types from a closed list, defaults that fit their type (rendered here as SQL literals, the
//! only place a module's text reaches DDL), indexes and uniqueness over declared columns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Collections by name.
pub type Collections = BTreeMap<String, Collection>;

/// Most collections one module may declare.
pub const MAX_COLLECTIONS: usize = 32;
/// Most columns in one collection (besides the host's).
pub const MAX_COLUMNS: usize = 64;
/// Most indexes, and most unique keys, in one collection.
pub const MAX_INDEXES: usize = 16;
/// Most columns in one index or unique key.
pub const MAX_INDEX_COLUMNS: usize = 8;
/// Longest text default, in bytes.
const MAX_TEXT_DEFAULT: usize = 1_000;

/// Names the host gives every collection; a declaration may not reuse them.
pub const HOST_COLUMNS: [&str; 5] = ["id", "version", "tenant_id", "created_at", "updated_at"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    pub columns: BTreeMap<String, Column>,
    /// Each a list of columns, indexed after `tenant_id`.
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
    /// Each a list of columns unique within the tenant.
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    #[serde(rename = "type")]
    pub kind: ColumnKind,
    /// NOT NULL: every row has a value (given, or the default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Text,
    /// `bigint`.
    Integer,
    Numeric,
    Boolean,
    Date,
    Timestamptz,
    Uuid,
    Jsonb,
}

impl ColumnKind {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "bigint",
            Self::Numeric => "numeric",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Timestamptz => "timestamptz",
            Self::Uuid => "uuid",
            Self::Jsonb => "jsonb",
        }
    }
}

/// A collection or column name: lower-case ASCII letters, digits and `_`, starting with a
/// letter, at most 63 bytes (PostgreSQL's identifier length), so it is spliced into DDL
/// quoted but unchanged.
pub fn is_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a whole declaration; the error says which collection, column and rule.
pub fn validate(collections: &Collections) -> Result<(), String> {
    if collections.len() > MAX_COLLECTIONS {
        return Err(format!(
            "at most {MAX_COLLECTIONS} collections, not {}",
            collections.len()
        ));
    }
    for (name, collection) in collections {
        if !is_name(name) {
            return Err(format!(
                "collection `{name}`: a name is lower-case letters, digits and _, starting with a letter, at most 63 bytes"
            ));
        }
        validate_collection(collection).map_err(|why| format!("collection `{name}`: {why}"))?;
    }
    Ok(())
}

fn validate_collection(collection: &Collection) -> Result<(), String> {
    if collection.columns.is_empty() || collection.columns.len() > MAX_COLUMNS {
        return Err(format!("declares 1 to {MAX_COLUMNS} columns"));
    }
    for (name, column) in &collection.columns {
        if !is_name(name) {
            return Err(format!(
                "column `{name}`: a name is lower-case letters, digits and _, starting with a letter, at most 63 bytes"
            ));
        }
        if HOST_COLUMNS.contains(&name.as_str()) {
            return Err(format!("column `{name}`: the host adds this column"));
        }
        if let Some(default) = &column.default {
            default_literal(column.kind, default)
                .map_err(|why| format!("column `{name}`: {why}"))?;
        }
    }
    for (what, keys) in [
        ("indexes", &collection.indexes),
        ("unique", &collection.unique),
    ] {
        if keys.len() > MAX_INDEXES {
            return Err(format!("at most {MAX_INDEXES} {what}"));
        }
        for key in keys {
            if key.is_empty() || key.len() > MAX_INDEX_COLUMNS {
                return Err(format!(
                    "{what}: each lists 1 to {MAX_INDEX_COLUMNS} columns"
                ));
            }
            for (i, column) in key.iter().enumerate() {
                if !collection.columns.contains_key(column) {
                    return Err(format!("{what}: `{column}` is not a declared column"));
                }
                if key[..i].contains(column) {
                    return Err(format!("{what}: `{column}` is listed twice"));
                }
            }
        }
    }
    Ok(())
}

/// A default as an SQL literal of its column's type, or why it does not fit. Every value is
/// parsed and printed back by Rust before it is quoted, so the DDL holds only what the type
/// allows; text is quoted with its quotes doubled (`standard_conforming_strings` is on: a
/// backslash is an ordinary character) and may not hold a NUL.
pub fn default_literal(kind: ColumnKind, value: &Value) -> Result<String, String> {
    let mismatch = || format!("the default does not fit type {}", kind.sql());
    let literal = match (kind, value) {
        (ColumnKind::Text, Value::String(text)) => {
            if text.len() > MAX_TEXT_DEFAULT {
                return Err(format!(
                    "a text default is at most {MAX_TEXT_DEFAULT} bytes"
                ));
            }
            quote(text)?
        }
        (ColumnKind::Integer, Value::Number(n)) => n.as_i64().ok_or_else(mismatch)?.to_string(),
        (ColumnKind::Numeric, Value::Number(n)) => {
            let text = n.to_string();
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(mismatch)?;
            quote(&text)?
        }
        (ColumnKind::Boolean, Value::Bool(b)) => b.to_string(),
        (ColumnKind::Date, Value::String(text)) => {
            let date =
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| mismatch())?;
            quote(&date.format("%Y-%m-%d").to_string())?
        }
        (ColumnKind::Timestamptz, Value::String(text)) => {
            let instant = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| mismatch())?;
            quote(&instant.to_rfc3339())?
        }
        (ColumnKind::Uuid, Value::String(text)) => quote(
            &uuid::Uuid::parse_str(text)
                .map_err(|_| mismatch())?
                .to_string(),
        )?,
        (ColumnKind::Jsonb, value) => quote(&value.to_string())?,
        _ => return Err(mismatch()),
    };
    Ok(format!("{literal}::{}", kind.sql()))
}

fn quote(text: &str) -> Result<String, String> {
    if text.contains('\0') {
        return Err("a default may not contain the NUL character".into());
    }
    Ok(format!("'{}'", text.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Collections, String> {
        let collections: Collections =
            serde_json::from_value(value).map_err(|error| error.to_string())?;
        validate(&collections).map(|()| collections)
    }

    #[test]
    fn accepts_the_documented_shape() {
        let collections = parse(json!({"tickets": {
            "columns": {"title": {"type": "text", "required": true},
                        "priority": {"type": "integer", "default": 3},
                        "due": {"type": "date"}},
            "indexes": [["due"]], "unique": [["title"]]}}))
        .unwrap();
        assert_eq!(
            collections["tickets"].columns["priority"].kind,
            ColumnKind::Integer
        );
    }

    #[test]
    fn refuses_bad_names_types_defaults_and_keys() {
        for bad in [
            json!({"Tickets": {"columns": {"a": {"type": "text"}}}}),
            json!({"mod_x.tickets": {"columns": {"a": {"type": "text"}}}}),
            json!({"t": {"columns": {}}}),
            json!({"t": {"columns": {"id": {"type": "uuid"}}}}),
            json!({"t": {"columns": {"tenant_id": {"type": "uuid"}}}}),
            json!({"t": {"columns": {"a\"b": {"type": "text"}}}}),
            json!({"t": {"columns": {"a": {"type": "money"}}}}),
            json!({"t": {"columns": {"a": {"type": "integer", "default": "3"}}}}),
            json!({"t": {"columns": {"a": {"type": "integer", "default": 1.5}}}}),
            json!({"t": {"columns": {"a": {"type": "date", "default": "tomorrow"}}}}),
            json!({"t": {"columns": {"a": {"type": "text", "default": "a\u{0}b"}}}}),
            json!({"t": {"columns": {"a": {"type": "text"}}, "indexes": [["b"]]}}),
            json!({"t": {"columns": {"a": {"type": "text"}}, "unique": [[]]}}),
            json!({"t": {"columns": {"a": {"type": "text"}}, "unique": [["a", "a"]]}}),
            json!({"t": {"columns": {"a": {"type": "text", "nullable": true}}}}),
            json!({format!("t{}", "x".repeat(63)): {"columns": {"a": {"type": "text"}}}}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_become_literals_of_their_type_only() {
        let literal = |kind, value| default_literal(kind, &value).unwrap();
        assert_eq!(literal(ColumnKind::Text, json!("it's")), "'it''s'::text");
        assert_eq!(
            literal(ColumnKind::Text, json!("\\'); drop")),
            "'\\''); drop'::text"
        );
        assert_eq!(literal(ColumnKind::Integer, json!(-3)), "-3::bigint");
        assert_eq!(literal(ColumnKind::Numeric, json!(1.25)), "'1.25'::numeric");
        assert_eq!(
            literal(ColumnKind::Jsonb, json!({"a": "'"})),
            "'{\"a\":\"''\"}'::jsonb"
        );
        assert_eq!(
            literal(ColumnKind::Timestamptz, json!("2026-01-02T03:04:05Z")),
            "'2026-01-02T03:04:05+00:00'::timestamptz"
        );
    }
}
