//! No tenant can starve the others: slow uploads hold no database connection, a tenant past
//! its share of transactions or module calls gets 429 `tenant_busy` while another tenant is
//! served at the same moment, and PostgreSQL ends a transaction left idle.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use verofield_tests::{Api, Resp, ServerOptions, TestDb, TestServer, bind, fixture_component};

async fn owner_api(server: &TestServer, slug: &str) -> (Api, String) {
    let tenant = server.create_tenant(slug).await;
    let token = server.login_owner(&tenant).await.access;
    (server.client_for(&token), token)
}

/// Publishes the `spin` fixture (it loops until its deadline), shared with tenant `slug`,
/// and binds it for that tenant's `api`.
async fn bind_spin(server: &TestServer, api: &Api, slug: &str) {
    let digest = server
        .publish_module(&fixture_component("spin"), &[slug])
        .await;
    bind(api, "spin", &digest).await;
}

fn spin(api: &Api) -> JoinHandle<Resp> {
    let api = api.clone();
    tokio::spawn(async move { api.get("/v1/spin").await })
}

/// Sends `probe` until the tenant is over its share (429), with a spin call of the same tenant
/// in flight: a spin that lost the race to a probe (429 itself) is started again. Returns the
/// refusal and the spin call, still running.
async fn until_busy(api: &Api, probe: &str) -> (Resp, JoinHandle<Resp>) {
    let mut spinning = spin(api);
    loop {
        if spinning.is_finished() {
            spinning.await.unwrap().expect_problem(429, "tenant_busy");
            spinning = spin(api);
        }
        let response = api.get(probe).await;
        if response.status.as_u16() == 429 {
            return (response, spinning);
        }
        response.expect_status(200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn expect_tenant_busy(response: &Resp) {
    response.expect_problem(429, "tenant_busy");
    let retry: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry >= 1, "Retry-After {retry}");
}

/// Clients of tenant A that send their headers and then the body a byte a second, more of
/// them than the pool has connections: tenant B is served all the while. (Before, each held
/// a pooled connection in an open transaction until its body arrived, and B got 503.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_uploads_of_one_tenant_do_not_starve_another() {
    let server = TestServer::start().await;
    let (_, a_token) = owner_api(&server, "slow-a").await;
    let (b, _) = owner_api(&server, "slow-b").await;
    // Longer to trickle than the pool's acquire timeout (10 s).
    const BODY: &[u8] = br#"{"name": "slow-role", "permissions": []}"#;
    const CLIENTS: usize = 24;
    let mut uploads = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST /v1/roles HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {a_token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            BODY.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&BODY[..1]).await.unwrap();
        uploads.push(stream);
    }
    let trickle = tokio::spawn(async move {
        for chunk in BODY[1..].chunks(3) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for stream in &mut uploads {
                stream.write_all(chunk).await.unwrap();
            }
        }
        uploads
    });
    let mut served = 0;
    while !trickle.is_finished() {
        let response = b.get("/v1/me").await;
        assert_eq!(
            response.status.as_u16(),
            200,
            "tenant B while A's uploads trickle: {}",
            response.text
        );
        served += 1;
    }
    assert!(served > 0);
    // Every upload gets an answer once its body is complete (created, or refused as a
    // duplicate or over A's share), not a server error.
    for mut stream in trickle.await.unwrap() {
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        let status = std::str::from_utf8(&head[9..12]).unwrap();
        assert!(!status.starts_with('5'), "an upload answered {status}");
    }
}

/// Tenant A, holding its one transaction in a long module call, is refused another (429
/// `tenant_busy`, Retry-After) while tenant B's request at that moment succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_over_its_transaction_share_is_refused_and_another_is_served() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--tenant-max-transactions",
        "1",
        "--module-deadline-ms",
        "15000",
    ]))
    .await;
    let (a, _) = owner_api(&server, "busy-a").await;
    let (b, _) = owner_api(&server, "busy-b").await;
    bind_spin(&server, &a, "busy-a").await;

    let (refused, spinning) = until_busy(&a, "/v1/me").await;
    expect_tenant_busy(&refused);
    b.get("/v1/me").await.expect_status(200);
    assert!(!spinning.is_finished(), "B was served while A's call ran");
    spinning
        .await
        .unwrap()
        .expect_problem(503, "module_timeout");
    a.get("/v1/me").await.expect_status(200);
}

/// Tenant A, at its share of module calls, is refused another module call, while its host
/// routes and tenant B's module calls are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_over_its_module_call_share_is_refused_and_another_is_served() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules().args([
        "--tenant-max-module-calls",
        "1",
        "--module-deadline-ms",
        "15000",
    ]))
    .await;
    let (a, _) = owner_api(&server, "calls-a").await;
    let (b, _) = owner_api(&server, "calls-b").await;
    bind_spin(&server, &a, "calls-a").await;

    let (refused, spinning) = until_busy(&a, "/v1/crm/customers").await;
    expect_tenant_busy(&refused);
    b.get("/v1/crm/customers").await.expect_status(200);
    a.get("/v1/me").await.expect_status(200);
    assert!(!spinning.is_finished(), "B was served while A's call ran");
    spinning
        .await
        .unwrap()
        .expect_problem(503, "module_timeout");
    a.get("/v1/crm/customers").await.expect_status(200);
}

/// The server's connections carry `idle_in_transaction_session_timeout`, and it survives
/// `SET LOCAL ROLE` into the app role: a tenant transaction left idle is ended by PostgreSQL.
#[tokio::test]
async fn a_transaction_left_idle_is_ended_by_the_server() {
    let db = TestDb::create().await;
    let database = verofield::db::Database::open(&verofield::config::DatabaseSettings {
        url: Some(db.url.clone()),
        embedded_root: std::path::PathBuf::from("/nonexistent"),
        secrets_dir: std::path::PathBuf::from("/nonexistent"),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(10),
        idle_in_transaction_timeout: Duration::from_millis(200),
    })
    .await
    .unwrap();
    database.migrate().await.unwrap();
    let scope = verofield::tenancy::TenantScope {
        tenant_id: uuid::Uuid::now_v7(),
        user_id: None,
    };
    let mut tx = verofield::tenancy::TenantTx::begin(&database.pool, scope, Duration::from_secs(5))
        .await
        .unwrap();
    let setting: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(setting, "200ms");
    // Idle well past the timeout: the session is gone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(tx.conn())
        .await;
    assert!(after.is_err(), "the idle transaction was still open");
    drop(tx);
    // The pool replaces the ended connection.
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&database.pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    database.close().await.unwrap();
}
