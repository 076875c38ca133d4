//! Tenant isolation: tenant A's credentials never read, change or delete tenant B's rows,
//! not one at a time, not through request bodies, not under concurrency on a small pool,
//! and RLS below the application holds on its own.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::{PgConnection, Row};
use uuid::Uuid;
use verofield_tests::*;

/// Two tenants, each with an owner, an invited viewer and a custom role of the same name.
struct World {
    server: TestServer,
    a: TenantFixture,
    b: TenantFixture,
    token_a: String,
    token_b: String,
    user_b: Uuid,
    role_b: Uuid,
}

async fn world(server: TestServer) -> World {
    let a = server.create_tenant("acme").await;
    let b = server.create_tenant("bravo").await;
    let token_a = server.login_owner(&a).await.access;
    let token_b = server.login_owner(&b).await.access;
    server
        .create_user(&token_a, "viewer@acme.test", &["viewer"], None)
        .await;
    let user_b = json_uuid(
        &server
            .create_user(&token_b, "viewer@bravo.test", &["viewer"], None)
            .await["id"],
    )
    .unwrap();
    let lead = json!({ "name": "field-lead", "description": "leads", "permissions": ["jobs.read", "crm.customers.read"] });
    server
        .client_for(&token_a)
        .post("/v1/roles", &lead)
        .await
        .expect_status(201);
    let role_b = server.client_for(&token_b).post("/v1/roles", &lead).await;
    role_b.expect_status(201);
    let role_b = role_b.uuid("id");
    World {
        server,
        a,
        b,
        token_a,
        token_b,
        user_b,
        role_b,
    }
}

/// Every row of a tenant in the tenant tables, as text, to compare before and after.
async fn snapshot(db: &mut PgConnection, tenant: Uuid) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "users",
        "roles",
        "user_roles",
        "refresh_tokens",
        "audit_log",
    ] {
        let rows: Option<String> = sqlx::query_scalar(&format!(
            "SELECT json_agg(t ORDER BY t::text)::text FROM {table} t WHERE tenant_id = $1"
        ))
        .bind(tenant)
        .fetch_one(&mut *db)
        .await
        .unwrap();
        out.push(format!("{table}: {}", rows.unwrap_or_default()));
    }
    out
}

