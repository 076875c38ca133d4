//! The module platform through the real server: hostile components fail only their own
//! request (the next request and another tenant's are served, no row changes), a failing
//! request rolls back what its module wrote, store calls outside the grants or carrying SQL
//! change nothing, a tenant hot-swaps its CRM and rolls back with no restart, uploads are
//! checked, `Idempotency-Key` replays creates, and the OpenAPI document shows each tenant
//! the routes of the modules serving it.

use serde_json::{Value, json};
use verofield_tests::{
    Api, Method, ServerOptions, TenantFixture, TestServer, bind, fixture_component, send,
};

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// Publishes a component through the operator API, shared with `tenant`, and returns its
/// digest.
async fn publish(server: &TestServer, component: &[u8], tenant: &Tenant) -> String {
    server
        .publish_module(component, &[&tenant.fixture.slug])
        .await
}

struct Tenant {
    fixture: TenantFixture,
    api: Api,
}

async fn tenant(server: &TestServer, slug: &str) -> Tenant {
    let fixture = server.create_tenant(slug).await;
    let owner = server.login_owner(&fixture).await;
    Tenant {
        api: server.client_for(&owner.access),
        fixture,
    }
}

async fn create_customer(api: &Api, name: &str) -> String {
    let created = api
        .post("/v1/crm/customers", &json!({ "name": name }))
        .await;
    created.expect_status(201);
    created.json["id"].as_str().unwrap().to_owned()
}

/// Every tenant row the modules can reach, and the outbox, as the superuser sees them.
async fn snapshot(server: &TestServer) -> Vec<String> {
    let mut db = server.db().await;
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s %s %s %s', tenant_id, id, version, name) FROM store.crm_customers
         UNION ALL SELECT format('contact %s %s', tenant_id, id) FROM store.crm_contacts
         UNION ALL SELECT format('event %s %s', tenant_id, id) FROM event_outbox",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    rows.sort();
    rows
}

/// The host still serves: the tenant's next request and another tenant's request succeed.
async fn still_serving(a: &Tenant, b: &Tenant, after: &str) {
    for (who, tenant) in [("same tenant", a), ("other tenant", b)] {
        let response = tenant.api.get("/v1/crm/customers").await;
        assert_eq!(
            response.status.as_u16(),
            200,
            "{who} after {after}: {}",
            response.text
        );
        assert!(
            !response.json["items"].as_array().unwrap().is_empty(),
            "{who}"
        );
    }
}

