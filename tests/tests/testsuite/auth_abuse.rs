//! Abuse of the unauthenticated auth routes: an invitation with a bogus token costs no argon2
//! work, a flood of logins past the argon2 queue is refused (503 `server_busy`) rather than
//! hung, `X-Forwarded-For` counts only from trusted proxies, and an attacker's failures on an
//! account do not lock its owner out.

use std::sync::Arc;

use verofield_tests::{Method, Resp, ServerOptions, TestServer, json, send};

/// The value of a counter line of `/metrics` (0 when the series does not exist yet).
async fn counter(server: &TestServer, series: &str) -> Option<u64> {
    let metrics = server.anon().get("/metrics").await;
    metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

const HASHES: &str = r#"password_hashes_total{operation="hash"}"#;

async fn login_from(
    server: &TestServer,
    address: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> Resp {
    send(
        server
            .anon()
            .request(Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", address)
            .json(&json!({ "tenant": tenant, "email": email, "password": password })),
    )
    .await
}

#[tokio::test]
async fn an_invitation_with_a_bogus_token_is_refused_before_any_hashing() {
    let server = TestServer::start().await;
    let a = server.create_tenant("invite-a").await;
    let owner = server.login_owner(&a).await.access;
    // The owner's password was hashed when the tenant was created.
    let before = counter(&server, HASHES)
        .await
        .expect("argon2 hashes are counted");
    assert!(before >= 1);

    for token in [
        format!("vfi_{}_{}", a.id, "0".repeat(43)),
        format!("vfi_{}_not-a-token", uuid::Uuid::now_v7()),
    ] {
        server
            .anon()
            .post(
                "/v1/auth/accept-invite",
                &json!({ "token": token, "password": "a-long-enough-password" }),
            )
            .await
            .expect_problem(401, "invalid_invite");
    }
    assert_eq!(
        counter(&server, HASHES).await,
        Some(before),
        "a bogus token was hashed for"
    );

    // A real invitation is hashed for, once.
    let created = server
        .create_user(&owner, "invitee@invite-a.test", &["viewer"], None)
        .await;
    let token = created["invite_token"].as_str().unwrap();
    server
        .anon()
        .post(
            "/v1/auth/accept-invite",
            &json!({ "token": token, "password": "a-long-enough-password" }),
        )
        .await
        .expect_status(204);
    assert_eq!(counter(&server, HASHES).await, Some(before + 1));
}

/// One argon2 slot and a queue of one: most of 24 simultaneous logins are refused at once with
/// 503 `server_busy` and Retry-After; every one is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_past_the_argon2_queue_is_refused_not_hung() {
    let server = Arc::new(
        TestServer::start_with(ServerOptions::new().args([
            "--password-hash-concurrency",
            "1",
            "--password-hash-queue",
            "1",
            "--login-max-failures-per-address",
            "1000",
        ]))
        .await,
    );
    let a = server.create_tenant("flood-a").await;
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (server, slug) = (server.clone(), a.slug.clone());
        logins.spawn(async move {
            server
                .try_login(
                    &slug,
                    &format!("user{i}@flood-a.test"),
                    "wrong-password-123",
                )
                .await
        });
    }
    let mut busy = 0;
    while let Some(response) = logins.join_next().await {
        let response = response.unwrap();
        match response.status.as_u16() {
            401 => response.expect_problem(401, "invalid_credentials"),
            503 => {
                response.expect_problem(503, "server_busy");
                assert!(response.header("retry-after").is_some(), "no Retry-After");
                busy += 1;
                continue;
            }
            other => panic!("unexpected {other}: {}", response.text),
        };
    }
    assert!(busy > 0, "24 logins at once all waited for one argon2 slot");
    // Afterwards the owner logs in as usual.
    server.login_owner(&a).await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let limits = [
        "--login-max-failures-per-address",
        "3",
        "--login-max-failures",
        "100",
    ];
    // Untrusted peer: every attempt counts against the peer, whatever the header says.
    let server = TestServer::start_with(ServerOptions::new().args(limits)).await;
    let a = server.create_tenant("xff-a").await;
    for i in 0..3 {
        let address = format!("203.0.113.{i}");
        login_from(
            &server,
            &address,
            &a.slug,
            &format!("u{i}@xff-a.test"),
            "wrong-password-123",
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }
    login_from(
        &server,
        "203.0.113.99",
        &a.slug,
        "u9@xff-a.test",
        "wrong-password-123",
    )
    .await
    .expect_problem(429, "login_throttled");
    drop(server);

    // Trusted proxy: the forwarded address is the client.
    let server = TestServer::start_with(
        ServerOptions::new()
            .args(limits)
            .args(["--trusted-proxies", "10.9.0.0/16,127.0.0.1/32"]),
    )
    .await;
    let a = server.create_tenant("xff-b").await;
    for i in 0..4 {
        let address = format!("203.0.113.{i}");
        login_from(
            &server,
            &address,
            &a.slug,
            &format!("u{i}@xff-b.test"),
            "wrong-password-123",
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }
    // One client behind the proxy is limited on its own (a forged left-most hop changes nothing).
    for i in 0..3 {
        login_from(
            &server,
            &format!("10.1.1.{i}, 198.51.100.5"),
            &a.slug,
            "v@xff-b.test",
            "wrong-password-123",
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }
    login_from(
        &server,
        "198.51.100.5",
        &a.slug,
        "w@xff-b.test",
        "wrong-password-123",
    )
    .await
    .expect_problem(429, "login_throttled");
    // The owner elsewhere is not affected.
    login_from(
        &server,
        "192.0.2.44",
        &a.slug,
        &a.owner_email,
        &a.owner_password,
    )
    .await
    .expect_status(200);
}

/// Someone who knows the owner's email fails logins on it from their address until they are
/// delayed: the owner, at another address, still logs in.
#[tokio::test]
async fn an_attackers_failures_do_not_lock_the_owner_out() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--trusted-proxies",
        "127.0.0.1/32",
        "--login-max-failures",
        "3",
    ]))
    .await;
    let a = server.create_tenant("victim").await;
    let attacker = "203.0.113.66";
    for _ in 0..3 {
        login_from(
            &server,
            attacker,
            &a.slug,
            &a.owner_email,
            "guess-password-123",
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }
    let delayed = login_from(
        &server,
        attacker,
        &a.slug,
        &a.owner_email,
        "guess-password-123",
    )
    .await;
    delayed.expect_problem(429, "login_throttled");
    let retry: u64 = delayed.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    // Even the right password waits, from the attacker's address.
    login_from(
        &server,
        attacker,
        &a.slug,
        &a.owner_email,
        &a.owner_password,
    )
    .await
    .expect_problem(429, "login_throttled");

    // The owner, from an address with no failures: in.
    login_from(
        &server,
        "198.51.100.20",
        &a.slug,
        &a.owner_email,
        &a.owner_password,
    )
    .await
    .expect_status(200);
}
