//! Login, refresh rotation and reuse detection, logout, throttling, invitations,
//! deactivation, suspension, and the RBAC rules on users.

use verofield_tests::*;

async fn refresh(server: &TestServer, token: &str) -> Resp {
    server
        .anon()
        .post("/v1/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

#[tokio::test]
async fn login_answers_tokens_and_failures_reveal_nothing() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;

    let response = server
        .try_login(&a.slug, &a.owner_email, &a.owner_password)
        .await;
    response.expect_status(200);
    assert_eq!(response.json["token_type"], "Bearer");
    assert!(response.json["expires_in"].as_u64().unwrap() > 0);
    assert!(
        response.json["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("vfr_")
    );
    let tokens = Tokens::from(&response);
    let me = server.me(&tokens.access).await;
    me.expect_status(200);
    assert_eq!(me.json["email"], json!(a.owner_email));
    assert_eq!(me.json["roles"], json!(["owner"]));
    // Email is case-insensitive.
    server
        .login(&a.slug, &a.owner_email.to_uppercase(), &a.owner_password)
        .await;

    let wrong_password = server
        .try_login(&a.slug, &a.owner_email, "wrong-password-123")
        .await;
    let unknown_user = server
        .try_login(&a.slug, "nobody@acme.test", "wrong-password-123")
        .await;
    let unknown_tenant = server
        .try_login("no-such-tenant", &a.owner_email, &a.owner_password)
        .await;
    let empty_password = server.try_login(&a.slug, &a.owner_email, "").await;
    wrong_password.expect_problem(401, "invalid_credentials");
    for (what, other) in [
        ("unknown user", &unknown_user),
        ("unknown tenant", &unknown_tenant),
        ("empty password", &empty_password),
    ] {
        assert_eq!(
            (
                other.status,
                other.code(),
                &other.json["detail"],
                &other.json["title"],
                &other.json["type"]
            ),
            (
                wrong_password.status,
                wrong_password.code(),
                &wrong_password.json["detail"],
                &wrong_password.json["title"],
                &wrong_password.json["type"]
            ),
            "{what} answers differently from a wrong password: {} vs {}",
            other.text,
            wrong_password.text
        );
        assert!(other.headers.get("retry-after").is_none());
    }
    // Every response carries a request id.
    assert!(
        wrong_password
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_spent() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let first = server.login_owner(&a).await;

    let response = refresh(&server, &first.refresh).await;
    response.expect_status(200);
    let second = Tokens::from(&response);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    server.me(&second.access).await.expect_status(200);

    // The newest token rotates again.
    let response = refresh(&server, &second.refresh).await;
    response.expect_status(200);
    let third = Tokens::from(&response);
    assert_ne!(third.refresh, second.refresh);

    // Garbage and unknown tokens are 401.
    for token in [
        "",
        "garbage",
        "vfr_",
        &format!("vfr_{}_{}", a.id.simple(), "A".repeat(43)),
    ] {
        let response = refresh(&server, token).await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "{token}: {}",
            response.text
        );
        assert!(response.is_problem());
    }
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_revokes_the_family() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let first = server.login_owner(&a).await;
    let other_session = server.login_owner(&a).await;

    let response = refresh(&server, &first.refresh).await;
    response.expect_status(200);
    let second = Tokens::from(&response);

    // The replay is refused...
    let replay = refresh(&server, &first.refresh).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.text);
    assert!(replay.is_problem());
    // ...and the whole family is revoked: the newest token no longer works either.
    let newest = refresh(&server, &second.refresh).await;
    assert_eq!(
        newest.status,
        StatusCode::UNAUTHORIZED,
        "the family survived a replay: {}",
        newest.text
    );
    // A second replay stays refused.
    assert_eq!(
        refresh(&server, &first.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Another login (another family) is untouched.
    refresh(&server, &other_session.refresh)
        .await
        .expect_status(200);

    // The database agrees: every token of the family is revoked.
    let mut db = server.db().await;
    let unrevoked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens t WHERE t.family_id = (
             SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 ORDER BY issued_at, id LIMIT 1)
           AND revoked_at IS NULL",
    )
    .bind(a.id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(unrevoked, 0);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let tokens = server.login_owner(&a).await;
    let rotated = Tokens::from(refresh(&server, &tokens.refresh).await.expect_status(200));

    let response = server
        .anon()
        .post(
            "/v1/auth/logout",
            &json!({ "refresh_token": rotated.refresh }),
        )
        .await;
    response.expect_status(204);
    let after = refresh(&server, &rotated.refresh).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "refresh after logout: {}",
        after.text
    );
    // Logout of an unknown or malformed token is a quiet 204 (it reveals nothing).
    for token in ["garbage", &tokens.refresh] {
        server
            .anon()
            .post("/v1/auth/logout", &json!({ "refresh_token": token }))
            .await
            .expect_status(204);
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_without_revealing_the_account() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--login-max-failures",
        "3",
        "--login-lockout-secs",
        "60",
    ]))
    .await;
    let a = server.create_tenant("acme").await;

    async fn until_throttled(server: &TestServer, tenant: &str, email: &str) -> (Vec<Resp>, Resp) {
        let mut failures = Vec::new();
        for _ in 0..10 {
            let response = server.try_login(tenant, email, "wrong-password-123").await;
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                return (failures, response);
            }
            failures.push(response);
        }
        panic!(
            "10 failed logins for {email} were never throttled: {:?}",
            failures.last().map(|r| &r.text)
        );
    }

    let (existing_failures, existing) = until_throttled(&server, &a.slug, &a.owner_email).await;
    let (unknown_failures, unknown) = until_throttled(&server, &a.slug, "nobody@acme.test").await;
    assert_eq!(existing_failures.len(), 3, "the limit is 3 failures");
    assert_eq!(
        unknown_failures.len(),
        existing_failures.len(),
        "an unknown account is throttled after a different count"
    );
    for failure in existing_failures.iter().chain(&unknown_failures) {
        failure.expect_problem(401, "invalid_credentials");
    }
    for response in [&existing, &unknown] {
        response.expect_problem(429, "login_throttled");
        let retry: u64 = response
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("Retry-After seconds");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    }
    assert_eq!(
        existing.json["detail"], unknown.json["detail"],
        "the throttle reveals which account exists"
    );
    assert_eq!(existing.json["title"], unknown.json["title"]);

    // While locked, even the right password is refused.
    let right = server
        .try_login(&a.slug, &a.owner_email, &a.owner_password)
        .await;
    right.expect_problem(429, "login_throttled");
    // Another account on the same tenant is not locked by these failures.
    let forged = forged_owner_token(&server, &a);
    let (email, password) = ("other@acme.test", "other-password-123");
    server
        .create_and_login(&forged, &a.slug, email, &["viewer"], password)
        .await;
}

