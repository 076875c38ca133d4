//! The HTTP benchmark's native reference (`serve --bench-baseline`): the host's own handler
//! for `GET /v1/baseline/crm/customers/{id}` must answer exactly what the CRM module answers
//! for `GET /v1/crm/customers/{id}` (status, body, ETag), keep tenants apart the same way,
//! and not exist at all without the flag.

use serde_json::json;
use verofield_tests::{ServerOptions, TestServer};

const PROBLEM_JSON: &str = "application/problem+json";

#[tokio::test]
async fn baseline_answers_what_the_module_answers() {
    let server = TestServer::start_with(
        ServerOptions::new()
            .with_builtin_modules()
            .args(["--bench-baseline"]),
    )
    .await;
    let tenant = server.create_tenant("bench-a").await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);

    let created = api
        .post(
            "/v1/crm/customers",
            &json!({
                "name": "Grace Hopper",
                "email": "grace@example.com",
                "phone": "+1 555 0100",
                "tags": ["navy", "cobol"],
                "notes": "prefers mornings",
                "billing_address": {"line1": "1 Main St", "city": "Arlington"}
            }),
        )
        .await;
    created.expect_status(201);
    let id = created.json["id"].as_str().unwrap().to_owned();

    let module = api.get(&format!("/v1/crm/customers/{id}")).await;
    let native = api.get(&format!("/v1/baseline/crm/customers/{id}")).await;
    module.expect_status(200);
    native.expect_status(200);
    assert_eq!(native.json, module.json, "same JSON body");
    // Both serialize a sorted map after `id` and `version`: the bytes match too.
    assert_eq!(native.text, module.text, "same bytes");
    assert_eq!(native.header("etag"), Some("\"1\""));
    assert_eq!(native.header("etag"), module.header("etag"));
    assert_eq!(native.content_type(), "application/json");
    assert_eq!(native.content_type(), module.content_type());
    assert_eq!(native.json["name"], json!("Grace Hopper"));

    // After a change both see the new version.
    let patched = api
        .patch(
            &format!("/v1/crm/customers/{id}"),
            &json!({"status": "lead"}),
        )
        .await;
    patched.expect_status(200);
    let module = api.get(&format!("/v1/crm/customers/{id}")).await;
    let native = api.get(&format!("/v1/baseline/crm/customers/{id}")).await;
    assert_eq!(native.json, module.json);
    assert_eq!(native.header("etag"), Some("\"2\""));
    assert_eq!(native.header("etag"), module.header("etag"));

    // A missing customer and a malformed id: the same problems.
    let missing = uuid::Uuid::now_v7();
    for path in [missing.to_string(), "not-a-uuid".to_owned()] {
        let module = api.get(&format!("/v1/crm/customers/{path}")).await;
        let native = api.get(&format!("/v1/baseline/crm/customers/{path}")).await;
        assert_eq!(native.status, module.status, "{path}");
        assert_eq!(native.json, module.json, "{path}");
        assert!(native.content_type().starts_with(PROBLEM_JSON));
    }
    api.get(&format!("/v1/baseline/crm/customers/{missing}"))
        .await
        .expect_problem(404, "not_found");
    api.get("/v1/baseline/crm/customers/not-a-uuid")
        .await
        .expect_problem(400, "invalid_path_parameter");

    // Authentication and permission come first, as on the module route.
    server
        .anon()
        .get(&format!("/v1/baseline/crm/customers/{id}"))
        .await
        .expect_problem(401, "missing_token");

    // Another tenant: 404 on both routes, exactly as for a row that does not exist.
    let other = server.create_tenant("bench-b").await;
    let intruder = server.client_for(&server.login_owner(&other).await.access);
    let module = intruder.get(&format!("/v1/crm/customers/{id}")).await;
    let native = intruder
        .get(&format!("/v1/baseline/crm/customers/{id}"))
        .await;
    native.expect_problem(404, "not_found");
    module.expect_problem(404, "not_found");
    assert_eq!(native.json, module.json);
}

#[tokio::test]
async fn without_the_flag_the_baseline_is_not_served() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let tenant = server.create_tenant("bench-off").await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);
    let created = api
        .post("/v1/crm/customers", &json!({"name": "Alan Turing"}))
        .await;
    created.expect_status(201);
    let id = created.json["id"].as_str().unwrap().to_owned();
    api.get(&format!("/v1/crm/customers/{id}"))
        .await
        .expect_status(200);
    // No such route: the `/v1/{slot}` dispatch finds no module in a slot `baseline`.
    let absent = api.get(&format!("/v1/baseline/crm/customers/{id}")).await;
    absent.expect_problem(404, "not_found");
    assert_ne!(absent.json["detail"], json!("no customer with this id"));
}
