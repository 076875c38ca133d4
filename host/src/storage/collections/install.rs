//! Creating a module's collections when a version of it is published: inside the publishing
//! transaction (so a refused or failed publication leaves no table behind), serialised per
//! module by an advisory lock, as the login role that owns every table.
//!
//! First the new declaration is checked against what every published version of the module
//! declared ([`changes`]): only additions pass. Then, all idempotent: the schema, each new
//! table in the standard tenant shape (`tenant_id` first in the primary key, `id`, `version`,
//! the declared columns, `created_at`, `updated_at`) with `enable_tenant_isolation` and the
//! app role's grants, new columns on existing tables, and the indexes, each led by `tenant_id`.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::changes;
use super::schema::schema_name;
use super::spec::{Collection, Collections, default_literal};
use crate::error::{Error, Result};

/// Checks `next` against the module's published versions and creates what it adds.
pub async fn install(conn: &mut PgConnection, module: &str, next: &Collections) -> Result<()> {
    let schema = schema_name(module);
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(&schema)
        .execute(&mut *conn)
        .await?;
    let published: Vec<sqlx::types::Json<Collections>> = sqlx::query_scalar(
        "SELECT manifest->'collections' FROM module_versions
         WHERE name = $1 AND manifest ? 'collections'",
    )
    .bind(module)
    .fetch_all(&mut *conn)
    .await?;
    let current = changes::merged(published.iter().map(|json| &json.0));
    changes::check(&current, next).map_err(|refusal| {
        Error::problem(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "module_collection_change_refused",
            refusal.to_string(),
        )
    })?;
    if next.is_empty() {
        return Ok(());
    }
    let mut ddl = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema_id};\nGRANT USAGE ON SCHEMA {schema_id} TO verofield_app;\n",
        schema_id = ident(&schema)
    );
    for (name, collection) in next {
        let table = format!("{}.{}", ident(&schema), ident(name));
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(&table)
            .fetch_one(&mut *conn)
            .await?;
        match exists {
            None => create_table(&mut ddl, &table, collection),
            Some(_) => add_columns(&mut ddl, &table, collection),
        }
        for (unique, keys) in [(false, &collection.indexes), (true, &collection.unique)] {
            for key in keys {
                ddl.push_str(&index(&table, name, key, unique));
            }
        }
    }
    // One simple-query batch: every statement or none.
    sqlx::Executor::execute(&mut *conn, ddl.as_str()).await?;
    Ok(())
}

fn create_table(ddl: &mut String, table: &str, collection: &Collection) {
    let columns: String = collection
        .columns
        .iter()
        .map(|(name, column)| format!("    {},\n", column_definition(name, column)))
        .collect();
    ddl.push_str(&format!(
        "CREATE TABLE {table} (\n    tenant_id uuid NOT NULL REFERENCES tenants (id),\n    id uuid NOT NULL,\n    version bigint NOT NULL DEFAULT 1,\n{columns}    created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz NOT NULL DEFAULT now(),\n    PRIMARY KEY (tenant_id, id)\n);\n\
         SELECT enable_tenant_isolation('{table}'::regclass);\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO verofield_app;\n"
    ));
}

fn add_columns(ddl: &mut String, table: &str, collection: &Collection) {
    for (name, column) in &collection.columns {
        ddl.push_str(&format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {};\n",
            column_definition(name, column)
        ));
    }
}

/// A declared column: its name (checked by `spec::is_name`), type, `NOT NULL` when required,
/// and its default as a literal printed by `spec::default_literal`.
fn column_definition(name: &str, column: &super::spec::Column) -> String {
    let mut definition = format!("{} {}", ident(name), column.kind.sql());
    if column.required {
        definition.push_str(" NOT NULL");
    }
    if let Some(literal) = column
        .default
        .as_ref()
        .and_then(|value| default_literal(column.kind, value).ok())
    {
        definition.push_str(&format!(" DEFAULT {literal}"));
    }
    definition
}

/// An index (unique or not) on `tenant_id` and `key`, named by a hash of the collection and
/// the key so that publishing again finds it (`IF NOT EXISTS`) and names stay within 63 bytes.
fn index(table: &str, collection: &str, key: &[String], unique: bool) -> String {
    let (kind, prefix) = match unique {
        true => ("UNIQUE INDEX", "uq"),
        false => ("INDEX", "ix"),
    };
    let digest = Sha256::digest(format!("{collection}|{prefix}|{}", key.join(",")).as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let columns: String = key.iter().map(|c| format!(", {}", ident(c))).collect();
    format!("CREATE {kind} IF NOT EXISTS {prefix}_{hex} ON {table} (tenant_id{columns});\n")
}

/// Names reaching DDL are checked by the identifier rule first; quoted all the same.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
