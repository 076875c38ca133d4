//! The black-box test harness: the real `verofield` binary, spawned as a child process,
//! against a real PostgreSQL. The suites under `tests/tests/` use it; nothing here mocks
//! anything.
//!
//! * PostgreSQL: `DATABASE_URL` when set (used as the admin connection), otherwise one
//!   embedded cluster under `<target>/test-pg`, started with the host's own launcher and left
//!   running between test binaries (the next binary attaches). Stop it with
//!   `pg_ctl -D target/test-pg/data -m fast stop` (as the `postgres` user when root).
//! * Every server gets a fresh database (`vf_test_<uuid>`), dropped again when the test
//!   passes (kept, and named on stderr, when it fails).
//! * The binary is built once per test process with `cargo build -p verofield` (or taken
//!   from `VEROFIELD_BIN`).
//! * [`TestServer`] spawns `verofield serve --listen 127.0.0.1:0`, waits for its
//!   `verofield listening on http://ADDR` line, and kills it on drop. Its stderr goes to a
//!   file in its data directory and is printed when a test fails.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use uuid::Uuid;

pub use reqwest::header::HeaderMap;
pub use reqwest::{Method, StatusCode};
pub use serde_json::{Value, json};

/// How long a server may take to print its listening line (migrations, a loaded machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Per HTTP request; generous because the machine may be busy compiling.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
pub const PROBLEM_JSON: &str = "application/problem+json";

// ---------------------------------------------------------------------------------------
// Process-wide set-up
// ---------------------------------------------------------------------------------------

struct Env {
    admin_url: String,
    bin: PathBuf,
    tmp_root: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// The process-wide set-up, done once on a thread of its own (tests run on several
/// threads, each in its own tokio runtime, so the set-up cannot belong to any of them).
fn env() -> &'static Env {
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
    // The test binary is <target>/<profile>/deps/<name>: build the server into the same place.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>")
        .to_path_buf();
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
/// cluster is deliberately leaked: it outlives this process so the next test binary
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
    // Dropping it would stop the cluster; keep it running for the other test binaries.
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

fn make_traversable_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    // The embedded cluster runs as `postgres` when we are root: it must be able to traverse.
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

/// `url` with its database name replaced by `name` (host, port and query kept).
fn with_database(url: &str, name: &str) -> String {
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

async fn connect(url: &str) -> PgConnection {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("parsing the database URL: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to PostgreSQL: {e}"))
}

// ---------------------------------------------------------------------------------------
// Temporary directories and databases
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
/// A directory under `<target>/test-tmp` (traversable by the `postgres` user, unlike /tmp
/// in some sandboxes). Removed on drop unless the test is failing.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = env()
            .tmp_root
            .join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        make_traversable_dir(&path);
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[derive(Debug)]
/// A fresh database on the test cluster. Dropped (WITH FORCE) when the test passes.
pub struct TestDb {
    pub name: String,
    /// The URL the server gets as DATABASE_URL.
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let env = env();
        let name = format!("vf_test_{}", Uuid::new_v4().simple());
        let mut admin = connect(&env.admin_url).await;
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        Self {
            url: with_database(&env.admin_url, &name),
            name,
        }
    }

    /// A connection to this database as the admin (a superuser: RLS does not apply, which
    /// is what assertions about "nothing changed" want).
    pub async fn connect(&self) -> PgConnection {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept database {}", self.name);
            return;
        }
        let admin_url = env().admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await;
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await;
                let _ = admin.close().await;
            });
            Some(())
        })
        .join();
    }
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