/// Guesses sent in parallel must not outrun the per-account limit: with a limit of 3, at
/// most 3 of 20 simultaneous wrong passwords may be checked (answered 401); the rest are
/// refused with 429 before any password work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_cannot_outrun_the_throttle() {
    let server = std::sync::Arc::new(
        TestServer::start_with(ServerOptions::new().args([
            "--login-max-failures",
            "3",
            "--login-lockout-secs",
            "60",
        ]))
        .await,
    );
    let a = server.create_tenant("acme").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let server = server.clone();
        let (slug, email) = (a.slug.clone(), a.owner_email.clone());
        guesses.spawn(async move {
            server
                .try_login(&slug, &email, &format!("guess-number-{i}"))
                .await
        });
    }
    let mut checked = 0;
    while let Some(response) = guesses.join_next().await {
        let response = response.unwrap();
        match response.status.as_u16() {
            401 => checked += 1,
            429 => {}
            other => panic!("unexpected {other}: {}", response.text),
        }
    }
    assert!(
        checked <= 3,
        "{checked} of 20 parallel guesses were checked although the limit is 3"
    );
}

/// The same refresh token presented many times at once: at most one rotation succeeds,
/// and the replays revoke the family, including the token that rotation issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_replays_of_a_refresh_token_rotate_at_most_once() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let a = server.create_tenant("acme").await;
    let tokens = server.login_owner(&a).await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let server = server.clone();
        let token = tokens.refresh.clone();
        attempts.spawn(async move { refresh(&server, &token).await });
    }
    let mut rotated = Vec::new();
    while let Some(response) = attempts.join_next().await {
        let response = response.unwrap();
        match response.status.as_u16() {
            200 => rotated.push(Tokens::from(&response)),
            401 => {}
            other => panic!("unexpected {other}: {}", response.text),
        }
    }
    assert!(
        rotated.len() <= 1,
        "one refresh token rotated {} times",
        rotated.len()
    );
    for successor in rotated {
        let response = refresh(&server, &successor.refresh).await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "the family survived concurrent replays: {}",
            response.text
        );
    }
}