#[tokio::test]
async fn hostile_modules_fail_only_their_own_request() {
    let server = server().await;
    let a = tenant(&server, "hostile-a").await;
    let b = tenant(&server, "hostile-b").await;
    create_customer(&a.api, "A's customer").await;
    create_customer(&b.api, "B's customer").await;
    let before = snapshot(&server).await;

    // (fixture, which is also its slot; query; expected status and code)
    let cases: [(&str, &str, u16, &str); 8] = [
        ("spin", "", 503, "module_timeout"),
        ("memory-hog", "", 507, "module_memory_exceeded"),
        ("deep-recursion", "", 500, "module_trap"),
        ("panic", "", 500, "module_trap"),
        // 100 MB built in memory: stopped at the 64 MiB memory cap.
        ("huge-response", "?mib=100", 507, "module_memory_exceeded"),
        // The default answer (over 8 MiB, under the memory cap): stopped at the response cap.
        ("huge-response", "", 502, "module_response_too_large"),
        ("host-call-flood", "", 500, "module_host_call_limit"),
        // Again: a module that timed out once is served (and stopped) again.
        ("spin", "", 503, "module_timeout"),
    ];
    for (slot, query, status, code) in cases {
        let fixture = slot;
        let digest = publish(&server, &fixture_component(fixture), &a).await;
        bind(&a.api, slot, &digest).await;
        let response = a.api.get(&format!("/v1/{slot}{query}")).await;
        response.expect_problem(status, code);
        assert!(
            response.json["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{fixture}: {}",
            response.text
        );
        still_serving(&a, &b, fixture).await;
    }

    // A log flood is not a failure: the log is truncated and marked, the answer goes out.
    let digest = publish(&server, &fixture_component("log-flood"), &a).await;
    bind(&a.api, "log-flood", &digest).await;
    let response = a.api.get("/v1/log-flood").await;
    response.expect_status(200);
    assert_eq!(response.text, "flooded");
    assert!(
        server.stderr().contains("truncated"),
        "the log marks the cut"
    );
    still_serving(&a, &b, "log-flood").await;

    // The slot is the tenant's own: B never bound the hostile modules.
    b.api.get("/v1/spin").await.expect_problem(404, "not_found");
    assert_eq!(
        snapshot(&server).await,
        before,
        "no hostile module changed a row"
    );
}

#[tokio::test]
async fn store_calls_outside_the_grants_or_carrying_sql_change_nothing() {
    let server = server().await;
    let a = tenant(&server, "probe-a").await;
    let b = tenant(&server, "probe-b").await;
    create_customer(&a.api, "A's customer").await;
    create_customer(&b.api, "B's customer").await;
    let digest = publish(&server, &fixture_component("store-probe"), &a).await;
    bind(&a.api, "probe", &digest).await;
    let before = snapshot(&server).await;
    let probe = |path: &'static str| {
        let api = a.api.clone();
        async move { api.post(&format!("/v1/probe{path}"), &json!({})).await }
    };

    // Tables outside the manifest: the whole request fails, whatever the module answers.
    probe("/undeclared-table")
        .await
        .expect_problem(500, "module_not_granted");
    probe("/no-write-grant")
        .await
        .expect_problem(500, "module_not_granted");
    // It wrote a customer first, then reached outside its grants and claimed success.
    probe("/write-then-denied")
        .await
        .expect_problem(500, "module_not_granted");
    still_serving(&a, &b, "a denied store call").await;

    // SQL in column names: every one refused as invalid, none reaching the database.
    let response = probe("/column-sql").await;
    response.expect_status(200);
    let outcomes = response.json["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 12);
    for outcome in outcomes {
        let outcome = outcome.as_str().unwrap();
        assert!(outcome.contains("Err(StoreError::Invalid("), "{outcome}");
    }

    // SQL in filter values: bound as parameters, so they match nothing and widen nothing.
    let response = probe("/value-sql").await;
    response.expect_status(200);
    let outcomes: Vec<&str> = response.json["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 10);
    for outcome in &outcomes[..9] {
        assert!(outcome.ends_with("Ok(0)"), "{outcome}");
    }
    assert_eq!(outcomes[9], "visible 1", "still only A's one customer");
    assert_eq!(snapshot(&server).await, before, "nothing changed");

    // A trap or an error answer after a write rolls the write back.
    probe("/write-then-trap")
        .await
        .expect_problem(500, "module_trap");
    let response = probe("/write-then-error").await;
    response.expect_status(500);
    assert_eq!(
        snapshot(&server).await,
        before,
        "failed requests rolled back"
    );

    // The control: the same write in a request that succeeds is kept.
    let response = probe("/write").await;
    response.expect_status(201);
    let after = snapshot(&server).await;
    assert_eq!(after.len(), before.len() + 1);
    let kept = response.json["id"].as_str().unwrap();
    assert!(
        after
            .iter()
            .any(|row| row.contains(kept) && row.starts_with(&a.fixture.id.to_string()))
    );
    still_serving(&a, &b, "the probe").await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM store.crm_customers ORDER BY name")
            .fetch_all(&mut server.db().await)
            .await
            .unwrap();
    assert_eq!(names, ["A's customer", "B's customer", "written and kept"]);
}

/// A module learns what kind of refusal the database made and which
/// columns it is about, never PostgreSQL's own message (which names relations and constraints
/// and can quote other rows' values). Another tenant's row id is no duplicate: the refusal
/// cannot reveal another tenant's rows.
#[tokio::test]
async fn a_module_sees_store_error_kinds_naming_columns_never_postgresql_messages() {
    let server = server().await;
    let a = tenant(&server, "refused-a").await;
    let b = tenant(&server, "refused-b").await;
    let own = create_customer(&a.api, "A's customer").await;
    let others = create_customer(&b.api, "B's customer").await;
    let digest = publish(&server, &fixture_component("store-probe"), &a).await;
    bind(&a.api, "probe", &digest).await;
    let insert = |values: Value| {
        let api = a.api.clone();
        async move {
            let response = api.post("/v1/probe/insert-as-given", &values).await;
            response.expect_status(200);
            response.json["outcomes"][0].as_str().unwrap().to_owned()
        }
    };
    for (values, expected) in [
        (
            json!({"id": own, "name": "Twin"}),
            r#"Err(StoreError::Duplicate("id"))"#,
        ),
        (
            json!({"name": ""}),
            r#"Err(StoreError::Invalid("column `name`: breaks the column's rule"))"#,
        ),
        (
            json!({"name": "Nameless kind", "kind": null}),
            r#"Err(StoreError::Invalid("column `kind`: may not be null"))"#,
        ),
        (
            json!({"name": "Nul\u{0}"}),
            r#"Err(StoreError::Invalid("column `name`: may not contain the NUL character"))"#,
        ),
    ] {
        assert_eq!(insert(values.clone()).await, expected, "{values}");
    }
    // B's id is free in A's rows: the insert succeeds, as A's own row, and B's is untouched.
    let outcome = insert(json!({"id": others, "name": "Not B's"})).await;
    assert_eq!(outcome, format!("Ok(\"{others}\")"));
    let fetched = b.api.get(&format!("/v1/crm/customers/{others}")).await;
    fetched.expect_status(200);
    assert_eq!(fetched.json["name"], "B's customer");
    server.assert_no_error_logged();
}

#[tokio::test]
async fn a_tenant_hot_swaps_its_crm_and_rolls_back_without_a_restart() {
    let server = server().await;
    let a = tenant(&server, "swap-a").await;
    let b = tenant(&server, "swap-b").await;
    let a_customer = create_customer(&a.api, "Ada").await;
    let b_customer = create_customer(&b.api, "Bea").await;
    let pid = server.pid();

    let builtin_answer = |body: &Value, name: &str| {
        assert_eq!(body["name"], name, "{body}");
        assert!(body.get("served_by").is_none(), "{body}");
    };
    let a_get = format!("/v1/crm/customers/{a_customer}");
    let b_get = format!("/v1/crm/customers/{b_customer}");
    builtin_answer(&a.api.get(&a_get).await.json, "Ada");

    let partner = publish(&server, &fixture_component("crm-partner"), &a).await;
    // It serves one route of the crm contract: the operator lets it bind anyway.
    server
        .override_conformance(&partner, "hot-swap test double")
        .await
        .expect_status(200);
    bind(&a.api, "crm", &partner).await;
    let swapped = a.api.get(&a_get).await;
    swapped.expect_status(200);
    assert_eq!(
        swapped.json,
        json!({"customer_id": a_customer, "display_name": "Ada", "served_by": "crm-partner"})
    );
    // The partner version has no list route: A's whole slot moved.
    a.api
        .get("/v1/crm/customers")
        .await
        .expect_problem(404, "not_found");
    // B is untouched, and the partner module cannot reach B's rows through A.
    builtin_answer(&b.api.get(&b_get).await.json, "Bea");
    a.api.get(&b_get).await.expect_status(404);

    // The OpenAPI document follows each tenant's modules.
    let a_doc = a.api.get("/v1/openapi.json").await;
    a_doc.expect_status(200);
    let b_doc = b.api.get("/v1/openapi.json").await;
    assert!(a_doc.json["openapi"].as_str().unwrap().starts_with("3.1"));
    let get_customer = &a_doc.json["paths"]["/v1/crm/customers/{id}"]["get"];
    assert!(
        get_customer["description"]
            .as_str()
            .unwrap()
            .contains("crm-partner@0.1.0"),
        "{get_customer}"
    );
    assert_eq!(get_customer["x-permission"], "crm.customers.read");
    assert_eq!(get_customer["parameters"][0]["name"], "id");
    assert!(a_doc.json["paths"].get("/v1/crm/customers").is_none());
    assert!(b_doc.json["paths"]["/v1/crm/customers"]["post"].is_object());
    assert!(b_doc.json["paths"]["/v1/users/{id}"]["patch"].is_object());
    server
        .anon()
        .get("/v1/openapi.json")
        .await
        .expect_status(401);

    let bindings = a.api.get("/v1/tenant/modules").await;
    bindings.expect_status(200);
    let crm = bindings.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["slot"] == "crm")
        .unwrap();
    assert_eq!(crm["source"], "binding");
    assert_eq!(crm["version"]["name"], "crm-partner");

    let rolled_back = a
        .api
        .post("/v1/tenant/modules/crm/rollback", &json!({}))
        .await;
    rolled_back.expect_status(200);
    assert_eq!(rolled_back.json["version"]["name"], "crm");
    builtin_answer(&a.api.get(&a_get).await.json, "Ada");
    a.api.get("/v1/crm/customers").await.expect_status(200);

    // Rebinding by name@version works as well as by digest.
    bind(&a.api, "crm", "crm-partner@0.1.0").await;
    assert_eq!(a.api.get(&a_get).await.json["served_by"], "crm-partner");
    assert_eq!(server.pid(), pid, "no restart");

    // Who may swap: modules.manage only; a viewer of A gets 403, and a version for another
    // slot or an unknown one is refused.
    let owner = server.login_owner(&a.fixture).await;
    let password = "viewer-password-0123";
    server
        .create_user(
            &owner.access,
            "viewer@swap-a.test",
            &["viewer"],
            Some(password),
        )
        .await;
    let viewer = server
        .login(&a.fixture.slug, "viewer@swap-a.test", password)
        .await;
    let viewer_api = server.client_for(&viewer.access);
    send(
        viewer_api
            .request(Method::PUT, "/v1/tenant/modules/crm")
            .json(&json!({"version": "crm@1.0.0"})),
    )
    .await
    .expect_problem(403, "permission_denied");
    let echo = publish(&server, &fixture_component("echo"), &a).await;
    for version in [echo.as_str(), "crm@9.9.9", "not a version"] {
        send(
            a.api
                .request(Method::PUT, "/v1/tenant/modules/crm")
                .json(&json!({ "version": version })),
        )
        .await
        .expect_problem(422, "validation_failed");
    }
}

#[tokio::test]
async fn uploads_are_checked_before_they_are_recorded() {
    let server = server().await;
    let upload = |bytes: Vec<u8>| {
        send(
            server
                .operator()
                .request(Method::POST, "/v1/operator/modules")
                .body(bytes),
        )
    };
    // Each refusal names its reason (`registry::validation`).
    upload(b"not a component".to_vec())
        .await
        .expect_problem(422, "module_not_wasm");
    upload(b"\0asm\x01\0\0\0".to_vec())
        .await
        .expect_problem(422, "module_not_component");
    upload(b"\0asm\x0d\0\x01".to_vec())
        .await
        .expect_problem(422, "module_invalid");
    upload(Vec::new())
        .await
        .expect_problem(422, "module_not_wasm");

    let echo = fixture_component("echo");
    let a = tenant(&server, "upload-a").await;
    let first = publish(&server, &echo, &a).await;
    // The same bytes again: the same version, no duplicate.
    assert_eq!(publish(&server, &echo, &a).await, first);
    // Only the operator uploads.
    let refused = send(
        a.api
            .request(Method::POST, "/v1/operator/modules")
            .body(echo.clone()),
    )
    .await;
    // Refused before the body was read: the server closes this connection, and says so, so
    // the client's next request (below) does not go into the closed socket.
    assert_eq!(
        refused.headers.get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    refused.expect_problem(401, "invalid_token");
    let versions = a.api.get("/v1/modules").await;
    versions.expect_status(200);
    let names: Vec<&str> = versions.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "echo").count(), 1);
    assert!(names.contains(&"crm"));
}

