//! The store catalog: which tables modules may name, each column's type and the columns of
//! each constraint, read from pg_catalog (schema `store`, and each module's collections in
//! its `mod_*` schema). Every identifier that reaches SQL is one of these names, never a
//! module's string; values are checked against the column type in Rust before they are
//! bound, so a bad value is a store error, not an aborted transaction. Read at start-up and
//! again after a publication created collections ([`Columns::reload`]), on every host.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::{Result, bail};
use sqlx::PgPool;

use super::collections::schema;

/// The schema of the tables our migrations create for modules.
pub const STORE_SCHEMA: &str = "store";

/// Columns the host maintains; modules read some of them and write none.
pub const HOST_COLUMNS: &[&str] = &["tenant_id", "id", "version", "created_at", "updated_at"];

/// Columns the database maintains for the host's row scoping (triggers, read by RLS
/// policies; migration 0007): not in the catalog at all, so modules can neither read, filter
/// on nor write them.
pub const HIDDEN_COLUMNS: &[&str] = &["scope_user_ids"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// `smallint`, `integer` or `bigint`: the width in bits bounds the values a column takes.
    Integer {
        bits: u8,
    },
    Float,
    Numeric,
    Boolean,
    Uuid,
    Timestamp,
    Date,
    Json,
    TextArray,
}

impl ColumnType {
    fn from_udt(udt: &str) -> Option<Self> {
        Some(match udt {
            "text" | "varchar" | "bpchar" | "citext" => Self::Text,
            "int2" => Self::Integer { bits: 16 },
            "int4" => Self::Integer { bits: 32 },
            "int8" => Self::Integer { bits: 64 },
            "float4" | "float8" => Self::Float,
            "numeric" => Self::Numeric,
            "bool" => Self::Boolean,
            "uuid" => Self::Uuid,
            "timestamptz" => Self::Timestamp,
            "date" => Self::Date,
            "jsonb" | "json" => Self::Json,
            "_text" | "_varchar" => Self::TextArray,
            _ => return None,
        })
    }