/// Password spraying: one failure each on many accounts from one address locks the address.
#[tokio::test]
async fn failures_across_accounts_from_one_address_are_throttled() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--login-max-failures",
        "100",
        "--login-max-failures-per-address",
        "5",
        "--login-lockout-secs",
        "60",
    ]))
    .await;
    let a = server.create_tenant("acme").await;
    for i in 0..5 {
        server
            .try_login(&a.slug, &format!("user{i}@acme.test"), "wrong-password-123")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    let locked = server
        .try_login(&a.slug, &a.owner_email, &a.owner_password)
        .await;
    locked.expect_problem(429, "login_throttled");
    assert!(locked.header("retry-after").is_some(), "no Retry-After");
}

/// An owner's access token minted without logging in (the owner account is locked):
/// signed with the server's own key, exactly as the server would.
fn forged_owner_token(server: &TestServer, tenant: &TenantFixture) -> String {
    let key = server.hs256_key();
    jwt::forge_hs256(
        &key,
        Some(&jwt::kid(&key)),
        &jwt::claims(tenant.owner_id, tenant.id),
    )
}

#[tokio::test]
async fn an_invited_user_sets_a_password_and_logs_in() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;

    let created = server
        .create_user(&owner, "Invitee@Acme.test", &["dispatcher"], None)
        .await;
    assert_eq!(created["status"], "invited");
    assert_eq!(created["email"], "invitee@acme.test");
    let invite = created["invite_token"]
        .as_str()
        .expect("an invite token")
        .to_owned();

    // Not yet able to log in.
    server
        .try_login(&a.slug, "invitee@acme.test", "new-password-123")
        .await
        .expect_problem(401, "invalid_credentials");
    // A too-short password is a 422 naming the field.
    let short = server.accept_invite(&invite, "short").await;
    short.expect_problem(422, "validation_failed");
    assert_eq!(short.json["errors"][0]["field"], "password");
    // A forged invitation is refused.
    let forged = format!("vfi_{}_{}", a.id.simple(), "A".repeat(43));
    let response = server.accept_invite(&forged, "new-password-123").await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.text
    );

    server
        .accept_invite(&invite, "new-password-123")
        .await
        .expect_status(204);
    let tokens = server
        .login(&a.slug, "invitee@acme.test", "new-password-123")
        .await;
    let me = server.me(&tokens.access).await;
    me.expect_status(200);
    assert_eq!(me.json["roles"], json!(["dispatcher"]));
    // The invitation is single-use.
    let again = server.accept_invite(&invite, "another-password-123").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text);
    server
        .login(&a.slug, "invitee@acme.test", "new-password-123")
        .await;
}

