//! Typed access to the host's `store`: rows come back as [`Record<T>`] (id, version and the
//! columns deserialized into `T`), values go in as any `Serialize` object, filters are built
//! with [`Filter`] rather than written as JSON text. A store error converts into the
//! [`Problem`] a client should see, so handlers can use `?`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::bindings::verofield::platform::store as wit;
use crate::problem::{FieldError, Problem};

pub use wit::{AggregateFunction, Aggregation, DateBucket, Direction, GroupKey};

/// A row: its id and version (the ETag) and its columns, `created_at` and `updated_at`
/// included. Serializes flat: `{"id", "version", ...columns}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(
    rename = "{T}Record",
    description = "A stored row: its id, its version (the ETag) and its columns"
)]
pub struct Record<T> {
    pub id: String,
    pub version: u64,
    #[serde(flatten)]
    pub values: T,
}

/// One page of a [`Select`]: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(
    rename = "{T}Page",
    description = "One page of rows; pass `next_cursor` as `cursor` for the next (null: the last)"
)]
pub struct Page<T> {
    pub items: Vec<Record<T>>,
    pub next_cursor: Option<String>,
}

/// Why a store call failed (the host's `store-error`, plus rows that do not fit `T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotGranted(String),
    Invalid(String),
    NotFound,
    /// Carries the row's current version.
    Conflict(u64),
    /// Carries the unique constraint's columns.
    Duplicate(String),
    LimitExceeded(String),
    Unavailable(String),
    /// The stored row does not deserialize into the requested type.
    Decode(String),
}

impl From<wit::StoreError> for StoreError {
    fn from(error: wit::StoreError) -> Self {
        match error {
            wit::StoreError::NotGranted(what) => Self::NotGranted(what),
            wit::StoreError::Invalid(why) => Self::Invalid(why),
            wit::StoreError::NotFound => Self::NotFound,
            wit::StoreError::Conflict(version) => Self::Conflict(version),
            wit::StoreError::Duplicate(columns) => Self::Duplicate(columns),
            wit::StoreError::LimitExceeded(limit) => Self::LimitExceeded(limit),
            wit::StoreError::Unavailable(why) => Self::Unavailable(why),
        }
    }
}

impl From<StoreError> for Problem {
    /// The usual answer to each store error. A write the client asked to make conditional
    /// should map `Conflict` to 412 instead (see [`crate::etag`]).
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Problem::new(404, "not_found", "no row with this id"),
            StoreError::Conflict(current) => Problem::new(
                409,
                "conflict",
                format!("the resource was changed concurrently (now version {current}); retry"),
            ),
            StoreError::Duplicate(columns) => Problem::new(
                409,
                "duplicate",
                format!("another row already has these values ({columns})"),
            ),
            // Values are validated before they are stored, so what reaches the store's own
            // checks (constraints, types) is still the client's data; when the store names
            // the column, the answer names it as the field.
            StoreError::Invalid(why) => match column_fault(&why) {
                Some((column, reason)) => {
                    Problem::validation(vec![FieldError::new(column, reason)])
                }
                None => Problem::new(422, "validation_failed", why),
            },
            StoreError::LimitExceeded(limit) => Problem::new(
                400,
                "limit_exceeded",
                format!("the request would exceed the `{limit}` limit; narrow it"),
            ),
            StoreError::Unavailable(_) => Problem::new(
                503,
                "store_unavailable",
                "the database did not answer; retry later",
            ),
            StoreError::NotGranted(what) => {
                Problem::internal(&format!("store not granted: {what}"))
            }
            StoreError::Decode(why) => Problem::internal(&format!("stored row unreadable: {why}")),
        }
    }
}

/// The column and reason of an `invalid` store error about one column's value, which the
/// host words ``column `name`: reason`` (see `store-error` in the WIT).
fn column_fault(why: &str) -> Option<(&str, &str)> {
    let rest = why.strip_prefix("column `")?;
    let (column, reason) = rest.split_once("`: ")?;
    Some((column, reason))
}

/// A filter tree, rendered to the store's JSON grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Value);

impl Filter {
    fn compare(column: &str, op: &str, value: Value) -> Self {
        Self(json!({"column": column, "op": op, "value": value}))
    }