async fn builtin_role_id(db: &mut PgConnection, tenant: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM roles WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn another_tenants_users_and_roles_are_not_found_and_unchanged() {
    let w = world(TestServer::start().await).await;
    let mut db = w.server.db().await;
    let owner_role_b = builtin_role_id(&mut db, w.b.id, "owner").await;
    let before_b = snapshot(&mut db, w.b.id).await;
    let api = w.server.client_for(&w.token_a);

    let users = [w.user_b, w.b.owner_id];
    let roles = [w.role_b, owner_role_b];
    let mut attempts: Vec<(String, Resp)> = Vec::new();
    for id in users {
        let path = format!("/v1/users/{id}");
        attempts.push((format!("GET {path}"), api.get(&path).await));
        for body in [
            json!({ "display_name": "pwned" }),
            json!({ "status": "deactivated" }),
            json!({ "roles": ["viewer"] }),
            json!({ "roles": ["field-lead"] }),
        ] {
            attempts.push((
                format!("PATCH {path} {body}"),
                api.patch(&path, &body).await,
            ));
        }
        let with_if_match = api
            .request(Method::PATCH, &path)
            .header("if-match", "\"1\"")
            .json(&json!({ "display_name": "x" }));
        attempts.push((format!("PATCH {path} If-Match"), send(with_if_match).await));
        attempts.push((format!("DELETE {path}"), api.delete(&path).await));
        let with_if_match = api
            .request(Method::DELETE, &path)
            .header("if-match", "\"999\"");
        attempts.push((format!("DELETE {path} If-Match"), send(with_if_match).await));
    }
    for id in roles {
        let path = format!("/v1/roles/{id}");
        attempts.push((format!("GET {path}"), api.get(&path).await));
        attempts.push((
            format!("PATCH {path}"),
            api.patch(
                &path,
                &json!({ "description": "pwned", "permissions": ["jobs.read"] }),
            )
            .await,
        ));
        attempts.push((format!("DELETE {path}"), api.delete(&path).await));
    }

    let mut failures = Vec::new();
    for (what, response) in &attempts {
        if response.status != StatusCode::NOT_FOUND
            || !response.is_problem()
            || response.code() != "not_found"
        {
            failures.push(format!("{what}: {} {}", response.status, response.text));
        }
    }
    assert!(
        failures.is_empty(),
        "tenant A reached tenant B's rows:\n{}",
        failures.join("\n")
    );

    // A 404 for B's rows must be indistinguishable from a 404 for rows that exist nowhere.
    let nowhere = api.get(&format!("/v1/users/{}", Uuid::now_v7())).await;
    nowhere.expect_problem(404, "not_found");
    let b_user = api.get(&format!("/v1/users/{}", w.user_b)).await;
    assert_eq!(b_user.json["detail"], nowhere.json["detail"]);

    let after_b = snapshot(&mut db, w.b.id).await;
    assert_eq!(before_b, after_b, "tenant B's rows changed");

    // B still sees its own rows, unchanged, through the API.
    let b_api = w.server.client_for(&w.token_b);
    let user = b_api.get(&format!("/v1/users/{}", w.user_b)).await;
    user.expect_status(200);
    assert_eq!(user.json["display_name"], "");
    assert_eq!(user.json["status"], "invited");
    b_api
        .get(&format!("/v1/roles/{}", w.role_b))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn lists_and_audit_only_show_the_callers_tenant() {
    let w = world(TestServer::start().await).await;
    let mut db = w.server.db().await;
    for (tenant, token, other) in [(&w.a, &w.token_a, &w.b), (&w.b, &w.token_b, &w.a)] {
        let api = w.server.client_for(token);
        for (path, table) in [
            ("/v1/users", "users"),
            ("/v1/roles", "roles"),
            ("/v1/audit?limit=200", "audit_log"),
        ] {
            let sql = format!("SELECT id FROM {table} WHERE tenant_id = $1");
            let mine: HashSet<Uuid> = sqlx::query_scalar(&sql)
                .bind(tenant.id)
                .fetch_all(&mut db)
                .await
                .unwrap()
                .into_iter()
                .collect();
            let theirs: HashSet<Uuid> = sqlx::query_scalar(&sql)
                .bind(other.id)
                .fetch_all(&mut db)
                .await
                .unwrap()
                .into_iter()
                .collect();
            let response = api.get(path).await;
            response.expect_status(200);
            let listed: HashSet<Uuid> = response.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| json_uuid(&item["id"]).unwrap())
                .collect();
            assert!(
                listed.is_disjoint(&theirs),
                "{} sees {}'s rows in {path}: {}",
                tenant.slug,
                other.slug,
                response.text
            );
            assert!(
                listed.is_subset(&mine),
                "{path} lists rows that are not {}'s",
                tenant.slug
            );
            if table != "audit_log" {
                assert_eq!(
                    listed, mine,
                    "{path} for {} is not exactly the tenant's rows",
                    tenant.slug
                );
            }
        }
        // Searching for the other tenant's users finds nothing.
        let search = api.get(&format!("/v1/users?q={}", other.slug)).await;
        search.expect_status(200);
        assert_eq!(search.json["items"], json!([]), "{}", search.text);
        // Every audit entry's target is the tenant's own.
        let audit = api.get("/v1/audit?limit=200").await;
        for entry in audit.json["items"].as_array().unwrap() {
            if let Some(target) = json_uuid(&entry["target_id"]) {
                assert!(
                    target != other.id && target != other.owner_id,
                    "audit names the other tenant: {entry}"
                );
            }
        }
        // /v1/me is the caller's own tenant.
        let me = api.get("/v1/me").await;
        me.expect_status(200);
        assert_eq!(json_uuid(&me.json["tenant"]["id"]), Some(tenant.id));
    }
}

#[tokio::test]
async fn tenant_fields_in_bodies_are_rejected_and_move_nothing() {
    let w = world(TestServer::start().await).await;
    let mut db = w.server.db().await;
    let before_b = snapshot(&mut db, w.b.id).await;
    let api = w.server.client_for(&w.token_a);

    // Creating with a foreign tenant_id (or tenant) is refused, and nothing is created anywhere.
    for extra in [
        json!({ "tenant_id": w.b.id }),
        json!({ "tenant": w.b.slug }),
        json!({ "tenant_id": w.b.id, "id": Uuid::now_v7() }),
    ] {
        let mut body = json!({ "email": "smuggled@acme.test", "roles": ["viewer"], "password": "long-enough-password" });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = api.post("/v1/users", &body).await;
        response.expect_problem(422, "validation_failed");
        let rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'smuggled@acme.test'")
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(rows, 0, "a user was created from {body}");
    }
    let response = api
        .post(
            "/v1/roles",
            &json!({ "name": "smuggled", "permissions": ["jobs.read"], "tenant_id": w.b.id }),
        )
        .await;
    response.expect_problem(422, "validation_failed");

    // Updating one's own user with a tenant_id is refused and the row stays where it is.
    let response = api
        .patch(
            &format!("/v1/users/{}", w.a.owner_id),
            &json!({ "display_name": "moved", "tenant_id": w.b.id }),
        )
        .await;
    response.expect_problem(422, "validation_failed");
    let (tenant, name): (Uuid, String) =
        sqlx::query_as("SELECT tenant_id, display_name FROM users WHERE id = $1")
            .bind(w.a.owner_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!((tenant, name.as_str()), (w.a.id, ""));
    let response = api
        .patch(
            &format!("/v1/roles/{}", w.role_b),
            &json!({ "description": "x", "tenant_id": w.a.id }),
        )
        .await;
    assert!(
        matches!(response.status.as_u16(), 404 | 422),
        "{}",
        response.text
    );

    // A role name that exists in both tenants binds the caller's own role, never B's.
    let created = w
        .server
        .create_user(&w.token_a, "lead@acme.test", &["field-lead"], None)
        .await;
    let user = json_uuid(&created["id"]).unwrap();
    let bound: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT ur.tenant_id, r.tenant_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
    )
    .bind(user)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(bound, vec![(w.a.id, w.a.id)]);

    // A refresh token of A re-labelled with B's tenant id is unknown there.
    let tokens = w.server.login_owner(&w.a).await;
    let relabelled = tokens.refresh.replacen(
        &w.a.id.simple().to_string(),
        &w.b.id.simple().to_string(),
        1,
    );
    assert_ne!(relabelled, tokens.refresh);
    let response = w
        .server
        .anon()
        .post("/v1/auth/refresh", &json!({ "refresh_token": relabelled }))
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.text
    );

    let after_b = snapshot(&mut db, w.b.id).await;
    assert_eq!(before_b, after_b, "tenant B's rows changed");
}

