//! The PostgreSQL [`StoreBackend`]: a module's structured store calls compiled to
//! parameterized SQL and run in the request's tenant transaction.
//!
//! Identifiers come only from the [`Catalog`] (a module's table or column name is looked up,
//! never spliced); values are type-checked in Rust and bound as parameters. Every statement
//! also filters `tenant_id = $1` (Citus routing; RLS is the wall behind it). Writes run under
//! a savepoint, so a constraint violation becomes a store error the module can answer (409,
//! 422) while the transaction stays usable; only a lost connection or a timeout makes the
//! backend `unavailable`, which fails the whole call. PostgreSQL's messages never reach a
//! module ([`errors`]).
//!
//! A table name resolves through the calling module ([`PgStore::for_module`]): a name its
//! manifest declares as a collection is that collection in the module's own schema, anything
//! else a `store` table. No name a module passes can reach another schema.

pub mod collections;
pub mod columns;
mod errors;
mod sql;
pub mod test_delay;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use tokio::sync::Mutex;
use uuid::Uuid;

use columns::Table;
pub use columns::{Catalog, Columns};
use sql::{Arg, Statement};

use crate::custom_fields::values as custom_values;
use crate::runtime::capabilities::store::{
    AggregateQuery, BoxFuture, JsonObject, Page, Row, SelectQuery, StoreBackend, StoreError,
    StoreResult,
};
use crate::runtime::manifest::Manifest;
use crate::tenancy::TenantTx;

/// The request's transaction, shared between the backend (during the module call) and the
/// handler (which commits or drops it afterwards).
pub type SharedTx = Arc<Mutex<Option<TenantTx>>>;

pub struct PgStore {
    tx: SharedTx,
    catalog: Arc<Catalog>,
    /// The calling module's collection schema and the collections its manifest declares.
    own: Option<(String, BTreeSet<String>)>,
}

impl PgStore {
    /// A store of `store` tables only.
    pub fn new(tx: SharedTx, catalog: Arc<Catalog>) -> Self {
        Self {
            tx,
            catalog,
            own: None,
        }
    }

    /// Lets the calling module reach its own collections by their bare names.
    pub fn for_module(mut self, manifest: &Manifest) -> Self {
        if !manifest.collections.is_empty() {
            self.own = Some((
                collections::schema_name(&manifest.name),
                manifest.collections.keys().cloned().collect(),
            ));
        }
        self
    }

    fn table(&self, name: &str) -> StoreResult<&Table> {
        let found = match &self.own {
            Some((schema, own)) if own.contains(name) => {
                self.catalog.collection(schema, name).ok_or_else(|| {
                    // Declared but not in this host's catalog yet: the publication's notice
                    // is on its way, and the call may be retried.
                    tracing::warn!(collection = name, %schema, "a declared collection is not in the catalog");
                    StoreError::Unavailable("the collection is not ready yet".into())
                })?
            }
            _ => self
                .catalog
                .table(name)
                .ok_or_else(|| StoreError::Invalid(format!("unknown table `{name}`")))?,
        };
        Ok(found)
    }

    async fn fetch(&self, statement: Statement) -> StoreResult<Vec<PgRow>> {
        test_delay::wait().await;
        let mut guard = self.tx.lock().await;
        let tx = guard.as_mut().ok_or_else(gone)?;
        statement
            .query()
            .fetch_all(tx.conn())
            .await
            .map_err(|error| self.failed(&error, None))
    }

    /// Runs a write under a savepoint: a failed statement rolls back to it and becomes a
    /// store error, leaving the transaction usable.
    async fn write(&self, table: &Table, statement: Statement) -> StoreResult<Vec<PgRow>> {
        test_delay::wait().await;
        let mut guard = self.tx.lock().await;
        let tx = guard.as_mut().ok_or_else(gone)?;
        let conn = tx.conn();
        sqlx::Executor::execute(&mut *conn, "SAVEPOINT store_write")
            .await
            .map_err(unavailable)?;
        match statement.query().fetch_all(&mut *conn).await {
            Ok(rows) => {
                sqlx::Executor::execute(&mut *conn, "RELEASE SAVEPOINT store_write")
                    .await
                    .map_err(unavailable)?;
                Ok(rows)
            }
            Err(error) => {
                sqlx::Executor::execute(&mut *conn, "ROLLBACK TO SAVEPOINT store_write")
                    .await
                    .map_err(unavailable)?;
                Err(self.failed(&error, Some(table)))
            }
        }
    }

    /// The store error for a failed statement; PostgreSQL's own words go to the log only.
    fn failed(&self, error: &sqlx::Error, written: Option<&Table>) -> StoreError {
        let kind = errors::classify(&errors::Fault::of(error), &self.catalog, written);
        match &kind {
            StoreError::Unavailable(_) => tracing::warn!(%error, "store statement failed"),
            _ => tracing::debug!(%error, "store statement refused"),
        }
        kind
    }

    async fn tenant_id(&self) -> StoreResult<Uuid> {
        Ok(self.tx.lock().await.as_ref().ok_or_else(gone)?.tenant_id())
    }

    /// The tenant's custom-field definitions for `table`, or `None` for a table without
    /// custom fields. Read in the request's transaction, so RLS narrows them to its tenant.
    async fn custom_definitions(
        &self,
        table: &Table,
    ) -> StoreResult<Option<Vec<crate::custom_fields::Definition>>> {
        let Some(entity) = crate::custom_fields::entity_of_table(&table.schema, &table.name) else {
            return Ok(None);
        };
        let mut guard = self.tx.lock().await;
        let tx = guard.as_mut().ok_or_else(gone)?;
        crate::custom_fields::load(tx.conn(), Some(entity))
            .await
            .map(Some)
            .map_err(unavailable)
    }

