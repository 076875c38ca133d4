//! The server process: [`TestServer`] spawns the real binary, waits for its listening line,
//! and kills it on drop; its stderr is shown when a test fails.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::*;

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

    /// Let outbound requests (webhooks) reach plain-http receivers on 127.0.0.0/8, which
    /// the server refuses by default: for suites with a local [`Receiver`].
    pub fn local_outbound(self) -> Self {
        self.args([
            "--outbound-allow-http",
            "--outbound-allow-cidr",
            "127.0.0.0/8",
        ])
    }

    /// Events delivered within moments: retries from 20 ms, leases of 3 s, polls every 50 ms
    /// and sweeps every 2 s (the defaults are minutes apart).
    pub fn quick_events(self) -> Self {
        self.args([
            "--event-retry-base-ms",
            "20",
            "--event-lease-secs",
            "3",
            "--event-poll-ms",
            "50",
            "--event-sweep-secs",
            "2",
        ])
    }

    /// Another host of `peer`'s cluster: the same database (owned by `peer`, which must
    /// outlive this server) and the same JWT signing key, so tokens work on either.
    pub fn beside(mut self, peer: &TestServer) -> Self {
        let secrets = TempDir::new("server");
        let dir = secrets.path().join("secrets");
        std::fs::create_dir_all(&dir).expect("creating the secrets directory");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("making the secrets directory private");
        std::fs::copy(
            peer.data_dir().join("secrets").join("jwt-hs256.key"),
            dir.join("jwt-hs256.key"),
        )
        .expect("copying the peer's JWT key");
        self.data_dir = Some(secrets);
        self.env("DATABASE_URL", &peer.test_db().url.clone())
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
            // A peer's database, named by DATABASE_URL (`beside`).
            (false, None) if options.env.iter().any(|(key, _)| key == "DATABASE_URL") => None,
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
        self.create_tenant_in(slug, "UTC").await
    }

    /// [`create_tenant`](Self::create_tenant) in the IANA zone `time_zone`.
    pub async fn create_tenant_in(&self, slug: &str, time_zone: &str) -> TenantFixture {
        let owner_email = format!("owner@{slug}.test");
        let owner_password = format!("pw-{slug}-0123456789");
        let response = self
            .operator()
            .post(
                "/v1/operator/tenants",
                &json!({
                    "name": format!("Tenant {slug}"),
                    "slug": slug,
                    "time_zone": time_zone,
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

    /// Creates an API key through `POST /v1/api-keys`; panics unless 201. Returns the body,
    /// whose `key` is the key itself (shown this once).
    pub async fn create_api_key(&self, token: &str, name: &str, permissions: &[&str]) -> Value {
        let response = self
            .client_for(token)
            .post(
                "/v1/api-keys",
                &json!({ "name": name, "permissions": permissions }),
            )
            .await;
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
pub(crate) fn stop_orphaned_postmaster(data: &Path) {
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
pub(crate) fn clean_env(command: &mut Command) {
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