#[tokio::test]
async fn a_deactivated_user_loses_access_at_once() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let (user, tokens) = server
        .create_and_login(
            &owner,
            &a.slug,
            "tech@acme.test",
            &["technician"],
            "tech-password-123",
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    server.me(&tokens.access).await.expect_status(200);

    server
        .client_for(&owner)
        .delete_user(&id)
        .await
        .expect_status(204);

    // The access token has not expired, yet it stops working on the next request.
    server
        .me(&tokens.access)
        .await
        .expect_problem(401, "invalid_token");
    let response = refresh(&server, &tokens.refresh).await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "refresh of a deactivated user: {}",
        response.text
    );
    server
        .try_login(&a.slug, "tech@acme.test", "tech-password-123")
        .await
        .expect_problem(401, "invalid_credentials");
    let fetched = server
        .client_for(&owner)
        .get(&format!("/v1/users/{id}"))
        .await;
    assert_eq!(fetched.json["status"], "deactivated");

    // Reactivated, they can log in again (old refresh tokens stay revoked).
    server
        .client_for(&owner)
        .patch_user(&id, &json!({ "status": "active" }))
        .await
        .expect_status(200);
    server
        .login(&a.slug, "tech@acme.test", "tech-password-123")
        .await;
    assert_eq!(
        refresh(&server, &tokens.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_until_reactivated() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let b = server.create_tenant("bravo").await;
    let tokens = server.login_owner(&a).await;
    let token_b = server.login_owner(&b).await.access;

    let response = server
        .operator()
        .action(&format!("/v1/operator/tenants/{}/suspend", a.id))
        .await;
    response.expect_status(200);
    assert_eq!(response.json["status"], "suspended");

    server
        .me(&tokens.access)
        .await
        .expect_problem(403, "tenant_suspended");
    server
        .client_for(&tokens.access)
        .get("/v1/users")
        .await
        .expect_problem(403, "tenant_suspended");
    let login = server
        .try_login(&a.slug, &a.owner_email, &a.owner_password)
        .await;
    assert!(
        matches!(login.status.as_u16(), 401 | 403),
        "login to a suspended tenant: {}",
        login.text
    );
    let response = refresh(&server, &tokens.refresh).await;
    assert!(
        matches!(response.status.as_u16(), 401 | 403),
        "refresh in a suspended tenant: {}",
        response.text
    );
    // Other tenants are unaffected.
    server.me(&token_b).await.expect_status(200);

    server
        .operator()
        .action(&format!("/v1/operator/tenants/{}/activate", a.id))
        .await
        .expect_status(200);
    server.me(&tokens.access).await.expect_status(200);
    server.login_owner(&a).await;

    // Only the operator may do this.
    server
        .client_for(&tokens.access)
        .action(&format!("/v1/operator/tenants/{}/suspend", b.id))
        .await
        .expect_problem(401, "invalid_token");
    server
        .anon()
        .get("/v1/operator/tenants")
        .await
        .expect_problem(401, "missing_token");
}

#[tokio::test]
async fn rbac_rules_on_users() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let (_, viewer) = server
        .create_and_login(
            &owner,
            &a.slug,
            "viewer@acme.test",
            &["viewer"],
            "viewer-password-123",
        )
        .await;
    let (admin_user, admin) = server
        .create_and_login(
            &owner,
            &a.slug,
            "admin@acme.test",
            &["admin"],
            "admin-password-123",
        )
        .await;
    let target = server
        .create_user(
            &owner,
            "target@acme.test",
            &["dispatcher"],
            Some("target-password-123"),
        )
        .await;
    let target_id = target["id"].as_str().unwrap().to_owned();
    let (viewer, admin) = (viewer.access, admin.access);
    let mut db = server.db().await;

    // A viewer reads but cannot create, change or delete.
    let viewer_api = server.client_for(&viewer);
    viewer_api.get("/v1/users").await.expect_status(200);
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db)
        .await
        .unwrap();
    viewer_api
        .post(
            "/v1/users",
            &json!({ "email": "x@acme.test", "roles": ["viewer"] }),
        )
        .await
        .expect_problem(403, "permission_denied");
    viewer_api
        .patch_user(&target_id, &json!({ "display_name": "x" }))
        .await
        .expect_problem(403, "permission_denied");
    viewer_api
        .delete_user(&target_id)
        .await
        .expect_problem(403, "permission_denied");
    viewer_api
        .post(
            "/v1/roles",
            &json!({ "name": "mine", "permissions": ["jobs.read"] }),
        )
        .await
        .expect_problem(403, "permission_denied");
    viewer_api
        .get("/v1/audit")
        .await
        .expect_problem(403, "permission_denied");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(before, after);

    // An admin cannot grant owner, directly or through a custom role, nor touch an owner.
    let admin_api = server.client_for(&admin);
    admin_api
        .post(
            "/v1/users",
            &json!({ "email": "boss@acme.test", "roles": ["owner"] }),
        )
        .await
        .expect_problem(403, "role_escalation");
    admin_api
        .patch_user(&target_id, &json!({ "roles": ["owner"] }))
        .await
        .expect_problem(403, "role_escalation");
    let own_id = admin_user["id"].as_str().unwrap();
    admin_api
        .patch_user(&own_id, &json!({ "roles": ["owner"] }))
        .await
        .expect_problem(403, "role_escalation");
    admin_api
        .post(
            "/v1/roles",
            &json!({ "name": "sneaky", "permissions": ["jobs.read", "made.up.permission"] }),
        )
        .await
        .expect_problem(403, "role_escalation");
    admin_api
        .patch_user(a.owner_id, &json!({ "status": "deactivated" }))
        .await
        .expect_problem(403, "role_escalation");
    admin_api
        .delete_user(a.owner_id)
        .await
        .expect_problem(403, "role_escalation");
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
         WHERE ur.user_id = $1::uuid",
    )
    .bind(&target_id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(roles, vec!["dispatcher".to_owned()]);
    // What an admin may do, it can.
    admin_api
        .patch_user(&target_id, &json!({ "roles": ["viewer"] }))
        .await
        .expect_status(200);

    // The last owner cannot be deactivated or demoted.
    let owner_api = server.client_for(&owner);
    let response = owner_api.delete_user(a.owner_id).await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text);
    let response = owner_api
        .patch_user(a.owner_id, &json!({ "status": "deactivated" }))
        .await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text);
    owner_api
        .patch_user(a.owner_id, &json!({ "roles": ["admin"] }))
        .await
        .expect_problem(409, "last_owner");
    let (status, roles): (String, Vec<String>) = sqlx::query_as(
        "SELECT u.status, array(SELECT r.name FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
                                WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id)
         FROM users u WHERE u.id = $1",
    )
    .bind(a.owner_id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), roles),
        ("active", vec!["owner".to_owned()]),
        "the failed change was not rolled back"
    );
    me_is(&server, &owner, 200).await;

    // With a second owner, the first may step down; then the second is the last.
    let (second, second_tokens) = server
        .create_and_login(
            &owner,
            &a.slug,
            "owner2@acme.test",
            &["owner"],
            "owner2-password-123",
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second_token = second_tokens.access;
    owner_api
        .patch_user(a.owner_id, &json!({ "roles": ["admin"] }))
        .await
        .expect_status(200);
    server
        .client_for(&second_token)
        .patch_user(&second_id, &json!({ "roles": ["admin"] }))
        .await
        .expect_problem(409, "last_owner");

    // If-Match: a stale version is 412 and changes nothing; the current one applies.
    let api = server.client_for(&second_token);
    let fetched = api.get(&format!("/v1/users/{target_id}")).await;
    fetched.expect_status(200);
    let etag = fetched.header("etag").expect("ETag").to_owned();
    let stale = send(
        api.request(Method::PATCH, &format!("/v1/users/{target_id}"))
            .header("if-match", "\"999\"")
            .json(&json!({ "display_name": "stale" })),
    )
    .await;
    stale.expect_problem(412, "precondition_failed");
    let stale_delete = send(
        api.request(Method::DELETE, &format!("/v1/users/{target_id}"))
            .header("if-match", "\"999\""),
    )
    .await;
    stale_delete.expect_problem(412, "precondition_failed");
    let name: String = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1::uuid")
        .bind(&target_id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(name, "");
    let fresh = send(
        api.request(Method::PATCH, &format!("/v1/users/{target_id}"))
            .header("if-match", &etag)
            .json(&json!({ "display_name": "Fresh" })),
    )
    .await;
    fresh.expect_status(200);
    assert_eq!(fresh.json["display_name"], "Fresh");
    assert_ne!(
        fresh.header("etag"),
        Some(etag.as_str()),
        "the ETag did not change"
    );
    // The old ETag is now stale.
    let again = send(
        api.request(Method::PATCH, &format!("/v1/users/{target_id}"))
            .header("if-match", &etag)
            .json(&json!({ "display_name": "Again" })),
    )
    .await;
    again.expect_problem(412, "precondition_failed");
}

/// The admin role "runs the company account": it must be able to create and manage users
/// of every built-in role except owner (technicians above all, in a field-service company).
#[tokio::test]
async fn an_admin_manages_users_of_every_builtin_role_but_owner() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let (_, admin) = server
        .create_and_login(
            &owner,
            &a.slug,
            "admin@acme.test",
            &["admin"],
            "admin-password-123",
        )
        .await;
    let admin = server.client_for(&admin.access);
    let mut refused = Vec::new();
    for role in ["admin", "dispatcher", "technician", "accountant", "viewer"] {
        let created = admin
            .post(
                "/v1/users",
                &json!({ "email": format!("new-{role}@acme.test"), "roles": [role] }),
            )
            .await;
        if created.status != StatusCode::CREATED {
            refused.push(format!(
                "create a {role}: {} {}",
                created.status, created.text
            ));
            // Let the owner create it, then see whether the admin can manage it.
            let id = server
                .create_user(&owner, &format!("new-{role}@acme.test"), &[role], None)
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let renamed = admin
                .patch_user(&id, &json!({ "display_name": "Renamed" }))
                .await;
            if renamed.status != StatusCode::OK {
                refused.push(format!(
                    "rename a {role}: {} {}",
                    renamed.status, renamed.text
                ));
            }
            let removed = admin.delete_user(&id).await;
            if removed.status != StatusCode::NO_CONTENT {
                refused.push(format!(
                    "deactivate a {role}: {} {}",
                    removed.status, removed.text
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "the admin role cannot manage some built-in roles:\n{}",
        refused.join("\n")
    );
}

#[tokio::test]
async fn built_in_roles_cannot_be_changed() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.client_for(&server.login_owner(&a).await.access);
    let roles = owner.get("/v1/roles").await;
    roles.expect_status(200);
    let names: Vec<&str> = roles.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for builtin in [
        "accountant",
        "admin",
        "dispatcher",
        "owner",
        "technician",
        "viewer",
    ] {
        assert!(names.contains(&builtin), "{builtin} missing from {names:?}");
    }
    let owner_role = roles.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "owner")
        .unwrap();
    let id = owner_role["id"].as_str().unwrap();
    owner
        .patch(
            &format!("/v1/roles/{id}"),
            &json!({ "permissions": ["jobs.read"] }),
        )
        .await
        .expect_problem(409, "builtin_role");
    owner
        .delete(&format!("/v1/roles/{id}"))
        .await
        .expect_problem(409, "builtin_role");

    // A custom role: created, updated, refused while held, deleted when free.
    let lead = json!({ "name": "lead", "permissions": ["jobs.read"] });
    let created = owner.post("/v1/roles", &lead).await;
    created.expect_status(201);
    let role_id = created.uuid("id");
    owner
        .post("/v1/roles", &lead)
        .await
        .expect_problem(409, "role_name_taken");
    let holder = server
        .create_user(
            &server.login_owner(&a).await.access,
            "lead@acme.test",
            &["lead"],
            None,
        )
        .await;
    owner
        .delete(&format!("/v1/roles/{role_id}"))
        .await
        .expect_problem(409, "role_in_use");
    owner
        .patch(
            &format!("/v1/users/{}", holder["id"].as_str().unwrap()),
            &json!({ "roles": ["viewer"] }),
        )
        .await
        .expect_status(200);
    owner
        .delete(&format!("/v1/roles/{role_id}"))
        .await
        .expect_status(204);
    owner
        .get(&format!("/v1/roles/{role_id}"))
        .await
        .expect_problem(404, "not_found");
}

async fn me_is(server: &TestServer, token: &str, status: u16) {
    server.me(token).await.expect_status(status);
}

/// Two owners demoting (or deactivating) each other at the same moment: one change may win,
/// never both, so the tenant always keeps an active owner.
#[tokio::test]
async fn owners_removing_each_other_at_once_always_leave_one_owner() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("two-owners").await;
    let a_tokens = server.login_owner(&tenant).await;
    let (b, b_tokens) = server
        .create_and_login(
            &a_tokens.access,
            &tenant.slug,
            "b@two-owners.test",
            &["owner"],
            "pw-b-0123456789",
        )
        .await;
    let b_id = json_uuid(&b["id"]).unwrap();
    let (a_api, b_api) = (
        server.client_for(&a_tokens.access),
        server.client_for(&b_tokens.access),
    );
    let mut db = server.db().await;
    let active_owners = "SELECT count(*) FROM users u
         JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
         WHERE u.tenant_id = $1 AND u.status = 'active' AND r.name = 'owner'";
    for round in 0..30 {
        let (to_a, to_b) = (
            format!("/v1/users/{}", tenant.owner_id),
            format!("/v1/users/{b_id}"),
        );
        let (first, second) = if round % 2 == 0 {
            let demote = json!({ "roles": ["viewer"] });
            tokio::join!(b_api.patch(&to_a, &demote), a_api.patch(&to_b, &demote))
        } else {
            tokio::join!(b_api.delete(&to_a), a_api.delete(&to_b))
        };
        // The loser finds itself demoted (403) or deactivated (401) when the other change
        // committed before its request began, or the last owner (409) when during it.
        for response in [&first, &second] {
            assert!(
                response.status.is_success()
                    || [401, 403].contains(&response.status.as_u16())
                    || response.code() == "last_owner",
                "round {round}: {} {}",
                response.status,
                response.text
            );
        }
        let owners: i64 = sqlx::query_scalar(active_owners)
            .bind(tenant.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert!(owners >= 1, "round {round}: no active owner left");
        // Both owners again (as the admin: RLS does not apply) for the next round.
        sqlx::raw_sql(&format!(
            "UPDATE users SET status = 'active' WHERE tenant_id = '{t}';
             INSERT INTO user_roles (tenant_id, user_id, role_id)
             SELECT u.tenant_id, u.id, r.id FROM users u JOIN roles r ON r.tenant_id = u.tenant_id
             WHERE u.tenant_id = '{t}' AND r.name = 'owner'
             ON CONFLICT DO NOTHING;
             DELETE FROM user_roles ur USING roles r
             WHERE ur.tenant_id = '{t}' AND r.tenant_id = ur.tenant_id AND r.id = ur.role_id
               AND r.name = 'viewer'",
            t = tenant.id
        ))
        .execute(&mut db)
        .await
        .unwrap();
    }
}
