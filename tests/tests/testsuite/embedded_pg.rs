//! The embedded PostgreSQL is private to the server: its socket directory is 0700, every
//! connection needs the password kept in `<data-dir>/secrets/`, the pool's role is not a
//! superuser, and a data directory made by the old launcher (`trust`, no password) is
//! converted on start. With an external `DATABASE_URL` naming a superuser the server says so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use verofield_tests::*;

/// The newest `/usr/lib/postgresql/*/bin`, where `psql`, `initdb` and `pg_ctl` are.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL under /usr/lib/postgresql")
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version").1
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `psql -X -A -t -w` on the cluster's socket: never prompts for a password.
fn psql(socket: &Path, user: &str, password: Option<&str>, sql: &str) -> Output {
    psql_in("postgres", socket, user, password, sql)
}

fn psql_in(database: &str, socket: &Path, user: &str, password: Option<&str>, sql: &str) -> Output {
    let mut command = Command::new(pg_bin().join("psql"));
    psql_args(&mut command, database, socket, user, sql);
    match password {
        Some(password) => command.env("PGPASSWORD", password),
        None => command.env_remove("PGPASSWORD"),
    };
    command.output().expect("running psql")
}

fn psql_args(command: &mut Command, database: &str, socket: &Path, user: &str, sql: &str) {
    command
        .args(["-X", "-A", "-t", "-w", "-d", database, "-U", user, "-h"])
        .arg(socket)
        .args(["-c", sql]);
}

/// Runs a cluster tool as the cluster's OS user (`postgres` when we are root).
fn as_cluster_user(program: &str) -> Command {
    let program = pg_bin().join(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn superuser_password(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("secrets").join("postgres-superuser"))
        .expect("the superuser password in the secrets directory")
        .trim()
        .to_owned()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn the_embedded_cluster_admits_only_the_server_with_its_password() {
    let server = TestServer::start_with(ServerOptions::new().embedded()).await;
    let socket = server.data_dir().join("pg").join("sock");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o700, "the socket directory");
    assert_eq!(mode(&socket.join(".s.PGSQL.5432")), 0o700, "the socket");
    let secrets = server.data_dir().join("secrets");
    assert_eq!(mode(&secrets.join("postgres-superuser")), 0o600);
    assert_eq!(mode(&secrets.join("postgres-verofield")), 0o600);
    let password = superuser_password(server.data_dir());

    // The server's own OS user, without the password: refused, for either role.
    for user in ["postgres", "verofield"] {
        let refused = psql(&socket, user, None, "SELECT 1");
        assert!(
            !refused.status.success(),
            "{user} connected without a password"
        );
    }
    // With it: admitted (so the refusals above are about the password).
    assert_eq!(
        stdout_of(&psql(&socket, "postgres", Some(&password), "SELECT 1")),
        "1"
    );

    // Another OS user cannot reach the socket, even knowing the password.
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args([
                "-u",
                "nobody",
                "--",
                "env",
                &format!("PGPASSWORD={password}"),
            ])
            .arg(pg_bin().join("psql"));
        psql_args(&mut command, "postgres", &socket, "postgres", "SELECT 1");
        let output = command.output().expect("running psql as nobody");
        assert!(
            !output.status.success(),
            "nobody connected: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    } else {
        eprintln!("not root: cannot run psql as another OS user; skipped that part");
    }

    // Every connection of the server's pool logs in as a role without superuser or BYPASSRLS.
    let roles = stdout_of(&psql(
        &socket,
        "postgres",
        Some(&password),
        "SELECT string_agg(DISTINCT format('%s super=%s bypassrls=%s', r.rolname, r.rolsuper, r.rolbypassrls), ';')
         FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
         WHERE a.application_name = 'verofield'",
    ));
    assert_eq!(roles, "verofield super=f bypassrls=f");
    server.anon().get("/readyz").await.expect_status(200);
    server.create_tenant("private").await;
}

#[tokio::test]
async fn a_data_dir_made_by_the_trusting_launcher_is_converted_on_start() {
    // Built the way the launcher used to: `initdb -A trust`, socket directory 0755, every
    // object created by the superuser.
    let data = TempDir::new("old-pg");
    let (pg_data, socket) = (data.path().join("pg/data"), data.path().join("pg/sock"));
    for (dir, mode) in [(&pg_data, 0o700), (&socket, 0o755)] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
        if is_root() {
            let user = nix::unistd::User::from_name("postgres").unwrap().unwrap();
            nix::unistd::chown(dir.as_path(), Some(user.uid), Some(user.gid)).unwrap();
        }
    }
    let run = |command: &mut Command| {
        let output = command.output().unwrap();
        assert!(output.status.success(), "{command:?}: {output:?}");
    };
    run(as_cluster_user("initdb").arg("-D").arg(&pg_data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ]));
    let options = format!("-k {} -c listen_addresses=''", socket.display());
    run(as_cluster_user("pg_ctl")
        .arg("-D")
        .arg(&pg_data)
        .arg("-l")
        .arg(socket.join("postgres.log"))
        .args(["-w", "-o", &options, "start"])
        .stdout(std::process::Stdio::null()));
    stdout_of(&psql(
        &socket,
        "postgres",
        None,
        "CREATE DATABASE verofield",
    ));
    let url = format!(
        "postgres://postgres@localhost/verofield?host={}&port=5432",
        socket.display()
    );
    let cli_env = [("DATABASE_URL", url.as_str())];
    let created = run_cli(
        data.path(),
        None,
        &[
            "tenant",
            "create",
            "--name",
            "Old",
            "--slug",
            "old",
            "--admin-email",
            "owner@old.test",
            "--admin-password",
            "pw-old-0123456789",
        ],
        &cli_env,
    )
    .await;
    assert!(created.status.success(), "{created:#?}");
    run(as_cluster_user("pg_ctl")
        .arg("-D")
        .arg(&pg_data)
        .args(["-m", "fast", "-w", "stop"])
        .stdout(std::process::Stdio::null()));

    let server = TestServer::start_with(ServerOptions::new().embedded().data_dir(data)).await;
    server
        .login("old", "owner@old.test", "pw-old-0123456789")
        .await;
    let socket = server.data_dir().join("pg").join("sock");
    let refused = psql(&socket, "postgres", None, "SELECT 1");
    assert!(
        !refused.status.success(),
        "the converted cluster still trusts"
    );
    let password = superuser_password(server.data_dir());
    let foreign_owned = psql_in(
        "verofield",
        &socket,
        "postgres",
        Some(&password),
        "SELECT count(*) FROM pg_tables
         WHERE schemaname IN ('public', 'store') AND tableowner <> 'verofield'",
    );
    assert_eq!(
        stdout_of(&foreign_owned),
        "0",
        "tables not handed to the login role"
    );
}