    /// `values` with its `custom` object checked against the definitions (and defaults
    /// filled): on insert always, on update when the module writes `custom`.
    async fn with_custom(
        &self,
        table: &Table,
        mut values: JsonObject,
        inserting: bool,
    ) -> StoreResult<JsonObject> {
        if !inserting && !values.contains_key("custom") {
            return Ok(values);
        }
        if let Some(definitions) = self.custom_definitions(table).await? {
            let checked = custom_values::check(&definitions, values.get("custom"))?;
            values.insert("custom".into(), checked);
        }
        Ok(values)
    }

    /// After a write matched no row: not found, or a version conflict (with the current one).
    async fn missed(&self, table: &Table, id: Uuid) -> StoreResult<StoreError> {
        let tenant = self.tenant_id().await?;
        let rows = self
            .fetch(Statement::new(
                format!(
                    "SELECT version FROM {} WHERE tenant_id = $1 AND id = $2",
                    table.qualified()
                ),
                vec![Arg::Uuid(tenant), Arg::Uuid(id)],
            ))
            .await?;
        Ok(match rows.first() {
            Some(row) => StoreError::Conflict(row.get::<i64, _>(0) as u64),
            None => StoreError::NotFound,
        })
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the request's transaction has ended".into())
}

fn unavailable(error: sqlx::Error) -> StoreError {
    tracing::warn!(%error, "store statement failed");
    StoreError::Unavailable("the database did not complete the statement".into())
}

fn to_row(row: &PgRow) -> StoreResult<Row> {
    let values = match row.try_get::<Value, _>("values").map_err(unavailable)? {
        Value::Object(values) => values,
        _ => JsonObject::new(),
    };
    Ok(Row {
        id: row.try_get("id").map_err(unavailable)?,
        version: row.try_get::<i64, _>("version").map_err(unavailable)? as u64,
        values,
    })
}

fn to_rows(rows: &[PgRow]) -> StoreResult<Vec<Row>> {
    rows.iter().map(to_row).collect()
}

impl StoreBackend for PgStore {
    fn get<'a>(&'a mut self, table: &'a str, id: Uuid) -> BoxFuture<'a, StoreResult<Option<Row>>> {
        Box::pin(async move {
            let table = self.table(table)?;
            let tenant = self.tenant_id().await?;
            let rows = self.fetch(sql::get(table, tenant, id)).await?;
            rows.first().map(to_row).transpose()
        })
    }

    fn select(&mut self, mut query: SelectQuery) -> BoxFuture<'_, StoreResult<Page>> {
        Box::pin(async move {
            let table = self.table(&query.table)?;
            let tenant = self.tenant_id().await?;
            if custom_values::mentions_custom(&query) {
                let definitions = self.custom_definitions(table).await?.unwrap_or_default();
                custom_values::resolve_query(&definitions, &mut query)?;
            }
            let (statement, keys) = sql::select(table, tenant, &query)?;
            let mut rows = to_rows(&self.fetch(statement).await?)?;
            let more = rows.len() > query.limit as usize;
            rows.truncate(query.limit as usize);
            let next_cursor = match (more, rows.last()) {
                (true, Some(last)) => Some(sql::cursor_after(&keys, last)),
                _ => None,
            };
            Ok(Page { rows, next_cursor })
        })
    }

    fn insert<'a>(
        &'a mut self,
        table: &'a str,
        values: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async move {
            let table = self.table(table)?;
            let tenant = self.tenant_id().await?;
            let values = self.with_custom(table, values, true).await?;
            let rows = self
                .write(table, sql::insert(table, tenant, values)?)
                .await?;
            rows.first().map(to_row).transpose()?.ok_or_else(gone)
        })
    }

    fn update<'a>(
        &'a mut self,
        table: &'a str,
        id: Uuid,
        expected_version: u64,
        values: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async move {
            let table = self.table(table)?;
            let tenant = self.tenant_id().await?;
            let values = self.with_custom(table, values, false).await?;
            let rows = self
                .write(
                    table,
                    sql::update(table, tenant, id, expected_version, values)?,
                )
                .await?;
            match rows.first() {
                Some(row) => to_row(row),
                None => Err(self.missed(table, id).await?),
            }
        })
    }

    fn delete<'a>(
        &'a mut self,
        table: &'a str,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let table = self.table(table)?;
            let tenant = self.tenant_id().await?;
            let rows = self
                .write(table, sql::delete(table, tenant, id, expected_version))
                .await?;
            match rows.is_empty() {
                false => Ok(()),
                true => Err(self.missed(table, id).await?),
            }
        })
    }

    fn aggregate(&mut self, query: AggregateQuery) -> BoxFuture<'_, StoreResult<Vec<JsonObject>>> {
        Box::pin(async move {
            let table = self.table(&query.table)?;
            let tenant = self.tenant_id().await?;
            let rows = self.fetch(sql::aggregate(table, tenant, &query)?).await?;
            rows.iter()
                .map(
                    |row| match row.try_get::<Value, _>(0).map_err(unavailable)? {
                        Value::Object(object) => Ok(object),
                        _ => Ok(JsonObject::new()),
                    },
                )
                .collect()
        })
    }
}
