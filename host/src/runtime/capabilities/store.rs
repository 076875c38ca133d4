//! `store`: typed storage on the tables a module's manifest declares. This capability checks
//! the grants (a read needs the table in `tables.read` or `tables.write`, a write needs it in
//! `tables.write`; the module's own `collections` are its to read and write), turns the WIT call into typed Rust (JSON text becomes a [`Filter`] tree or
//! a [`JsonObject`], ids become UUIDs), enforces the per-call rows cap, and hands the call to
//! the [`StoreBackend`] of this call. The real backend compiles it to parameterized SQL inside
//! the request's tenant transaction, checking every column against the catalog.
//!
//! A backend answer of `unavailable` means the transaction is lost: the module learns it, and
//! the call fails afterwards whatever the module answers, so nothing half-done is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use wasmtime::component::Linker;

use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::store as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

pub use wit::{
    AggregateFunction, Aggregation, DateBucket, Direction, GroupKey, OrderBy, StoreError,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type JsonObject = serde_json::Map<String, Value>;
pub type StoreResult<T> = Result<T, StoreError>;

/// Most rows one `select` page returns, whatever the module asks.
pub const MAX_PAGE_ROWS: u32 = 1_000;
/// Deepest filter tree accepted.
pub const MAX_FILTER_DEPTH: usize = 16;

/// The storage one call uses. Tables are already grant-checked; columns are not (the catalog
/// is the backend's). Implementations hold the request's `TenantTx`.
pub trait StoreBackend: Send {
    fn get<'a>(&'a mut self, table: &'a str, id: Uuid) -> BoxFuture<'a, StoreResult<Option<Row>>>;
    fn select(&mut self, query: SelectQuery) -> BoxFuture<'_, StoreResult<Page>>;
    fn insert<'a>(
        &'a mut self,
        table: &'a str,
        values: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>>;
    fn update<'a>(
        &'a mut self,
        table: &'a str,
        id: Uuid,
        expected_version: u64,
        values: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>>;
    fn delete<'a>(
        &'a mut self,
        table: &'a str,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>>;
    fn aggregate(&mut self, query: AggregateQuery) -> BoxFuture<'_, StoreResult<Vec<JsonObject>>>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: Uuid,
    pub version: u64,
    pub values: JsonObject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<Row>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectQuery {
    pub table: String,
    pub filter: Option<Filter>,
    pub order: Vec<OrderBy>,
    pub cursor: Option<String>,
    /// Already capped by the page size and the rows left in the call's budget; at least 1.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery {
    pub table: String,
    pub filter: Option<Filter>,
    pub group_by: Vec<GroupKey>,
    pub aggregates: Vec<Aggregation>,
    /// Already capped like [`SelectQuery::limit`].
    pub limit: u32,
}

/// A filter tree (grammar in `wit/platform.wit`, interface `store`).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        column: String,
        op: CompareOp,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `value` is an array.
    In,
    /// `value` is a string pattern with `%` and `_`.
    Like,
    /// `value` is a boolean: true for `IS NULL`, false for `IS NOT NULL`.
    IsNull,
}

impl Filter {
    pub fn parse(json: &str) -> StoreResult<Self> {
        let value =
            serde_json::from_str(json).map_err(|error| invalid(format!("filter: {error}")))?;
        Self::from_value(value, 0)
    }

    fn from_value(value: Value, depth: usize) -> StoreResult<Self> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid(format!("filter deeper than {MAX_FILTER_DEPTH}")));
        }
        let Value::Object(mut node) = value else {
            return Err(invalid("a filter node is a JSON object"));
        };
        if node.contains_key("column") {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Compare {
                column: String,
                op: CompareOp,
                value: Value,
            }
            let Compare { column, op, value } = serde_json::from_value(Value::Object(node))
                .map_err(|error| invalid(format!("filter comparison: {error}")))?;
            let fits = match op {
                CompareOp::In => value.is_array(),
                CompareOp::IsNull => value.is_boolean(),
                CompareOp::Like => value.is_string(),
                _ => !value.is_array() && !value.is_object(),
            };
            if !fits {
                return Err(invalid(format!(
                    "filter on {column}: value does not fit the operator"
                )));
            }
            return Ok(Self::Compare { column, op, value });
        }
        let (Some((key, operand)), true) = (
            node.iter_mut().next().map(|(k, v)| (k.clone(), v.take())),
            node.len() == 1,
        ) else {
            return Err(invalid(
                "a filter node has one key: and, or, not, or is a comparison",
            ));
        };
        let children = |operand: Value| match operand {
            Value::Array(items) => items
                .into_iter()
                .map(|item| Self::from_value(item, depth + 1))
                .collect(),
            _ => Err(invalid(format!("`{key}` takes an array of filters"))),
        };
        match key.as_str() {
            "and" => Ok(Self::And(children(operand)?)),
            "or" => Ok(Self::Or(children(operand)?)),
            "not" => Ok(Self::Not(Box::new(Self::from_value(operand, depth + 1)?))),
            other => Err(invalid(format!("unknown filter key `{other}`"))),
        }
    }
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::Invalid(reason.into())
}