    /// The SQL type a bound text parameter is cast to.
    pub fn sql_cast(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer { .. } => "bigint",
            Self::Float => "double precision",
            Self::Numeric => "numeric",
            Self::Boolean => "boolean",
            Self::Uuid => "uuid",
            Self::Timestamp => "timestamptz",
            Self::Date => "date",
            Self::Json => "jsonb",
            Self::TextArray => "text[]",
        }
    }

    pub fn is_orderable(self) -> bool {
        !matches!(self, Self::Json | Self::TextArray)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer { .. } | Self::Float | Self::Numeric)
    }

    /// Whether an integer fits the column (always false for a column of another type).
    pub fn holds_integer(self, value: i64) -> bool {
        match self {
            Self::Integer { bits: 64 } => true,
            Self::Integer { bits } => {
                let bound = 1i64 << (bits - 1);
                (-bound..bound).contains(&value)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    /// `store`, or a module's collection schema.
    pub schema: String,
    pub name: String,
    pub columns: BTreeMap<String, ColumnType>,
    /// The columns of each unique, foreign-key and check constraint (and unique index), by
    /// the name PostgreSQL reports in an error; `tenant_id` is left out (every one has it).
    pub constraints: BTreeMap<String, Vec<String>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<ColumnType> {
        self.columns.get(name).copied()
    }

    /// The table's name for SQL, schema-qualified and quoted.
    pub fn qualified(&self) -> String {
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }

    /// A column a module may set on insert or update.
    pub fn is_writable(&self, name: &str) -> bool {
        self.columns.contains_key(name) && !HOST_COLUMNS.contains(&name)
    }
}

/// Tables by (schema, name).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: BTreeMap<(String, String), Table>,
}

impl Catalog {
    pub async fn load(pool: &PgPool) -> Result<Self> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text, a.attname::text, t.typname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             JOIN pg_type t ON t.oid = a.atttypid
             WHERE (n.nspname = 'store' OR n.nspname LIKE $1) AND c.relkind IN ('r', 'p')
             ORDER BY n.nspname, c.relname, a.attnum",
        )
        .bind(schema::LIKE_PATTERN)
        .fetch_all(pool)
        .await?;
        let mut tables: BTreeMap<(String, String), Table> = BTreeMap::new();
        for (schema, table, column, udt) in rows {
            if HIDDEN_COLUMNS.contains(&column.as_str()) {
                continue;
            }
            let Some(kind) = ColumnType::from_udt(&udt) else {
                bail!("{schema}.{table}.{column} has type {udt}, which the store API does not map");
            };
            tables
                .entry((schema.clone(), table.clone()))
                .or_insert_with(|| Table {
                    schema,
                    name: table,
                    columns: BTreeMap::new(),
                    constraints: BTreeMap::new(),
                })
                .columns
                .insert(column, kind);
        }
        for (schema, table, name, columns) in load_constraints(pool).await? {
            let columns = columns.into_iter().filter(|c| c != "tenant_id").collect();
            if let Some(table) = tables.get_mut(&(schema, table)) {
                table.constraints.insert(name, columns);
            }
        }
        for table in tables.values() {
            for required in HOST_COLUMNS {
                if table.column(required).is_none() {
                    bail!(
                        "{}.{} lacks the host column `{required}`",
                        table.schema,
                        table.name
                    );
                }
            }
        }
        Ok(Self { tables })
    }

    /// A table of the `store` schema.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(&(STORE_SCHEMA.to_owned(), name.to_owned()))
    }

    /// A collection in a module's schema.
    pub fn collection(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.get(&(schema.to_owned(), name.to_owned()))
    }

    /// The bare names of the tables in `schema`.
    pub fn collections_in(&self, schema: &str) -> Vec<String> {
        self.tables
            .keys()
            .filter(|(s, _)| s == schema)
            .map(|(_, name)| name.clone())
            .collect()
    }

    #[cfg(test)]
    pub fn from_tables(tables: impl IntoIterator<Item = Table>) -> Self {
        Self {
            tables: tables
                .into_iter()
                .map(|t| ((t.schema.clone(), t.name.clone()), t))
                .collect(),
        }
    }
}

/// The current catalog, replaced whole when a publication adds collections: a call keeps the
/// snapshot it started with.
pub struct Columns {
    current: RwLock<Arc<Catalog>>,
}

impl Columns {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            current: RwLock::new(Arc::new(catalog)),
        }
    }

    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.read().expect("catalog poisoned").clone()
    }

    /// Reads the catalog again (after DDL here, or another host's publication).
    pub async fn reload(&self, pool: &PgPool) -> Result<()> {
        let catalog = Catalog::load(pool).await?;
        *self.current.write().expect("catalog poisoned") = Arc::new(catalog);
        Ok(())
    }
}

/// Unique, primary-key, foreign-key and check constraints of the store's tables and the
/// collections, and unique indexes that are no constraint: (schema, table, name, columns in
/// order).
async fn load_constraints(pool: &PgPool) -> Result<Vec<(String, String, String, Vec<String>)>> {
    Ok(sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, k.conname::text,
                array(SELECT a.attname::text
                      FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
                      ORDER BY u.ord)
         FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (n.nspname = 'store' OR n.nspname LIKE $1) AND k.contype IN ('u', 'p', 'f', 'c')
         UNION ALL
         SELECT n.nspname::text, t.relname::text, i.relname::text,
                array(SELECT a.attname::text
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.attnum
                      ORDER BY u.ord)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE (n.nspname = 'store' OR n.nspname LIKE $1) AND x.indisunique
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                           WHERE k.conindid = x.indexrelid AND k.contype IN ('u', 'p'))",
    )
    .bind(schema::LIKE_PATTERN)
    .fetch_all(pool)
    .await?)
}
