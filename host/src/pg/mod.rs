//! The embedded PostgreSQL launcher.
//!
//! With no `DATABASE_URL`, `verofield` owns a private cluster built from the machine's
//! PostgreSQL binaries: `initdb` once into `<data-dir>/pg/data`, then `pg_ctl start` with a
//! unix socket only (no TCP listener), and `pg_ctl stop` on shutdown. PostgreSQL refuses to
//! run as root, so when this process is root every server command runs as the `postgres`
//! user through `runuser`, and the directories are created for that user.
//!
//! The cluster is private to the server's OS user (see [`access`]): its socket directory and
//! socket are 0700, and every connection needs a password (`scram-sha-256`) generated into the
//! secrets directory. A cluster made by an earlier version (`trust`, no password) is converted
//! when it is first started here.
//!
//! A second `verofield` process on the same data directory (say `tenant create` while
//! `serve` runs) finds the cluster already running and attaches to it without owning it:
//! only the process that started the cluster stops it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

mod access;

/// The socket file is named after the port; the socket directory is private, so any fixed
/// port works and never collides with another cluster.
const SOCKET_PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";
/// The file in the secrets directory that holds the cluster superuser's password.
pub const SUPERUSER_PASSWORD_FILE: &str = "postgres-superuser";

/// A running private cluster. Dropping it without [`EmbeddedPostgres::stop`] stops it too
/// (synchronously), so a panic or an early return does not leave a server behind.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as_postgres: bool,
    owned: bool,
    superuser_password: String,
}

impl EmbeddedPostgres {
    /// Starts (initialising on first use) the cluster under `root`, or attaches to it when
    /// another process already runs it. The superuser's password is kept in `secrets_dir`.
    pub async fn start(root: &Path, secrets_dir: &Path) -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        let superuser_password = crate::secrets::load_or_generate(
            &secrets_dir.join(SUPERUSER_PASSWORD_FILE),
            crate::secrets::random_hex,
        )?;
        let run_as_postgres = nix::unistd::geteuid().is_root();
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the PostgreSQL directory {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        let mut cluster = Self {
            root,
            bin_dir,
            run_as_postgres,
            owned: false,
            superuser_password,
        };
        cluster.prepare_dirs()?;
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        if cluster.is_running().await? {
            tracing::info!(root = %cluster.root.display(), "attached to a running embedded PostgreSQL");
        } else {
            cluster.pg_ctl_start().await?;
            cluster.owned = true;
            tracing::info!(root = %cluster.root.display(), "embedded PostgreSQL started");
        }
        access::require_passwords(&cluster).await?;
        Ok(cluster)
    }

    /// The superuser's connection URL for `database` over the cluster's unix socket. Only
    /// for administration (roles, databases, migrations): the server's pool logs in as a role
    /// without superuser rights ([`EmbeddedPostgres::url_as`]).
    pub fn superuser_url(&self, database: &str) -> String {
        self.url_as(SUPERUSER, &self.superuser_password, database)
    }

    /// The connection URL for `role` (with its password) and `database`. Passwords are
    /// generated as hex and role and database names are ours, so nothing needs escaping.
    pub fn url_as(&self, role: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{password}@localhost/{database}?host={}&port={SOCKET_PORT}",
            self.socket_dir().display()
        )
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.socket_dir().join("postgres.log")
    }

    /// Stops the cluster if this process started it; a no-op for an attached one.
    pub async fn stop(mut self) -> Result<()> {
        if self.owned {
            self.owned = false;
            let data = self.data_dir();
            let status = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null())
                .status()
                .await
                .context("running pg_ctl stop")?;
            if !status.success() {
                bail!("pg_ctl stop failed with {status}");
            }
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }

    fn prepare_dirs(&self) -> Result<()> {
        for (dir, mode) in [(self.data_dir(), 0o700), (self.socket_dir(), 0o700)] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))?;
            if self.run_as_postgres {
                let user = nix::unistd::User::from_name(SUPERUSER)?
                    .context("running as root needs a `postgres` system user to own the cluster")?;
                nix::unistd::chown(&dir, Some(user.uid), Some(user.gid))
                    .with_context(|| format!("giving {} to the postgres user", dir.display()))?;
            }
        }
        Ok(())
    }

    /// `initdb` trusts local connections at first (it cannot read a password file kept by
    /// root when it runs as `postgres`); [`access::require_passwords`] sets the password and
    /// replaces that rule before anyone else could connect: the socket directory is already
    /// private.
    async fn initdb(&self) -> Result<()> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .await
            .context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    async fn is_running(&self) -> Result<bool> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("running pg_ctl status")?;
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        Ok(status.success())
    }

    async fn pg_ctl_start(&self) -> Result<()> {
        let options = format!(
            "-k {} -p {SOCKET_PORT} -c listen_addresses='' -c unix_socket_permissions=0700 \
             -c max_connections=200",
            self.socket_dir().display()
        );
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            // pg_ctl leaves the postmaster holding its stdout: do not wait on a pipe.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .context("running pg_ctl start")?;
        if !output.status.success() {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            bail!(
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                log.lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", SUPERUSER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(&self.root).kill_on_drop(false);
        command
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let program = self.bin_dir.join("pg_ctl");
        let mut command = if self.run_as_postgres {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", SUPERUSER, "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        };
        let _ = command
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `VEROFIELD_PG_BIN`, then the directory of `initdb` on PATH, then the newest
/// `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Result<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("VEROFIELD_PG_BIN") {
        let dir = PathBuf::from(dir);
        if complete(&dir) {
            return Ok(dir);
        }
        bail!(
            "VEROFIELD_PG_BIN={} lacks initdb, pg_ctl or postgres",
            dir.display()
        );
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                // Resolve symlinks (Debian links /usr/local/bin/initdb into the versioned dir).
                let real = initdb.canonicalize()?;
                if let Some(parent) = real.parent()
                    && complete(parent)
                {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).context(
        "no PostgreSQL binaries found (looked at VEROFIELD_PG_BIN, PATH and /usr/lib/postgresql/*/bin); \
         install PostgreSQL or set DATABASE_URL",
    )
}