#[tokio::test]
async fn idempotency_key_replays_a_create() {
    let server = server().await;
    let a = tenant(&server, "idem-a").await;
    let b = tenant(&server, "idem-b").await;
    let create = |api: &Api, key: &str, name: &str| {
        send(
            api.request(Method::POST, "/v1/crm/customers")
                .header("idempotency-key", key)
                .json(&json!({ "name": name })),
        )
    };
    let first = create(&a.api, "key-1", "Ada").await;
    first.expect_status(201);
    let again = create(&a.api, "key-1", "Ada").await;
    again.expect_status(201);
    assert_eq!(again.json, first.json, "the same customer, answered again");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(first.header("idempotent-replayed"), None);

    // The same key with another body is refused; a new key creates.
    create(&a.api, "key-1", "Someone else")
        .await
        .expect_problem(422, "idempotency_key_reused");
    create(&a.api, "key-2", "Ada").await.expect_status(201);
    // Keys are the tenant's (and the user's): B's key-1 is B's own.
    let b_first = create(&b.api, "key-1", "Ada").await;
    b_first.expect_status(201);
    assert_ne!(b_first.json["id"], first.json["id"]);

    // A failed create stores no key: the retry runs (and fails the same way, 422).
    create(&a.api, "key-3", "").await.expect_status(422);
    create(&a.api, "key-3", "Fixed").await.expect_status(201);

    // Concurrent retries: exactly one customer.
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let api = a.api.clone();
        attempts.spawn(async move {
            send(
                api.request(Method::POST, "/v1/crm/customers")
                    .header("idempotency-key", "key-4")
                    .json(&json!({ "name": "Racer" })),
            )
            .await
        });
    }
    let answers = attempts.join_all().await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| {
            r.expect_status(201);
            r.json["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");

    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM store.crm_customers WHERE tenant_id = $1 ORDER BY name",
    )
    .bind(a.fixture.id)
    .fetch_all(&mut server.db().await)
    .await
    .unwrap();
    assert_eq!(names, ["Ada", "Ada", "Fixed", "Racer"]);

    // Malformed keys are refused before anything runs.
    create(&a.api, &"k".repeat(300), "Too long")
        .await
        .expect_problem(400, "invalid_idempotency_key");
}

