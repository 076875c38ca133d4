//! The roles of the embedded cluster: the server's pool never logs in as a superuser.
//!
//! The cluster superuser (`postgres`, password in `<data-dir>/secrets/postgres-superuser`) only
//! administers: it creates the login role and the database, and runs the migrations (0001
//! creates `verofield_app`, which needs more than an ordinary role may do). The pool logs in as
//! [`LOGIN_ROLE`] (NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE, NOCREATEDB; password in
//! `<data-dir>/secrets/postgres-verofield`), which owns the database and every object the
//! migrations create, and enters `verofield_app` with `SET LOCAL ROLE` for tenant work.
//! Owning the tables keeps the owner's view of the global tables (`tenants` is not FORCEd);
//! the tenant tables are FORCEd, so RLS holds for the owner too.
//!
//! A data directory made by an earlier version has every object owned by the superuser: the
//! same hand-over converts it at the next start.

use std::path::Path;

use anyhow::{Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use crate::pg::EmbeddedPostgres;

/// The role the server's pool logs in as.
pub const LOGIN_ROLE: &str = "verofield";
/// The file in the secrets directory that holds [`LOGIN_ROLE`]'s password.
pub const LOGIN_PASSWORD_FILE: &str = "postgres-verofield";

/// Creates (or repairs) the login role, the app role and `database`, owned by the login
/// role, and returns the login role's connection URL.
pub async fn prepare(
    cluster: &EmbeddedPostgres,
    secrets_dir: &Path,
    database: &str,
) -> Result<String> {
    let password = crate::secrets::load_or_generate(
        &secrets_dir.join(LOGIN_PASSWORD_FILE),
        crate::secrets::random_hex,
    )?;
    anyhow::ensure!(
        password.chars().all(|c| c.is_ascii_hexdigit()),
        "{LOGIN_PASSWORD_FILE} must hold a hex password"
    );
    let mut admin = connect_admin(cluster, "postgres").await?;
    // Several processes may start at once: a duplicate role is someone else's success.
    admin
        .execute(
            format!(
                "DO $$ BEGIN
                     CREATE ROLE {LOGIN_ROLE} LOGIN;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$;
                 DO $$ BEGIN
                     CREATE ROLE verofield_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$;
                 SET password_encryption = 'scram-sha-256';
                 ALTER ROLE {LOGIN_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
                     NOREPLICATION PASSWORD '{password}';
                 GRANT verofield_app TO {LOGIN_ROLE};"
            )
            .as_str(),
        )
        .await
        .context("creating the embedded login role")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut admin)
            .await?;
    // `database` is a constant of ours, never input.
    let statement = if exists {
        format!("ALTER DATABASE \"{database}\" OWNER TO {LOGIN_ROLE}")
    } else {
        format!("CREATE DATABASE \"{database}\" OWNER {LOGIN_ROLE}")
    };
    if let Err(error) = admin.execute(statement.as_str()).await {
        // A concurrent start created it first.
        let raced = error
            .as_database_error()
            .is_some_and(|e| e.code().as_deref() == Some("42P04"));
        if !raced {
            return Err(error).context("creating the embedded database");
        }
    }
    admin.close().await?;
    Ok(cluster.url_as(LOGIN_ROLE, &password, database))
}

/// Runs the migrations as the superuser, then hands what they created to the login role.
pub async fn migrate(cluster: &EmbeddedPostgres, database: &str) -> Result<()> {
    let mut admin = connect_admin(cluster, database).await?;
    super::MIGRATOR
        .run(&mut admin)
        .await
        .context("running migrations")?;
    admin
        .execute(HAND_OVER.replace("{LOGIN_ROLE}", LOGIN_ROLE).as_str())
        .await
        .context("handing the schema to the login role")?;
    admin.close().await?;
    Ok(())
}

async fn connect_admin(cluster: &EmbeddedPostgres, database: &str) -> Result<PgConnection> {
    cluster
        .superuser_url(database)
        .parse::<PgConnectOptions>()?
        .application_name("verofield-admin")
        .connect()
        .await
        .context("connecting to the embedded PostgreSQL as its superuser")
}

/// Every relation, routine, type and schema in `public`, `store`, `dispatch` and `payments` that a superuser owns
/// (objects of extensions excepted: they belong to the extension) changes owner to the login
/// role. Sequences that belong to a column follow their table.
const HAND_OVER: &str = r#"
DO $$
DECLARE
    statement text;
BEGIN
    FOR statement IN
        SELECT format('ALTER %s %s OWNER TO {LOGIN_ROLE}',
                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                      c.oid::regclass)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_roles r ON r.oid = c.relowner
        WHERE n.nspname IN ('public', 'store', 'dispatch', 'payments') AND r.rolsuper
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('a', 'i', 'e'))
        UNION ALL
        SELECT format('ALTER ROUTINE %s OWNER TO {LOGIN_ROLE}', p.oid::regprocedure)
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_roles r ON r.oid = p.proowner
        WHERE n.nspname IN ('public', 'store', 'dispatch', 'payments') AND r.rolsuper AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
        UNION ALL
        SELECT format('ALTER TYPE %s OWNER TO {LOGIN_ROLE}', t.oid::regtype)
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_roles r ON r.oid = t.typowner
        WHERE n.nspname IN ('public', 'store', 'dispatch', 'payments') AND r.rolsuper AND t.typtype IN ('e', 'd', 'r')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                            AND d.deptype = 'e')
        UNION ALL
        SELECT format('ALTER SCHEMA %I OWNER TO {LOGIN_ROLE}', n.nspname)
        FROM pg_namespace n
        JOIN pg_roles r ON r.oid = n.nspowner
        WHERE n.nspname IN ('public', 'store', 'dispatch', 'payments') AND r.rolsuper
    LOOP
        EXECUTE statement;
    END LOOP;
END $$;
"#;