    pub fn eq(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "eq", value.into())
    }

    pub fn ne(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "ne", value.into())
    }

    pub fn lt(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "lt", value.into())
    }

    pub fn le(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "le", value.into())
    }

    pub fn gt(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "gt", value.into())
    }

    pub fn ge(column: &str, value: impl Into<Value>) -> Self {
        Self::compare(column, "ge", value.into())
    }

    /// The column's value is one of `values` (for a text-array column: shares one of them).
    pub fn one_of<V: Into<Value>>(column: &str, values: impl IntoIterator<Item = V>) -> Self {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        Self::compare(column, "in", Value::Array(values))
    }

    /// A case-insensitive `like` pattern (`%` any run, `_` one character).
    pub fn like(column: &str, pattern: &str) -> Self {
        Self::compare(column, "like", pattern.into())
    }

    /// The column contains `text` literally, case-insensitively (`%` and `_` in `text` match
    /// only themselves).
    pub fn contains(column: &str, text: &str) -> Self {
        let mut pattern = String::with_capacity(text.len() + 2);
        pattern.push('%');
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        Self::like(column, &pattern)
    }

    pub fn is_null(column: &str, null: bool) -> Self {
        Self::compare(column, "is-null", null.into())
    }

    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self(json!({"and": filters.into_iter().map(|f| f.0).collect::<Vec<_>>()}))
    }

    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self(json!({"or": filters.into_iter().map(|f| f.0).collect::<Vec<_>>()}))
    }

    /// Named after the grammar's `not`; it builds a node, so `std::ops::Not` would mislead.
    #[allow(clippy::should_implement_trait)]
    pub fn not(filter: Filter) -> Self {
        Self(json!({"not": filter.0}))
    }

    pub fn to_json(&self) -> String {
        self.0.to_string()
    }
}

fn record<T: DeserializeOwned>(row: wit::Row) -> Result<Record<T>, StoreError> {
    let values = serde_json::from_str(&row.values)
        .map_err(|error| StoreError::Decode(format!("row {}: {error}", row.id)))?;
    Ok(Record {
        id: row.id,
        version: row.version,
        values,
    })
}

fn values_json(values: &impl Serialize) -> Result<String, StoreError> {
    match serde_json::to_value(values) {
        Ok(Value::Object(object)) => Ok(Value::Object(object).to_string()),
        Ok(_) => Err(StoreError::Invalid("values must be a JSON object".into())),
        Err(error) => Err(StoreError::Invalid(error.to_string())),
    }
}

/// The row with this id, or `None`.
pub fn get<T: DeserializeOwned>(table: &str, id: &str) -> Result<Option<Record<T>>, StoreError> {
    wit::get(table, id)?.map(record).transpose()
}

/// Inserts a row (the host assigns id and version 1) and returns it as stored.
pub fn insert<T: DeserializeOwned>(
    table: &str,
    values: &impl Serialize,
) -> Result<Record<T>, StoreError> {
    record(wit::insert(table, &values_json(values)?)?)
}

/// Sets the given columns if the row is still at `expected_version`; returns the new row.
pub fn update<T: DeserializeOwned>(
    table: &str,
    id: &str,
    expected_version: u64,
    values: &impl Serialize,
) -> Result<Record<T>, StoreError> {
    record(wit::update(
        table,
        id,
        expected_version,
        &values_json(values)?,
    )?)
}

/// Deletes the row; with `expected_version`, only if it is still current.
pub fn delete(table: &str, id: &str, expected_version: Option<u64>) -> Result<(), StoreError> {
    Ok(wit::delete(table, id, expected_version)?)
}

impl Aggregation {
    /// `count(*)` as `alias`.
    pub fn count(alias: &str) -> Self {
        Self {
            function: AggregateFunction::Count,
            column: None,
            alias: alias.to_owned(),
        }
    }

    /// `sum(column)` as `alias`.
    pub fn sum(column: &str, alias: &str) -> Self {
        Self {
            function: AggregateFunction::Sum,
            column: Some(column.to_owned()),
            alias: alias.to_owned(),
        }
    }
}

impl GroupKey {
    /// Groups by `column`, cut to `bucket` when it is a date or timestamp.
    pub fn by(column: &str, bucket: Option<DateBucket>) -> Self {
        Self {
            column: column.to_owned(),
            bucket,
        }
    }
}

