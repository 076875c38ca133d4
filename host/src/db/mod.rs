//! Connecting to PostgreSQL, embedded or external, and bringing the schema up to date.
//!
//! [`Database::open`] is the one way every command reaches the database: with a URL it
//! connects to that server; without one it starts (or attaches to) the embedded cluster in
//! the data directory and creates the `verofield` database on first use, served through a
//! login role that is not a superuser ([`embedded`]).

pub mod embedded;
pub mod prune;
pub mod rls_check;

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor, PgPool};

use crate::config::DatabaseSettings;
use crate::pg::EmbeddedPostgres;

const EMBEDDED_DATABASE: &str = "verofield";

/// The embedded migrations, `migrations/*.sql` at the workspace root.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// An open connection pool and, in embedded mode, the cluster behind it.
pub struct Database {
    pub pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub async fn open(settings: &DatabaseSettings) -> Result<Self> {
        let (url, embedded) = match &settings.url {
            Some(url) => (url.clone(), None),
            None => {
                let cluster =
                    EmbeddedPostgres::start(&settings.embedded_root, &settings.secrets_dir).await?;
                let url =
                    embedded::prepare(&cluster, &settings.secrets_dir, EMBEDDED_DATABASE).await?;
                (url, Some(cluster))
            }
        };
        let options: PgConnectOptions = url.parse().context("parsing the database URL")?;
        // A session option rather than a role setting: the requests' role is entered with
        // `SET LOCAL ROLE`, which does not apply role settings; `RESET ALL` keeps it too.
        let idle = settings
            .idle_in_transaction_timeout
            .as_millis()
            .max(1)
            .to_string();
        let options = options
            .options([("idle_in_transaction_session_timeout", idle.as_str())])
            .application_name("verofield")
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .after_release(|conn, _| Box::pin(async move { release_check(conn).await }))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        check_pool_role(&pool, embedded.is_some()).await?;
        Ok(Self { pool, embedded })
    }

    /// Opens the database, brings the schema up to date and runs the RLS self-check: what
    /// every command that touches tenant data starts with. A database that breaks the
    /// tenant-isolation rules is closed and refused.
    pub async fn open_checked(settings: &DatabaseSettings) -> Result<Self> {
        let db = Self::open(settings).await?;
        db.migrate().await?;
        let violations = rls_check::check(&db.pool).await?;
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
            db.close().await?;
            anyhow::bail!(
                "refusing to serve: the database breaks the tenant-isolation rules:\n{}",
                list.join("\n")
            );
        }
        Ok(db)
    }

    /// Brings the schema up to date: through the pool on an external server (the operator's
    /// role), as the superuser on the embedded cluster ([`embedded::migrate`]).
    pub async fn migrate(&self) -> Result<()> {
        match &self.embedded {
            Some(cluster) => embedded::migrate(cluster, EMBEDDED_DATABASE).await,
            None => MIGRATOR.run(&self.pool).await.context("running migrations"),
        }
    }

    /// Closes the pool, then stops the embedded cluster if this process started it.
    pub async fn close(self) -> Result<()> {
        self.pool.close().await;
        if let Some(cluster) = self.embedded {
            cluster.stop().await?;
        }
        Ok(())
    }
}

/// The pool's role should be neither a superuser nor BYPASSRLS: row-level security does not
/// apply to such a role, so whatever the host does as the login role (outside
/// `SET LOCAL ROLE verofield_app`) would see every tenant. The embedded cluster's login role
/// never is one, so there it is a bug and refused. With `DATABASE_URL` the operator chose the
/// role (often the one that also runs migrations, which need CREATEROLE in 0001): the host
/// serves, but says so loudly at every start.
async fn check_pool_role(pool: &PgPool, embedded: bool) -> Result<()> {
    let (role, superuser, bypass_rls): (String, bool, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .context("reading the database role")?;
    if !superuser && !bypass_rls {
        return Ok(());
    }
    let what = if superuser {
        "a superuser"
    } else {
        "BYPASSRLS"
    };
    anyhow::ensure!(
        !embedded,
        "the embedded login role `{role}` is {what}: refusing to serve"
    );
    tracing::warn!(
        role,
        "DATABASE_URL logs in as `{role}`, which is {what}: row-level security does not apply \
         to it, so a host query made outside the tenant role is not confined to one tenant. \
         Serve through a role without SUPERUSER and BYPASSRLS (it may own the tables)."
    );
    Ok(())
}

/// Runs when a connection goes back to the pool; an error closes it instead.
///
/// Tenant state is `SET LOCAL`, so nothing survives a transaction; `RESET ALL` is a second
/// guard in case a code path ever uses a session-level `SET`. The division fails, closing the
/// connection, when the session is still inside a transaction block: a request cancelled
/// while its `BEGIN; SET LOCAL ...` was in flight leaves one open, and sqlx 0.8.6 would hand
/// that session (with the cancelled request's role and tenant) to the next borrower
/// (launchbadge/sqlx#4393). Inside an earlier-started block the statement's start time
/// differs from the transaction's; in the implicit transaction of a lone statement they are
/// equal. One round trip, as before.
pub async fn release_check(conn: &mut sqlx::PgConnection) -> sqlx::Result<bool> {
    conn.execute("RESET ALL; SELECT 1 / (statement_timestamp() = transaction_timestamp())::int")
        .await?;
    Ok(true)
}