/// Hundreds of interleaved requests from two tenants on a pool of four connections,
/// including requests that fail inside their transaction: every answer holds only the
/// caller's own rows. The tenants' fair share is lifted (it is the `fairness` suite's subject):
/// here requests queue for the pool itself, so connections pass between tenants all the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interleaved_requests_on_a_small_pool_never_cross_tenants() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--db-max-connections",
        "4",
        "--tenant-max-transactions",
        "48",
    ]))
    .await;
    let w = Arc::new(world(server).await);
    let mut db = w.server.db().await;
    let mut role_ids = Vec::new();
    for tenant in [&w.a, &w.b] {
        let ids: HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM roles WHERE tenant_id = $1")
            .bind(tenant.id)
            .fetch_all(&mut db)
            .await
            .unwrap()
            .into_iter()
            .collect();
        role_ids.push(ids);
    }
    let role_ids = Arc::new(role_ids);

    const REQUESTS: usize = 420;
    let limit = Arc::new(tokio::sync::Semaphore::new(48));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let w = w.clone();
        let role_ids = role_ids.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let side = i % 2;
            let (me, other, token) = match side {
                0 => (&w.a, &w.b, &w.token_a),
                _ => (&w.b, &w.a, &w.token_b),
            };
            let domain = format!("@{}.test", me.slug);
            let api = w.server.client_for(token);
            let kind = (i / 2) % 7;
            let response = match kind {
                0 => api.get("/v1/users").await,
                1 => api.get("/v1/me").await,
                2 => api.post("/v1/users", &json!({ "email": format!("u{i}{domain}"), "roles": ["viewer"] })).await,
                // Fails mid-transaction: the INSERT hits the unique constraint.
                3 => api.post("/v1/users", &json!({ "email": me.owner_email, "roles": ["viewer"] })).await,
                // The same email in both tenants: allowed, each in its own tenant.
                4 => api.post("/v1/users", &json!({ "email": format!("shared{}@both.test", i / 2), "roles": ["viewer"] })).await,
                5 => api.get("/v1/roles").await,
                _ => api.get(&format!("/v1/users/{}", other.owner_id)).await,
            };
            let fail = |why: &str| -> Result<(), String> { Err(format!("#{i} ({}, kind {kind}): {why}: {} {}", me.slug, response.status, response.text)) };
            match kind {
                0 => {
                    if response.status != 200 {
                        return fail("list failed");
                    }
                    for item in response.json["items"].as_array().unwrap() {
                        let email = item["email"].as_str().unwrap_or("");
                        if !(email.ends_with(&domain) || email.ends_with("@both.test")) {
                            return fail(&format!("foreign user {email}"));
                        }
                        if json_uuid(&item["id"]) == Some(other.owner_id) {
                            return fail("the other owner is listed");
                        }
                    }
                }
                1 => {
                    if response.status != 200
                        || json_uuid(&response.json["tenant"]["id"]) != Some(me.id)
                        || json_uuid(&response.json["user_id"]) != Some(me.owner_id)
                    {
                        return fail("wrong /v1/me");
                    }
                }
                2 | 4 => {
                    if response.status != 201 || !response.json["email"].as_str().unwrap_or("").contains('@') {
                        return fail("create failed");
                    }
                }
                3 => {
                    if response.status != 409 || response.code() != "email_taken" {
                        return fail("duplicate email not refused with 409");
                    }
                }
                5 => {
                    if response.status != 200 {
                        return fail("roles failed");
                    }
                    for item in response.json["items"].as_array().unwrap() {
                        if !json_uuid(&item["id"]).is_some_and(|id| role_ids[side].contains(&id)) {
                            return fail("foreign role");
                        }
                    }
                }
                _ => {
                    if response.status != 404 {
                        return fail("the other tenant's owner was visible");
                    }
                }
            }
            Ok(())
        });
    }
    let mut failures = Vec::new();
    let mut done = 0;
    while let Some(outcome) = tasks.join_next().await {
        done += 1;
        if let Err(why) = outcome.expect("task panicked") {
            failures.push(why);
        }
    }
    assert_eq!(done, REQUESTS);
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests went wrong, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // In the database: every user sits in the tenant its email names; shared emails once per tenant.
    for tenant in [&w.a, &w.b] {
        let misplaced: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE email LIKE $1 AND tenant_id <> $2",
        )
        .bind(format!("%@{}.test", tenant.slug))
        .bind(tenant.id)
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!(
            misplaced, 0,
            "users of {} stored in another tenant",
            tenant.slug
        );
    }
    let per_tenant: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant_id, count(*) FROM users WHERE email LIKE '%@both.test' GROUP BY tenant_id ORDER BY tenant_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let expected = (0..REQUESTS).filter(|i| (i / 2) % 7 == 4).count() as i64 / 2;
    assert_eq!(per_tenant.len(), 2);
    assert!(
        per_tenant.iter().all(|(_, n)| *n == expected),
        "{per_tenant:?}, expected {expected} each"
    );

    // The pool still serves both tenants correctly afterwards.
    for (tenant, token) in [(&w.a, &w.token_a), (&w.b, &w.token_b)] {
        let me = w.server.client_for(token).get("/v1/me").await;
        me.expect_status(200);
        assert_eq!(json_uuid(&me.json["tenant"]["id"]), Some(tenant.id));
    }
}

