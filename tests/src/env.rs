//! Process-wide set-up: the server binary, the PostgreSQL admin URL and the temporary
//! root, found or made once per test process and shared by every suite in it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::*;

pub(crate) struct Env {
    pub(crate) admin_url: String,
    pub(crate) bin: PathBuf,
    pub(crate) tmp_root: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// The process-wide set-up, done once on a thread of its own (tests run on several
/// threads, each in its own tokio runtime, so the set-up cannot belong to any of them).
pub(crate) fn env() -> &'static Env {
    ENV.get_or_init(|| {
        std::thread::spawn(init)
            .join()
            .unwrap_or_else(|_| panic!("the test harness set-up failed (see the panic above)"))
    })
}

fn init() -> Env {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    // A test binary is <target>/<profile>/deps/<name>, a program (the benchmarks) is
    // <target>/<profile>/<name>: build the server into the same profile directory.
    let exe = std::env::current_exe().expect("current_exe");
    let mut profile_dir = exe.parent().expect("<target>/<profile>").to_path_buf();
    if profile_dir.ends_with("deps") {
        profile_dir.pop();
    }
    let target_dir = profile_dir.parent().expect("<target>").to_path_buf();
    let bin = match std::env::var_os("VEROFIELD_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => {
            build_server(&workspace, &target_dir, &profile_dir);
            profile_dir.join("verofield")
        }
    };
    assert!(
        bin.is_file(),
        "the server binary {} does not exist",
        bin.display()
    );
    let tmp_root = target_dir.join("test-tmp");
    make_traversable_dir(&tmp_root);
    remove_stale_dirs(&tmp_root);
    let admin_url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_shared_cluster(&target_dir.join("test-pg")),
    };
    Env {
        admin_url,
        bin,
        tmp_root,
    }
}

fn build_server(workspace: &Path, target_dir: &Path, profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "verofield",
            "--bin",
            "verofield",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    let output = command.output().expect("running cargo build");
    assert!(
        output.status.success(),
        "cargo build -p verofield failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts (or attaches to) the shared embedded cluster and returns its admin URL. The
/// cluster is deliberately leaked: it outlives this process so the next test process
/// attaches instead of paying for another start. A file lock serialises concurrent starts.
fn start_shared_cluster(root: &Path) -> String {
    make_traversable_dir(root);
    let lock_path = root.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("opening the cluster lock file");
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .expect("locking the cluster lock file");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the cluster start");
    let cluster = runtime
        .block_on(verofield::pg::EmbeddedPostgres::start(
            root,
            &root.join("secrets"),
        ))
        .unwrap_or_else(|error| {
            panic!(
                "starting the embedded PostgreSQL under {}: {error:#}",
                root.display()
            )
        });
    let url = cluster.superuser_url("postgres");
    // Dropping it would stop the cluster; keep it running for the next test process.
    std::mem::forget(cluster);
    runtime.block_on(drop_stale_databases(&url));
    drop(lock);
    url
}

/// Databases that failed tests kept are dropped after a few hours, so the shared cluster
/// does not grow without bound. (PG_VERSION is written when a database is created.)
async fn drop_stale_databases(admin_url: &str) {
    let mut admin = connect(admin_url).await;
    let stale: Vec<String> = sqlx::query_scalar(
        r"SELECT datname::text FROM pg_database
          WHERE datname ~ '^vf_test_[0-9a-f]{32}$'
            AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '3 hours'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap_or_default();
    for name in stale {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
    let _ = admin.close().await;
}

/// Directories that failed tests kept are removed after a few hours (stopping a
/// PostgreSQL left running in one first).
fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3 * 3600));
        if old {
            stop_orphaned_postmaster(&entry.path().join("pg").join("data"));
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub(crate) fn make_traversable_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    // The embedded cluster runs as `postgres` when we are root: it must be able to traverse.
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

/// `url` with its database name replaced by `name` (host, port and query kept).
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

pub(crate) async fn connect(url: &str) -> PgConnection {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("parsing the database URL: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to PostgreSQL: {e}"))
}
