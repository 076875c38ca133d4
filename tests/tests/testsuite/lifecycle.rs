//! Process lifecycle: health endpoints, and SIGTERM while requests are in flight with the
//! embedded PostgreSQL (in-flight requests complete, new connections are refused, the
//! process exits 0 and the cluster is stopped).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use verofield_tests::*;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    let anon = server.anon();
    let health = anon.get("/healthz").await;
    health.expect_status(200);
    assert!(
        health
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
    anon.get("/readyz").await.expect_status(200);
    // A request id sent by the client is kept.
    let echoed = send(
        anon.request(Method::GET, "/healthz")
            .header("x-request-id", "trace-me-123"),
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-me-123"));
    // An unknown path under /v1 may be a module slot: anonymous callers are refused first.
    let unknown = anon.get("/v1/nope").await;
    assert!(
        matches!(unknown.status.as_u16(), 401 | 404),
        "{}",
        unknown.status
    );
    let metrics = anon.get("/metrics").await;
    metrics.expect_status(200);
    assert!(
        metrics.text.contains("http_requests_total"),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains("/healthz"),
        "no per-route label: {}",
        metrics.text
    );
}

#[tokio::test]
async fn sigterm_on_an_idle_server_exits_zero() {
    let mut server = TestServer::start().await;
    server.anon().get("/healthz").await.expect_status(200);
    server.signal(Signal::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("the server did not exit after SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_requests_and_stops_the_embedded_postgres() {
    // tower_http at debug logs "started processing request" for each request, which tells
    // us exactly when every login is inside the server.
    let mut server = TestServer::start_with(
        ServerOptions::new()
            .embedded()
            .env("VEROFIELD_LOG", "info,sqlx=warn,tower_http=debug")
            // Every attempt counts against the account before its password is checked;
            // this test logs one account in 20 times at once on purpose.
            .args(["--login-max-failures", "100"]),
    )
    .await;
    let postmaster_pid = server
        .data_dir()
        .join("pg")
        .join("data")
        .join("postmaster.pid");
    assert!(
        postmaster_pid.exists(),
        "the embedded PostgreSQL is not running under the data dir"
    );
    let tenant = server.create_tenant("acme").await;

    // Each login gets its own connection, opened (and accepted) before the signal.
    const LOGINS: usize = 20;
    let mut clients = Vec::new();
    for _ in 0..LOGINS {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        let warm = client
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("warming a connection");
        assert_eq!(warm.status(), 200);
        warm.bytes().await.unwrap();
        clients.push(client);
    }
    let completed = Arc::new(AtomicUsize::new(0));
    let mut logins = tokio::task::JoinSet::new();
    for client in clients {
        let url = server.url("/v1/auth/login");
        let body = json!({ "tenant": tenant.slug, "email": tenant.owner_email, "password": tenant.owner_password });
        let completed = completed.clone();
        logins.spawn(async move {
            let outcome = try_send(client.post(url).json(&body)).await;
            completed.fetch_add(1, Ordering::SeqCst);
            outcome
        });
    }
    // argon2 makes every login take a while: wait until the server has started on every
    // one of them, then signal while they are being worked on.
    let started = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.contains("/v1/auth/login") && l.contains("started processing request"))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while started(&server.stderr()) < LOGINS {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never started all {LOGINS} logins:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done_before_signal = completed.load(Ordering::SeqCst);
    server.signal(Signal::SIGTERM);

    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..200 {
        match tokio::net::TcpStream::connect(server.addr).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let in_flight_when_refused = LOGINS - completed.load(Ordering::SeqCst);

    let mut failures = Vec::new();
    while let Some(outcome) = logins.join_next().await {
        match outcome.expect("login task panicked") {
            Ok(response)
                if response.status == StatusCode::OK
                    && response.json["access_token"].is_string() => {}
            Ok(response) => failures.push(format!("{} {}", response.status, response.text)),
            Err(error) => failures.push(format!("transport error: {error:?}")),
        }
    }
    assert!(
        done_before_signal < LOGINS,
        "every login had finished before the signal; the test proved nothing"
    );
    assert!(
        failures.is_empty(),
        "in-flight requests failed during shutdown:\n{}",
        failures.join("\n")
    );
    assert!(refused, "new connections were still accepted after SIGTERM");
    eprintln!(
        "{done_before_signal} of {LOGINS} logins done at SIGTERM; {in_flight_when_refused} still in flight when connections were refused"
    );

    let status = server
        .wait_exit(Duration::from_secs(120))
        .await
        .expect("the server did not exit after SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
    assert!(
        !postmaster_pid.exists(),
        "the embedded PostgreSQL still runs after the server exited:\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("embedded PostgreSQL stopped"),
        "{}",
        server.stderr()
    );
}