/// With one pooled connection, each request reuses the connection the previous one left:
/// a request that failed inside A's transaction must leave nothing of A behind.
#[tokio::test]
async fn a_failed_transaction_leaves_no_tenant_state_on_the_connection() {
    let server =
        TestServer::start_with(ServerOptions::new().args(["--db-max-connections", "1"])).await;
    let w = world(server).await;
    let a = w.server.client_for(&w.token_a);
    let b = w.server.client_for(&w.token_b);
    let user_a = json_uuid(
        &w.server
            .create_user(&w.token_a, "member@acme.test", &["viewer"], None)
            .await["id"],
    )
    .unwrap();

    let failing: Vec<(&str, Resp)> = vec![
        (
            "duplicate email",
            a.post(
                "/v1/users",
                &json!({ "email": w.a.owner_email, "roles": ["viewer"] }),
            )
            .await,
        ),
        (
            "duplicate role",
            a.post(
                "/v1/roles",
                &json!({ "name": "field-lead", "permissions": ["jobs.read"] }),
            )
            .await,
        ),
        (
            "unknown role",
            a.patch(
                &format!("/v1/users/{user_a}"),
                &json!({ "roles": ["no-such-role"] }),
            )
            .await,
        ),
        (
            "last owner",
            a.patch(
                &format!("/v1/users/{}", w.a.owner_id),
                &json!({ "roles": ["admin"] }),
            )
            .await,
        ),
    ];
    for (what, response) in failing {
        assert!(
            response.status.is_client_error(),
            "{what}: expected a 4xx from inside the transaction, got {} {}",
            response.status,
            response.text
        );
        // The next request on the same connection: B sees exactly B.
        let listed = b.get("/v1/users").await;
        listed.expect_status(200);
        let emails: Vec<&str> = listed.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert!(
            emails.iter().all(|e| e.ends_with("@bravo.test")),
            "after A's {what}, B lists {emails:?}"
        );
        let me = b.get("/v1/me").await;
        assert_eq!(
            json_uuid(&me.json["tenant"]["id"]),
            Some(w.b.id),
            "after A's {what}: {}",
            me.text
        );
        // Work done before any tenant is known (the login's tenant lookup) still runs as
        // the login role: a leaked `SET ROLE` or tenant setting would break B's login.
        w.server.login_owner(&w.b).await;
        // And A's failed change left no trace.
        let user = a.get(&format!("/v1/users/{user_a}")).await;
        assert_eq!(
            user.json["roles"],
            json!(["viewer"]),
            "after A's {what}: {}",
            user.text
        );
    }
}

