//! The store catalog: which tables modules may name, each column's type and the columns of
//! each constraint, read from pg_catalog at start-up (schema `store`). Every identifier that reaches SQL is one of these
//! names, never a module's string; values are checked against the column type in Rust before
//! they are bound, so a bad value is a store error, not an aborted transaction.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use sqlx::PgPool;

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

    /// A column a module may set on insert or update.
    pub fn is_writable(&self, name: &str) -> bool {
        self.columns.contains_key(name) && !HOST_COLUMNS.contains(&name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: BTreeMap<String, Table>,
}

impl Catalog {
    pub async fn load(pool: &PgPool) -> Result<Self> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT c.relname::text, a.attname::text, t.typname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             JOIN pg_type t ON t.oid = a.atttypid
             WHERE n.nspname = 'store' AND c.relkind IN ('r', 'p')
             ORDER BY c.relname, a.attnum",
        )
        .fetch_all(pool)
        .await?;
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        for (table, column, udt) in rows {
            if HIDDEN_COLUMNS.contains(&column.as_str()) {
                continue;
            }
            let Some(kind) = ColumnType::from_udt(&udt) else {
                bail!("store.{table}.{column} has type {udt}, which the store API does not map");
            };
            tables
                .entry(table.clone())
                .or_insert_with(|| Table {
                    name: table,
                    columns: BTreeMap::new(),
                    constraints: BTreeMap::new(),
                })
                .columns
                .insert(column, kind);
        }
        for (table, name, columns) in load_constraints(pool).await? {
            let columns = columns.into_iter().filter(|c| c != "tenant_id").collect();
            if let Some(table) = tables.get_mut(&table) {
                table.constraints.insert(name, columns);
            }
        }
        for table in tables.values() {
            for required in HOST_COLUMNS {
                if table.column(required).is_none() {
                    bail!("store.{} lacks the host column `{required}`", table.name);
                }
            }
        }
        Ok(Self { tables })
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    #[cfg(test)]
    pub fn from_tables(tables: impl IntoIterator<Item = Table>) -> Self {
        Self {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }
}

/// Unique, primary-key, foreign-key and check constraints of the store's tables, and unique
/// indexes that are no constraint: (table, name, columns in order).
async fn load_constraints(pool: &PgPool) -> Result<Vec<(String, String, Vec<String>)>> {
    Ok(sqlx::query_as(
        "SELECT c.relname::text, k.conname::text,
                array(SELECT a.attname::text
                      FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
                      ORDER BY u.ord)
         FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'store' AND k.contype IN ('u', 'p', 'f', 'c')
         UNION ALL
         SELECT t.relname::text, i.relname::text,
                array(SELECT a.attname::text
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.attnum
                      ORDER BY u.ord)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'store' AND x.indisunique
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                           WHERE k.conindid = x.indexrelid AND k.contype IN ('u', 'p'))",
    )
    .fetch_all(pool)
    .await?)
}