/// An aggregate's number at `key` as an integer: sums of bigints arrive as numbers or as
/// numeric text (PostgreSQL's `numeric`); absent (no rows) is 0.
pub fn group_number(group: &Map<String, Value>, key: &str) -> i64 {
    match group.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// One JSON object per group, with the group keys and the aggregates by alias.
pub fn aggregate(
    table: &str,
    filter: Option<&Filter>,
    group_by: Vec<GroupKey>,
    aggregates: Vec<Aggregation>,
    limit: u32,
) -> Result<Vec<Map<String, Value>>, StoreError> {
    let groups = wit::aggregate(&wit::AggregateQuery {
        table: table.to_owned(),
        filter: filter.map(Filter::to_json),
        group_by,
        aggregates,
        limit,
    })?;
    groups
        .iter()
        .map(|group| serde_json::from_str(group).map_err(|e| StoreError::Decode(e.to_string())))
        .collect()
}

/// A paged query: `Select::from("crm_customers").filter(f).order_by("name", Direction::Asc)`.
#[derive(Debug, Clone)]
pub struct Select {
    table: String,
    filter: Option<Filter>,
    order: Vec<wit::OrderBy>,
    cursor: Option<String>,
    limit: u32,
}

impl Select {
    pub fn from(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            filter: None,
            order: Vec::new(),
            cursor: None,
            limit: crate::http::DEFAULT_PAGE_SIZE,
        }
    }

    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Adds a sort key (most significant first); `id` is always the final tie-breaker.
    pub fn order_by(mut self, column: &str, direction: Direction) -> Self {
        self.order.push(wit::OrderBy {
            column: column.to_owned(),
            direction,
        });
        self
    }

    /// Sorts by a client's `sort` value: `name` ascending, `-name` descending.
    pub fn sort(self, sort: &str) -> Self {
        match sort.strip_prefix('-') {
            Some(column) => self.order_by(column, Direction::Desc),
            None => self.order_by(sort, Direction::Asc),
        }
    }

    /// Continues after the `next_cursor` of the previous page.
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// `limit` and `cursor` from a request's [`crate::http::Paging`].
    pub fn page(self, paging: crate::http::Paging) -> Self {
        self.limit(paging.limit).cursor(paging.cursor)
    }

    /// Runs the query. A cursor the store refuses is the client's: 400 `invalid_cursor`.
    pub fn fetch<T: DeserializeOwned>(self) -> Result<Page<T>, Problem> {
        let has_cursor = self.cursor.is_some();
        let page = wit::select(&wit::SelectQuery {
            table: self.table,
            filter: self.filter.as_ref().map(Filter::to_json),
            order: self.order,
            cursor: self.cursor,
            limit: self.limit,
        })
        .map_err(|error| match error {
            wit::StoreError::Invalid(_) if has_cursor => {
                Problem::bad_request("invalid_cursor", "the cursor is not one this API issued")
            }
            other => StoreError::from(other).into(),
        })?;
        let items = page
            .rows
            .into_iter()
            .map(record)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_render_the_grammar() {
        let filter = Filter::and([
            Filter::or([
                Filter::contains("name", "50%_off"),
                Filter::eq("status", "active"),
            ]),
            Filter::not(Filter::is_null("email", true)),
            Filter::one_of("tags", ["vip", "gold"]),
            Filter::ge("latitude", 1.5),
        ]);
        let rendered: Value = serde_json::from_str(&filter.to_json()).unwrap();
        assert_eq!(
            rendered,
            json!({"and": [
                {"or": [
                    {"column": "name", "op": "like", "value": "%50\\%\\_off%"},
                    {"column": "status", "op": "eq", "value": "active"},
                ]},
                {"not": {"column": "email", "op": "is-null", "value": true}},
                {"column": "tags", "op": "in", "value": ["vip", "gold"]},
                {"column": "latitude", "op": "ge", "value": 1.5},
            ]})
        );
    }

    #[test]
    fn records_serialize_flat() {
        let row = wit::Row {
            id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            version: 3,
            values: r#"{"name": "Ann", "created_at": "2026-11-27T21:45:00+00:00"}"#.into(),
        };
        let record: Record<Map<String, Value>> = record(row).unwrap();
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({
                "id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                "version": 3,
                "name": "Ann",
                "created_at": "2026-11-27T21:45:00+00:00",
            })
        );
    }

    #[test]
    fn store_errors_become_problems() {
        let status = |error| Problem::from(error).status;
        assert_eq!(status(StoreError::NotFound), 404);
        assert_eq!(status(StoreError::Conflict(4)), 409);
        assert_eq!(status(StoreError::Duplicate("email".into())), 409);
        assert_eq!(status(StoreError::Invalid("bad".into())), 422);
        assert_eq!(status(StoreError::Unavailable("down".into())), 503);
    }

    #[test]
    fn an_invalid_column_becomes_a_field_error() {
        let problem = Problem::from(StoreError::Invalid(
            "column `name`: may not contain the NUL character".into(),
        ));
        assert_eq!((problem.status, problem.code), (422, "validation_failed"));
        assert_eq!(
            problem.errors,
            vec![FieldError::new("name", "may not contain the NUL character")]
        );
        let general = Problem::from(StoreError::Invalid("a value breaks a rule".into()));
        assert_eq!((general.status, general.errors.len()), (422, 0));
    }

    #[test]
    fn values_must_be_an_object() {
        assert!(values_json(&json!({"a": 1})).is_ok());
        assert!(values_json(&json!([1])).is_err());
    }
}