/// How to start a server: extra arguments after `serve`, extra environment, which database.
pub struct ServerOptions {
    args: Vec<String>,
    env: Vec<(String, String)>,
    embedded: bool,
    db: Option<TestDb>,
    data_dir: Option<TempDir>,
    startup_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerOptions {
    pub fn new() -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            embedded: false,
            db: None,
            data_dir: None,
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    /// Extra `serve` arguments, e.g. `["--login-max-failures", "3"]`.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// No DATABASE_URL: the server starts its own PostgreSQL in its data directory.
    pub fn embedded(mut self) -> Self {
        self.embedded = true;
        self.startup_timeout = self.startup_timeout.max(Duration::from_secs(180));
        self
    }

    /// Serve this database (prepared beforehand, by the CLI for instance).
    pub fn db(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// Use this data directory (secrets, embedded PostgreSQL) instead of a fresh one.
    pub fn data_dir(mut self, dir: TempDir) -> Self {
        self.data_dir = Some(dir);
        self
    }
}

/// Why a server did not come up: its exit status (None: it hung) and its output.
#[derive(Debug)]
pub struct StartFailure {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub data_dir: TempDir,
    pub db: Option<TestDb>,
}

/// A running `verofield serve`. Killed on drop.
pub struct TestServer {
    child: Child,
    exited: Option<ExitStatus>,
    embedded: bool,
    pub addr: SocketAddr,
    pub base_url: String,
    pub operator_token: String,
    stdout: Arc<Mutex<String>>,
    stderr_path: PathBuf,
    http: reqwest::Client,
    // Dropped after the child is killed (fields drop in declaration order, after Drop::drop).
    db: Option<TestDb>,
    data_dir: TempDir,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestServer {
    /// A server with default settings on a fresh database.
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::new()).await
    }

    pub async fn start_with(options: ServerOptions) -> Self {
        match Self::try_start(options).await {
            Ok(server) => server,
            Err(failure) => panic!(
                "the server did not start (status {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                failure.status, failure.stdout, failure.stderr
            ),
        }
    }

    /// Starts a server; Err when it exits (or hangs) before printing its listening line.
    pub async fn try_start(options: ServerOptions) -> Result<Self, StartFailure> {
        let env = env();
        let data_dir = options.data_dir.unwrap_or_else(|| TempDir::new("server"));
        let db = match (options.embedded, options.db) {
            (true, _) => None,
            (false, Some(db)) => Some(db),
            (false, None) => Some(TestDb::create().await),
        };
        let operator_token = format!("op-{}", Uuid::new_v4().simple());
        let stderr_path = data_dir.path().join("server.stderr");
        let stderr_file = std::fs::File::create(&stderr_path).expect("creating the stderr file");

        let mut command = Command::new(&env.bin);
        command
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file));
        clean_env(&mut command);
        command
            .env("VEROFIELD_OPERATOR_TOKEN", &operator_token)
            .env("VEROFIELD_LOG", "info,sqlx=warn")
            // One compiled-module cache for every server of the run: each compiles a
            // component once per run, not once per server.
            .env(
                "VEROFIELD_MODULE_CACHE_DIR",
                env.tmp_root.join("module-cache"),
            );
        if let Some(db) = &db {
            command.env("DATABASE_URL", &db.url);
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", env.bin.display()));

        // Read stdout on a thread of its own, forever (the pipe must never fill or close).
        let stdout = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        {
            let pipe = child.stdout.take().expect("piped stdout");
            let stdout = stdout.clone();
            std::thread::spawn(move || {
                let mut address_tx = Some(address_tx);
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(address) = line.strip_prefix("verofield listening on http://")
                        && let Ok(address) = address.trim().parse::<SocketAddr>()
                        && let Some(tx) = address_tx.take()
                    {
                        let _ = tx.send(address);
                    }
                    let mut out = stdout.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }

        let addr = match tokio::time::timeout(options.startup_timeout, address_rx).await {
            Ok(Ok(addr)) => addr,
            outcome => {
                let hung = outcome.is_err();
                if hung {
                    let _ = child.kill();
                }
                let status = child.wait().ok().filter(|_| !hung);
                // Let the reader thread collect the rest of stdout.
                std::thread::sleep(Duration::from_millis(50));
                let stdout = stdout.lock().unwrap().clone();
                return Err(StartFailure {
                    status,
                    stdout,
                    stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
                    data_dir,
                    db,
                });
            }
        };
        Ok(Self {
            child,
            exited: None,
            embedded: options.embedded,
            addr,
            base_url: format!("http://{addr}"),
            operator_token,
            stdout,
            stderr_path,
            http: http_client(),
            db,
            data_dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Requests with no credentials.
    pub fn anon(&self) -> Api {
        Api {
            http: self.http.clone(),
            base: self.base_url.clone(),
            token: None,
        }
    }

    /// Requests as the platform operator.
    pub fn operator(&self) -> Api {
        self.client_for(&self.operator_token)
    }

    /// Requests with `Authorization: Bearer <token>`.
    pub fn client_for(&self, token: &str) -> Api {
        Api {
            http: self.http.clone(),
            base: self.base_url.clone(),
            token: Some(token.to_owned()),
        }
    }

    /// Creates a tenant through the operator API; its owner is `owner@<slug>.test`.
    pub async fn create_tenant(&self, slug: &str) -> TenantFixture {
        let owner_email = format!("owner@{slug}.test");
        let owner_password = format!("pw-{slug}-0123456789");
        let response = self
            .operator()
            .post(
                "/v1/operator/tenants",
                &json!({
                    "name": format!("Tenant {slug}"),
                    "slug": slug,
                    "admin_email": owner_email,
                    "admin_password": owner_password,
                }),
            )
            .await;
        response.expect_status(201);
        TenantFixture {
            id: response.uuid("tenant_id"),
            slug: slug.to_owned(),
            owner_id: response.uuid("admin_user_id"),
            owner_email,
            owner_password,
        }
    }

    pub async fn try_login(&self, tenant: &str, email: &str, password: &str) -> Resp {
        self.anon()
            .post(
                "/v1/auth/login",
                &json!({ "tenant": tenant, "email": email, "password": password }),
            )
            .await
    }

    /// Logs in; panics unless it answers 200.
    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Tokens {
        let response = self.try_login(tenant, email, password).await;
        response.expect_status(200);
        Tokens::from(&response)
    }

    pub async fn login_owner(&self, tenant: &TenantFixture) -> Tokens {
        self.login(&tenant.slug, &tenant.owner_email, &tenant.owner_password)
            .await
    }

    /// Creates a user through `POST /v1/users`; panics unless 201. Returns the body.
    pub async fn create_user(
        &self,
        token: &str,
        email: &str,
        roles: &[&str],
        password: Option<&str>,
    ) -> Value {
        let mut body = json!({ "email": email, "roles": roles });
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        let response = self.client_for(token).post("/v1/users", &body).await;
        response.expect_status(201);
        response.json
    }

    /// An admin (superuser) connection to this server's database.
    pub async fn db(&self) -> PgConnection {
        self.test_db().connect().await
    }

    pub fn test_db(&self) -> &TestDb {
        self.db
            .as_ref()
            .expect("an embedded server has no test database")
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The HS256 signing key the server generated (the decoded bytes).
    pub fn hs256_key(&self) -> Vec<u8> {
        let text = std::fs::read_to_string(self.data_dir().join("secrets").join("jwt-hs256.key"))
            .expect("reading the HS256 key");
        STANDARD
            .decode(text.trim())
            .expect("the HS256 key is base64")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Asserts that the server logged no ERROR line: client mistakes are not server failures.
    #[track_caller]
    pub fn assert_no_error_logged(&self) {
        let log = self.stderr();
        assert!(
            !log.lines().any(|line| line.contains(" ERROR ")),
            "an ERROR was logged:\n{log}"
        );
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signalling the server");
    }

    /// Waits for the process to exit (after a signal); None on timeout.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited {
                return Some(status);
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(status);
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.exited.is_none() {
            if self.embedded {
                // Let it stop its own PostgreSQL; SIGKILL would orphan the cluster.
                let _ = kill(self.pid(), Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            if self.embedded {
                stop_orphaned_postmaster(&self.data_dir().join("pg").join("data"));
            }
        }
        if std::thread::panicking() {
            let stderr = self.stderr();
            let tail: Vec<&str> = stderr.lines().rev().take(80).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "--- server {} stderr (last 80 lines) ---\n{}",
                self.addr,
                tail.join("\n")
            );
        }
    }
}

/// Fast-stops a postmaster whose server was killed (SIGINT is PostgreSQL's fast shutdown).
fn stop_orphaned_postmaster(data: &Path) {
    let pid_file = data.join("postmaster.pid");
    let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|text| {
        text.lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok())
    }) else {
        return;
    };
    let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes variables of ours from a child's environment so that only what a test sets applies.
fn clean_env(command: &mut Command) {
    command.env_remove("DATABASE_URL");
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("VEROFIELD_")) {
            command.env_remove(key);
        }
    }
}

/// The server closes a kept-alive connection that sends no request within 30 s (its header
/// read timeout); the client forgets idle connections sooner, so it never writes a request
/// into one the server is closing (a test that blocks on a fixture build meanwhile saw
/// `IncompleteMessage`).
const CLIENT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(CLIENT_POOL_IDLE_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("building the HTTP client")
}

// ---------------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The stdout as one JSON value; panics (showing the output) unless it succeeded.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert!(self.status.success(), "the command failed: {self:#?}");
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `verofield --data-dir <data_dir> <args>` with DATABASE_URL = `db` (or none: the
/// embedded cluster in the data directory). Times out after two minutes.
pub async fn run_cli(
    data_dir: &Path,
    db: Option<&TestDb>,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> CliOutput {
    let env = env();
    let mut command = Command::new(&env.bin);
    command.arg("--data-dir").arg(data_dir).args(args);
    clean_env(&mut command);
    command.env("VEROFIELD_LOG", "warn");
    if let Some(db) = db {
        command.env("DATABASE_URL", &db.url);
    }
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("verofield {args:?} did not finish in two minutes"))
        .expect("running verofield");
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// A tiny client: a base URL and an optional bearer token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A request builder with the bearer token set, for custom headers or raw bodies.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        send(self.request(Method::DELETE, path)).await
    }
}

/// Sends a request; panics on a transport error.
pub async fn send(request: reqwest::RequestBuilder) -> Resp {
    try_send(request)
        .await
        .unwrap_or_else(|e| panic!("request failed: {e:?}"))
}

pub async fn try_send(request: reqwest::RequestBuilder) -> Result<Resp, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Resp {
        status,
        headers,
        text,
        json,
    })
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or Null when it is not JSON.
    pub json: Value,
}

impl Resp {
    /// The problem's stable `code` ("" when absent).
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn is_problem(&self) -> bool {
        self.content_type().starts_with(PROBLEM_JSON)
    }

    /// `self.json[field]` as a UUID.
    #[track_caller]
    pub fn uuid(&self, field: &str) -> Uuid {
        json_uuid(&self.json[field])
            .unwrap_or_else(|| panic!("`{field}` is not a UUID in {}", self.text))
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert!(
            self.is_problem(),
            "not problem+json ({}): {}",
            self.content_type(),
            self.text
        );
        assert_eq!(
            self.code(),
            code,
            "unexpected problem code; body: {}",
            self.text
        );
        assert_eq!(
            self.json["status"].as_u64(),
            Some(status as u64),
            "status member; body: {}",
            self.text
        );
        self
    }
}

pub fn json_uuid(value: &Value) -> Option<Uuid> {
    value.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct TenantFixture {
    pub id: Uuid,
    pub slug: String,
    pub owner_id: Uuid,
    pub owner_email: String,
    pub owner_password: String,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl From<&Resp> for Tokens {
    fn from(response: &Resp) -> Self {
        let field = |name: &str| {
            response.json[name]
                .as_str()
                .unwrap_or_else(|| panic!("no `{name}` in {}", response.text))
                .to_owned()
        };
        Self {
            access: field("access_token"),
            refresh: field("refresh_token"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

/// Forging JWTs the way an attacker (or the server) would.
pub mod jwt {
    use super::*;

    pub fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn unb64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).expect("base64url")
    }

    /// The server's key id: the first 8 bytes of sha256(key material), lower-case hex.
    pub fn kid(material: &[u8]) -> String {
        Sha256::digest(material)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// Claims the server would issue for `sub` in tenant `tid`, valid for ten minutes.
    pub fn claims(sub: Uuid, tid: Uuid) -> Value {
        let now = now();
        json!({
            "iss": "verofield",
            "aud": "verofield-api",
            "sub": sub,
            "tid": tid,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": Uuid::new_v4(),
        })
    }

    /// header.payload.signature with an HMAC-SHA256 signature over whatever header is given.
    pub fn sign_hs256(key: &[u8], header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        format!(
            "{signing_input}.{}",
            b64(&hmac_sha256(key, signing_input.as_bytes()))
        )
    }

    /// A correctly formed HS256 token with `kid`.
    pub fn forge_hs256(key: &[u8], kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({ "alg": "HS256", "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        sign_hs256(key, &header, claims)
    }

    /// An unsigned token: `header.payload.` (empty signature).
    pub fn unsigned(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    }

    /// The decoded header and claims of a token.
    pub fn decode(token: &str) -> (Value, Value) {
        let mut parts = token.split('.');
        let header = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
        let claims = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
        (header, claims)
    }

    /// HMAC-SHA256 (RFC 2104), written out so the harness needs no extra crate.
    pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
        const BLOCK: usize = 64;
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(block.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
        inner.update(message);
        let mut outer = Sha256::new();
        outer.update(block.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
        outer.update(inner.finalize());
        outer.finalize().to_vec()
    }
}

/// A random alphanumeric suffix for unique names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::new_v4().simple().to_string()[..10])
}

// ---------------------------------------------------------------------------------------
// Guest components
// ---------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds a guest workspace for wasm32-wasip2 (release) and returns its output directory.
/// Cargo makes this a no-op when the components are up to date. With
/// `VEROFIELD_TEST_PREBUILT_GUESTS=1` the components already built are used as they are.
fn build_guests(manifest: &Path) -> PathBuf {
    let out = manifest
        .parent()
        .unwrap()
        .join("target/wasm32-wasip2/release");
    if std::env::var_os("VEROFIELD_TEST_PREBUILT_GUESTS").is_some() {
        return out;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
            "--manifest-path",
        ])
        .arg(manifest)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("running cargo for the guest components");
    assert!(status.success(), "building {} failed", manifest.display());
    manifest
        .parent()
        .unwrap()
        .join("target/wasm32-wasip2/release")
}

/// The built-in modules (every component crate in `plugins/`), built once per test process.
pub fn builtin_modules_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_guests(&repo_root().join("plugins/Cargo.toml")))
        .clone()
}

/// The bytes of a test fixture component from `plugins/fixtures` (built once per process).
pub fn fixture_component(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| build_guests(&repo_root().join("plugins/fixtures/Cargo.toml")));
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

impl ServerOptions {
    /// Serve the built-in modules from `plugins/` (built first when needed).
    pub fn with_builtin_modules(self) -> Self {
        let dir = builtin_modules_dir();
        self.env(
            "VEROFIELD_BUILTIN_MODULES",
            dir.to_str().expect("a UTF-8 path"),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------

impl TestServer {
    /// Uploads a component as the operator, shared with these tenants (slugs), and returns
    /// its digest. An upload is private: only tenants it is shared with may bind it.
    pub async fn publish_module(&self, component: &[u8], share_with: &[&str]) -> String {
        let response = send(
            self.operator()
                .request(
                    Method::POST,
                    &format!("/v1/operator/modules?share={}", share_with.join(",")),
                )
                .header("content-type", "application/wasm")
                .body(component.to_vec()),
        )
        .await;
        response.expect_status(201);
        response.json["digest"].as_str().unwrap().to_owned()
    }
}

/// Binds the tenant's `slot` to `version` (a digest or `name@version`).
pub async fn bind(api: &Api, slot: &str, version: &str) {
    api.request(Method::PUT, &format!("/v1/tenant/modules/{slot}"))
        .json(&json!({ "version": version }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_or_else(|error| panic!("binding {slot} to {version}: {error}"));
}