/// The setting that makes `tenant` current for row-level security.
fn app_tenant(tenant: Uuid) -> String {
    format!("SET LOCAL app.tenant_id = '{tenant}'")
}

/// Runs `sql` with `$1` bound to `tenant`: how many rows it touched, or the refusal.
async fn touch(tx: &mut PgConnection, sql: &str, tenant: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(sql).bind(tenant).execute(tx).await?;
    Ok(done.rows_affected())
}

/// RLS on its own, without the host's explicit `tenant_id = $1` filters.
#[tokio::test]
async fn row_level_security_holds_without_the_application() {
    let w = world(TestServer::start().await).await;
    let mut db = w.server.db().await;

    // As the app role with app.tenant_id never set: no rows, or an error; never all rows.
    for table in [
        "users",
        "roles",
        "user_roles",
        "refresh_tokens",
        "audit_log",
    ] {
        let mut tx = as_app_role(&mut db, "").await;
        let rows = sqlx::query(&format!("SELECT tenant_id FROM {table}"))
            .fetch_all(&mut *tx)
            .await;
        if let Ok(rows) = rows {
            assert!(
                rows.is_empty(),
                "{table}: {} rows visible with app.tenant_id unset",
                rows.len()
            );
        }
        tx.rollback().await.unwrap();
    }
    // Set to the empty string (what RESET leaves behind in a pooled session): still nothing.
    let mut tx = as_app_role(&mut db, "SET LOCAL app.tenant_id = ''").await;
    if let Ok(rows) = sqlx::query("SELECT id FROM users")
        .fetch_all(&mut *tx)
        .await
    {
        assert!(
            rows.is_empty(),
            "{} users visible with app.tenant_id = ''",
            rows.len()
        );
    }
    tx.rollback().await.unwrap();

    // Set to A: only A's rows, for every tenant table, even with no WHERE clause.
    let mut tx = as_app_role(&mut db, &app_tenant(w.a.id)).await;
    for table in [
        "users",
        "roles",
        "user_roles",
        "refresh_tokens",
        "audit_log",
    ] {
        let tenants: Vec<Uuid> = sqlx::query(&format!("SELECT DISTINCT tenant_id FROM {table}"))
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(tenants, vec![w.a.id], "{table} as tenant A");
    }
    // The tenants table shows only A's row to the app role.
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, vec![w.a.id]);
    // Writes into B are refused by WITH CHECK; B's rows cannot be updated or deleted.
    let insert = sqlx::query(
        "INSERT INTO roles (tenant_id, id, name, permissions) VALUES ($1, $2, 'intruder', '{jobs.read}')",
    )
    .bind(w.b.id)
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await;
    assert!(
        insert.is_err(),
        "inserting a row for tenant B as tenant A succeeded"
    );
    tx.rollback().await.unwrap();

    let mut tx = as_app_role(&mut db, &app_tenant(w.a.id)).await;
    let pwned = "UPDATE users SET display_name = 'pwned' WHERE tenant_id = $1";
    assert_eq!(touch(&mut tx, pwned, w.b.id).await.unwrap(), 0);
    let deleted = "DELETE FROM roles WHERE tenant_id = $1";
    assert_eq!(touch(&mut tx, deleted, w.b.id).await.unwrap(), 0);
    // Moving one's own row into B is refused.
    let moved = touch(&mut tx, "UPDATE audit_log SET tenant_id = $1", w.b.id).await;
    assert!(moved.is_err(), "the app role moved or updated audit rows");
    tx.rollback().await.unwrap();

    // The app role cannot read the login throttle at all.
    let mut tx = as_app_role(&mut db, &app_tenant(w.a.id)).await;
    assert!(
        sqlx::query("SELECT * FROM login_throttle")
            .fetch_all(&mut *tx)
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
}