/// An `invalid` error about one column's value, worded ``column `name`: reason`` (the
/// convention of `store-error` in the WIT) so that a module can name the client's field.
pub fn invalid_column(column: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("column `{column}`: {reason}"))
}

fn parse_object(json: &str) -> StoreResult<JsonObject> {
    match serde_json::from_str(json) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid("values are a JSON object")),
        Err(error) => Err(invalid(format!("values: {error}"))),
    }
}

fn parse_id(id: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| invalid(format!("`{id}` is not a UUID")))
}

impl From<Row> for wit::Row {
    fn from(row: Row) -> Self {
        Self {
            id: row.id.to_string(),
            version: row.version,
            values: Value::Object(row.values).to_string(),
        }
    }
}

/// The store capability's per-call state.
pub struct StoreState {
    backend: Box<dyn StoreBackend>,
    grants: Arc<Manifest>,
    rows_returned: u32,
    /// Rows inserted, updated or deleted by this call (for usage metering).
    rows_written: u32,
    rows_cap: u32,
    unavailable: Option<String>,
    denied: Option<String>,
}

impl StoreState {
    pub fn new(backend: Box<dyn StoreBackend>, grants: Arc<Manifest>, rows_cap: u32) -> Self {
        Self {
            backend,
            grants,
            rows_returned: 0,
            rows_written: 0,
            rows_cap,
            unavailable: None,
            denied: None,
        }
    }

    pub fn rows_returned(&self) -> u32 {
        self.rows_returned
    }

    pub fn rows_written(&self) -> u32 {
        self.rows_written
    }

    /// Counts a write that succeeded (one row each), then accounts it like any call.
    fn account_write<T>(&mut self, outcome: StoreResult<T>) -> StoreResult<T> {
        if outcome.is_ok() {
            self.rows_written = self.rows_written.saturating_add(1);
        }
        self.account(outcome, |_| 0)
    }

    /// Why the backend became unavailable during the call, if it did.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// The first store access outside the module's grants, if there was one. Such an access
    /// is a module fault, not a client error: the host fails the whole call.
    pub fn denied(&self) -> Option<&str> {
        self.denied.as_deref()
    }

    fn deny(&mut self, why: String) -> StoreError {
        self.denied.get_or_insert_with(|| why.clone());
        StoreError::NotGranted(why)
    }

    fn readable(&mut self, table: &str) -> StoreResult<()> {
        let tables = &self.grants.tables;
        if self.grants.collections.contains_key(table)
            || tables
                .read
                .iter()
                .chain(&tables.write)
                .any(|granted| granted == table)
        {
            Ok(())
        } else {
            Err(self.deny(format!("table `{table}` is not declared for reading")))
        }
    }

    fn writable(&mut self, table: &str) -> StoreResult<()> {
        if self.grants.collections.contains_key(table)
            || self
                .grants
                .tables
                .write
                .iter()
                .any(|granted| granted == table)
        {
            Ok(())
        } else {
            Err(self.deny(format!("table `{table}` is not declared for writing")))
        }
    }

    /// The page size a query may have, given the rows left in the call's budget.
    fn capped(&self, requested: u32) -> StoreResult<u32> {
        let left = self.rows_cap - self.rows_returned;
        if left == 0 {
            return Err(StoreError::LimitExceeded("rows".into()));
        }
        Ok(requested.clamp(1, MAX_PAGE_ROWS).min(left))
    }