#[tokio::test]
async fn a_superuser_database_url_is_served_with_a_warning() {
    // The harness's databases are reached as the cluster's superuser.
    let server = TestServer::start().await;
    server.anon().get("/readyz").await.expect_status(200);
    let stderr = server.stderr();
    assert!(
        stderr.contains("which is a superuser") && stderr.contains("row-level security"),
        "{stderr}"
    );
}

/// `verofield prune` on the embedded cluster (its login role owns the FORCEd tables, so it must
/// work tenant by tenant): rows past their retention go, rows within it stay, in every tenant.
#[tokio::test]
async fn prune_deletes_what_is_past_its_retention_and_keeps_the_rest() {
    let server = TestServer::start_with(ServerOptions::new().embedded()).await;
    let tenants = [
        server.create_tenant("prune-a").await,
        server.create_tenant("prune-b").await,
    ];
    let socket = server.data_dir().join("pg").join("sock");
    let password = superuser_password(server.data_dir());
    let sql = |statement: &str| {
        stdout_of(&psql_in(
            "verofield",
            &socket,
            "postgres",
            Some(&password),
            statement,
        ))
    };
    // Per tenant: an idempotency key 25 h old and one 23 h old; an expired refresh token and
    // a live one; an event delivered 8 days ago, one delivered an hour ago, one undelivered
    // from long ago. Each old row has `old` in its key, id or type.
    for tenant in &tenants {
        let (t, u) = (tenant.id, tenant.owner_id);
        sql(&format!(
            "INSERT INTO idempotency_keys (tenant_id, user_id, key, method, path, request_hash, created_at)
             VALUES ('{t}', '{u}', 'old', 'POST', '/x', '\\x00', now() - interval '25 hours'),
                    ('{t}', '{u}', 'recent', 'POST', '/x', '\\x00', now() - interval '23 hours');
             INSERT INTO refresh_tokens (tenant_id, id, family_id, user_id, token_hash, issued_at, expires_at, rotated_at)
             VALUES ('{t}', gen_random_uuid(), gen_random_uuid(), '{u}', decode(md5(random()::text), 'hex'),
                     now() - interval '31 days', now() - interval '1 day', now() - interval '30 days'),
                    ('{t}', gen_random_uuid(), gen_random_uuid(), '{u}', decode(md5(random()::text), 'hex'),
                     now(), now() + interval '1 day', NULL);
             INSERT INTO event_outbox (tenant_id, id, event_type, payload, source, occurred_at, delivered_at)
             VALUES ('{t}', gen_random_uuid(), 'old.delivered', '{{}}', 'test', now() - interval '9 days', now() - interval '8 days'),
                    ('{t}', gen_random_uuid(), 'recent.delivered', '{{}}', 'test', now() - interval '2 hours', now() - interval '1 hour'),
                    ('{t}', gen_random_uuid(), 'old.pending', '{{}}', 'test', now() - interval '9 days', NULL);"
        ));
    }
    let counts = || {
        sql("SELECT (SELECT count(*) FROM idempotency_keys) || ' ' ||
                    (SELECT count(*) FROM refresh_tokens WHERE expires_at < now()) || ' ' ||
                    (SELECT count(*) FROM refresh_tokens WHERE expires_at >= now()) || ' ' ||
                    (SELECT string_agg(event_type, ',' ORDER BY event_type) FROM event_outbox)")
    };
    let before = counts();
    let live_tokens: i64 = before.split(' ').nth(2).unwrap().parse().unwrap();

    // A week's retention: the 8-day-old delivered event goes, the hour-old one stays.
    let prune = ["prune", "--json", "--outbox-retention-hours", "168"];
    let pruned = run_cli(server.data_dir(), None, &prune, &[]).await;
    assert!(pruned.status.success(), "{pruned:#?}");
    let report: Value = serde_json::from_str(pruned.stdout.trim()).unwrap();
    assert_eq!(
        report,
        json!({"idempotency_keys": 2, "refresh_tokens": 2, "outbox_events": 2, "module_rows": 0})
    );
    assert_eq!(
        counts(),
        format!("2 0 {live_tokens} old.pending,old.pending,recent.delivered,recent.delivered")
    );
    let remaining_keys = sql("SELECT string_agg(key, ',') FROM idempotency_keys");
    assert_eq!(remaining_keys, "recent,recent");
}