/// A request cancelled while its `BEGIN; SET LOCAL ...` is in flight returns its connection
/// to the pool inside that transaction (sqlx 0.8.6). The pool's release check must close such
/// a connection, so that the next borrower never runs in another request's transaction (with
/// its role and tenant).
#[tokio::test]
async fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
    let db = TestDb::create().await;
    let database = verofield::db::Database::open(&verofield::config::DatabaseSettings {
        url: Some(db.url.clone()),
        embedded_root: std::path::PathBuf::from("/nonexistent"),
        secrets_dir: std::path::PathBuf::from("/nonexistent"),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
        idle_in_transaction_timeout: std::time::Duration::from_secs(30),
    })
    .await
    .unwrap();
    database.migrate().await.unwrap();
    let pool = &database.pool;
    // A clean release keeps the connection.
    let mut conn = pool.acquire().await.unwrap();
    let (first_pid, _, _) = backend_state(&mut conn).await;
    drop(conn);
    let mut conn = pool.acquire().await.unwrap();
    let (pid, _, _) = backend_state(&mut conn).await;
    assert_eq!(pid, first_pid, "a clean connection is reused");

    // Left inside a transaction, under the app role and a tenant: closed on release.
    sqlx::Executor::execute(
        &mut *conn,
        "BEGIN; SET LOCAL ROLE verofield_app; SET LOCAL app.tenant_id = '00000000-0000-0000-0000-000000000001'",
    )
    .await
    .unwrap();
    drop(conn);
    let mut conn = pool.acquire().await.unwrap();
    let (pid, user, outside_transaction) = backend_state(&mut conn).await;
    assert_ne!(
        pid, first_pid,
        "the connection left in a transaction was closed"
    );
    assert_ne!(user, "verofield_app");
    assert!(outside_transaction);
    let tenant: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('app.tenant_id', true), '')")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(tenant, None);
    drop(conn);
    database.pool.close().await;
}

/// The backend's pid, its current role, and whether it is outside a transaction block.
/// (Simple protocol: one message, so the two timestamps agree outside a block.)
async fn backend_state(conn: &mut sqlx::PgConnection) -> (i32, String, bool) {
    let row = sqlx::raw_sql(
        "SELECT pg_backend_pid(), current_user::text,
                statement_timestamp() = transaction_timestamp()",
    )
    .fetch_one(conn)
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2))
}