/// Hosts share one PostgreSQL: a built-in published by one host reaches the tenants another
/// host serves on their next request (the first host learns of it through
/// LISTEN/NOTIFY), with no restart of the first host.
#[tokio::test]
async fn a_builtin_published_by_another_host_serves_the_next_request() {
    let first = server().await;
    let a = tenant(&first, "hosts-a").await;
    let customer = create_customer(&a.api, "Ada").await;
    let path = format!("/v1/crm/customers/{customer}");
    assert_eq!(
        a.api.get(&path).await.json["name"],
        "Ada",
        "the built-in CRM, now cached"
    );

    // A second host with a newer built-in for the same slot, on the same database.
    let builtins = verofield_tests::TempDir::new("builtins");
    std::fs::write(
        builtins.path().join("crm_partner.wasm"),
        fixture_component("crm-partner"),
    )
    .unwrap();
    let _second = TestServer::start_with(
        ServerOptions::new()
            .env("DATABASE_URL", &first.test_db().url)
            .env(
                "VEROFIELD_BUILTIN_MODULES",
                builtins.path().to_str().unwrap(),
            ),
    )
    .await;

    let mut answer = Value::Null;
    for _ in 0..50 {
        answer = a.api.get(&path).await.json;
        if answer["served_by"] == "crm-partner" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answer["served_by"], "crm-partner", "{answer}");
    assert_eq!(answer["display_name"], "Ada");
}