    /// Counts returned rows against the budget, and remembers a lost backend.
    fn account<T>(
        &mut self,
        outcome: StoreResult<T>,
        rows: impl Fn(&T) -> usize,
    ) -> StoreResult<T> {
        match &outcome {
            Ok(value) => {
                let rows = u32::try_from(rows(value)).unwrap_or(u32::MAX);
                self.rows_returned = self.rows_returned.saturating_add(rows);
                if self.rows_returned > self.rows_cap {
                    return Err(StoreError::LimitExceeded("rows".into()));
                }
            }
            Err(StoreError::Unavailable(reason)) => {
                self.unavailable.get_or_insert_with(|| reason.clone());
            }
            Err(_) => {}
        }
        outcome
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<StoreState>>(linker, |call| Granted {
        state: &mut call.store,
        calls: &mut call.host_calls,
    })
}

impl wit::Host for Granted<'_, StoreState> {
    async fn get(
        &mut self,
        table: String,
        id: String,
    ) -> wasmtime::Result<StoreResult<Option<wit::Row>>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.readable(&table)?;
            store.capped(1)?;
            let id = parse_id(&id)?;
            store.backend.get(&table, id).await
        }
        .await;
        Ok(store
            .account(outcome, |row| usize::from(row.is_some()))
            .map(|row| row.map(Into::into)))
    }

    async fn select(
        &mut self,
        query: wit::SelectQuery,
    ) -> wasmtime::Result<StoreResult<wit::Page>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.readable(&query.table)?;
            let query = SelectQuery {
                limit: store.capped(query.limit)?,
                filter: query.filter.as_deref().map(Filter::parse).transpose()?,
                table: query.table,
                order: query.order,
                cursor: query.cursor,
            };
            store.backend.select(query).await
        }
        .await;
        Ok(store
            .account(outcome, |page| page.rows.len())
            .map(|page| wit::Page {
                rows: page.rows.into_iter().map(Into::into).collect(),
                next_cursor: page.next_cursor,
            }))
    }

    async fn insert(
        &mut self,
        table: String,
        values: String,
    ) -> wasmtime::Result<StoreResult<wit::Row>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.writable(&table)?;
            let values = parse_object(&values)?;
            store.backend.insert(&table, values).await
        }
        .await;
        Ok(store.account_write(outcome).map(Into::into))
    }

    async fn update(
        &mut self,
        table: String,
        id: String,
        expected_version: u64,
        values: String,
    ) -> wasmtime::Result<StoreResult<wit::Row>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.writable(&table)?;
            let id = parse_id(&id)?;
            let values = parse_object(&values)?;
            store
                .backend
                .update(&table, id, expected_version, values)
                .await
        }
        .await;
        Ok(store.account_write(outcome).map(Into::into))
    }

    async fn delete(
        &mut self,
        table: String,
        id: String,
        expected_version: Option<u64>,
    ) -> wasmtime::Result<StoreResult<()>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.writable(&table)?;
            let id = parse_id(&id)?;
            store.backend.delete(&table, id, expected_version).await
        }
        .await;
        Ok(store.account_write(outcome))
    }

    async fn aggregate(
        &mut self,
        query: wit::AggregateQuery,
    ) -> wasmtime::Result<StoreResult<Vec<String>>> {
        self.calls.charge()?;
        let store = &mut *self.state;
        let outcome = async {
            store.readable(&query.table)?;
            let query = AggregateQuery {
                limit: store.capped(query.limit)?,
                filter: query.filter.as_deref().map(Filter::parse).transpose()?,
                table: query.table,
                group_by: query.group_by,
                aggregates: query.aggregates,
            };
            store.backend.aggregate(query).await
        }
        .await;
        Ok(store.account(outcome, Vec::len).map(|groups| {
            groups
                .into_iter()
                .map(|group| Value::Object(group).to_string())
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_filter_tree() {
        let filter = Filter::parse(
            r#"{"and": [{"column": "status", "op": "in", "value": ["open", "late"]},
                        {"not": {"column": "due", "op": "is-null", "value": true}}]}"#,
        )
        .unwrap();
        let Filter::And(children) = filter else {
            panic!("not an and: {filter:?}")
        };
        assert_eq!(children.len(), 2);
        assert!(
            matches!(&children[1], Filter::Not(inner) if matches!(**inner, Filter::Compare { op: CompareOp::IsNull, .. }))
        );
    }

    #[test]
    fn refuses_malformed_filters() {
        for bad in [
            r#"[]"#,
            r#"{"and": {}}"#,
            r#"{"and": [], "or": []}"#,
            r#"{"column": "a", "op": "in", "value": 1}"#,
            r#"{"column": "a", "op": "eq", "value": 1, "sql": "drop"}"#,
            r#"{"column": "a", "op": "between", "value": 1}"#,
            &format!("{}{}", r#"{"not":"#.repeat(40), "}".repeat(40)),
        ] {
            assert!(
                matches!(Filter::parse(bad), Err(StoreError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
