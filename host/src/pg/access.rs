//! Who may connect to the embedded cluster: the server's OS user only, with a password.
//!
//! The socket directory and the socket are 0700, so another local user cannot reach the
//! socket at all; and `pg_hba.conf` admits local socket connections with `scram-sha-256`
//! only, so a process of the same user (or root) still needs the password kept in the
//! secrets directory. There is no TCP listener.
//!
//! `initdb` (and clusters made by earlier versions of `verofield`) trust every local
//! connection. [`require_passwords`] converts such a cluster on start: it connects once the
//! trusting way, sets the superuser's password, replaces `pg_hba.conf` and reloads. Each step
//! is idempotent, so a start interrupted half-way is finished by the next one.

use anyhow::{Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

use super::{EmbeddedPostgres, SOCKET_PORT, SUPERUSER};

/// The whole client authentication file of a private cluster.
const PRIVATE_HBA: &str = "\
# Written by verofield: local socket connections only, each with a password.
local all all scram-sha-256
";

/// Makes sure the cluster asks every connection for a password.
pub(super) async fn require_passwords(cluster: &EmbeddedPostgres) -> Result<()> {
    let hba = cluster.data_dir().join("pg_hba.conf");
    let current =
        std::fs::read_to_string(&hba).with_context(|| format!("reading {}", hba.display()))?;
    if current == PRIVATE_HBA {
        return Ok(());
    }
    tracing::info!("embedded PostgreSQL: setting the superuser password and requiring it");
    let mut conn = PgConnectOptions::new()
        .socket(cluster.socket_dir())
        .port(SOCKET_PORT)
        .username(SUPERUSER)
        .database("postgres")
        .application_name("verofield-admin")
        .connect()
        .await
        .context("connecting to the embedded PostgreSQL to set its superuser password")?;
    let password = &cluster.superuser_password;
    debug_assert!(password.chars().all(|c| c.is_ascii_hexdigit()));
    conn.execute(
        format!(
            "SET password_encryption = 'scram-sha-256'; \
             ALTER ROLE {SUPERUSER} PASSWORD '{password}'"
        )
        .as_str(),
    )
    .await
    .context("setting the embedded PostgreSQL superuser password")?;
    // Written in place: the file keeps its owner (the `postgres` user when we are root).
    std::fs::write(&hba, PRIVATE_HBA).with_context(|| format!("writing {}", hba.display()))?;
    conn.execute("SELECT pg_reload_conf()")
        .await
        .context("reloading the embedded PostgreSQL configuration")?;
    conn.close().await?;
    Ok(())
}
