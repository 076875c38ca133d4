//! Conformance packs end to end: every built-in passes its slot's pack (run through the
//! operator's rerun endpoint, in a throwaway tenant the run deletes again); a CRM that
//! renames `name` fails the crm pack naming the field and cannot be bound until the operator
//! overrides it; uploads outside the core slots are not judged; `verofield module test` runs
//! the same packs and the author's scenarios on a private embedded database.

use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// The slots with a pack, and so with a built-in that must pass it.
const PACKED_SLOTS: [&str; 10] = [
    "crm",
    "technicians",
    "jobs",
    "work-orders",
    "agreements",
    "routing",
    "billing",
    "kpis",
    "layouts",
    "account",
];

/// The digests serving a fresh tenant, by slot: its built-ins.
async fn builtin_digests(api: &Api) -> Vec<(String, String)> {
    let listed = api.get("/v1/tenant/modules").await;
    listed.expect_status(200);
    listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["slot"].as_str().unwrap().to_owned(),
                b["version"]["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn operator_post(server: &TestServer, path: &str, body: &Value) -> Resp {
    send(server.operator().request(Method::POST, path).json(body)).await
}

/// A bind attempt, answered as it comes.
async fn try_bind(api: &Api, slot: &str, version: &str) -> Resp {
    send(
        api.request(Method::PUT, &format!("/v1/tenant/modules/{slot}"))
            .json(&json!({ "version": version })),
    )
    .await
}

#[tokio::test]
async fn every_builtin_passes_its_slots_pack() {
    let server = server().await;
    let shop = server.scenario("conf-builtins").await;
    let builtins = builtin_digests(&shop.owner).await;
    for slot in PACKED_SLOTS {
        let (_, digest) = builtins
            .iter()
            .find(|(s, _)| s == slot)
            .unwrap_or_else(|| panic!("no built-in {slot}"));
        let path = format!("/v1/operator/modules/{digest}/conformance");
        let started = operator_post(&server, &path, &json!({})).await;
        started.expect_status(202);
        assert_eq!(started.json["status"], "pending", "{}", started.text);
        let result = server.conformance_result(digest).await;
        assert_eq!(result["status"], "passed", "{slot}: {result:#}");
        assert_eq!(result["failed"], 0);
        assert!(result["passed"].as_i64().unwrap() >= 8, "{result}");
        eprintln!(
            "conformance pack {slot}: {} steps in {} ms",
            result["passed"], result["duration_ms"]
        );
    }
    // Each run's tenant is gone again, with its rows.
    let mut db = server.db().await;
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tenants WHERE slug LIKE 'conformance-%'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM store.crm_customers) + (SELECT count(*) FROM audit_log)
              - (SELECT count(*) FROM audit_log a JOIN tenants t ON t.id = a.tenant_id)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "rows of deleted conformance tenants remain");
}

#[tokio::test]
async fn a_crm_that_renames_a_field_fails_its_pack_and_binds_only_when_overridden() {
    let server = server().await;
    let a = server.scenario("conf-renamed-a").await;
    let b = server.scenario("conf-renamed-b").await;
    let upload = send(
        server
            .operator()
            .request(Method::POST, "/v1/operator/modules?share=conf-renamed-a")
            .header("content-type", "application/wasm")
            .body(fixture_component("crm-renamed")),
    )
    .await;
    upload.expect_status(201);
    assert_eq!(
        upload.json["conformance"]["status"], "pending",
        "{}",
        upload.text
    );
    let digest = upload.json["digest"].as_str().unwrap().to_owned();

    let result = server.conformance_result(&digest).await;
    assert_eq!(result["status"], "failed", "{result:#}");
    let first = &result["steps"][0];
    assert_eq!(first["name"], "create a customer");
    assert!(
        first["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["check"] == "body.name" && m["actual"] == "absent"),
        "{first:#}"
    );
    let refused = try_bind(&a.owner, "crm", &digest).await;
    refused.expect_problem(409, "conformance_failed");
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .contains("body.name"),
        "{}",
        refused.text
    );

    // Another tenant neither binds it nor reaches the operator's record.
    try_bind(&b.owner, "crm", &digest)
        .await
        .expect_problem(422, "validation_failed");
    b.owner
        .get(&format!("/v1/operator/modules/{digest}/conformance"))
        .await
        .expect_status(401);

    server
        .override_conformance(&digest, " ")
        .await
        .expect_problem(422, "validation_failed");
    let overridden = server
        .override_conformance(&digest, "partner fixes the field in 0.2")
        .await;
    overridden.expect_status(200);
    assert_eq!(overridden.json["status"], "overridden");
    assert_eq!(overridden.json["overridden_by"], "operator");
    assert_eq!(overridden.json["reason"], "partner fixes the field in 0.2");
    bind(&a.owner, "crm", &digest).await;
    let created = a
        .owner
        .post("/v1/crm/customers", &json!({"full_name": "Ada"}))
        .await;
    created.expect_status(201);
    assert_eq!(created.json["full_name"], "Ada");
    // B still has the built-in CRM and its contract.
    assert_eq!(
        b.create("/v1/crm/customers", &json!({"name": "Bea"}))
            .await
            .json["name"],
        "Bea"
    );
}

#[tokio::test]
async fn uploads_outside_the_core_slots_are_not_judged() {
    let server = server().await;
    let shop = server.scenario("conf-echo").await;
    let upload = send(
        server
            .operator()
            .request(Method::POST, "/v1/operator/modules?share=conf-echo")
            .header("content-type", "application/wasm")
            .body(fixture_component("echo")),
    )
    .await;
    upload.expect_status(201);
    assert_eq!(upload.json["conformance"]["status"], "not_applicable");
    let digest = upload.json["digest"].as_str().unwrap();
    bind(&shop.owner, "echo", digest).await;
    let path = format!("/v1/operator/modules/{digest}/conformance");
    operator_post(&server, &path, &json!({}))
        .await
        .expect_problem(409, "conformance_not_applicable");
    operator_post(
        &server,
        &format!("{path}/override"),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(409, "conformance_not_applicable");
    operator_post(
        &server,
        "/v1/operator/modules/no-such-version/conformance",
        &json!({}),
    )
    .await
    .expect_problem(404, "not_found");
}

#[tokio::test]
async fn module_test_runs_the_pack_and_the_authors_scenarios() {
    let renamed = TempDir::new("renamed");
    let component = renamed.path().join("crm_renamed.wasm");
    std::fs::write(&component, fixture_component("crm-renamed")).unwrap();
    let scenarios = renamed.path().join("scenarios.json");
    std::fs::write(
        &scenarios,
        json!({"name": "mine", "steps": [{
            "name": "create a customer by its new field",
            "request": {"method": "POST", "path": "/v1/crm/customers", "body": {"full_name": "Ada"}},
            "expect": {"status": 201},
            "capture": {"mine": "/id"}
        }, {
            "name": "read it back",
            "request": {"method": "GET", "path": "/v1/crm/customers/${mine}"},
            "expect": {"status": 200, "values": {"full_name": "Ada", "id": "${mine}"}}
        }]})
        .to_string(),
    )
    .unwrap();
    let failed = module_test(&[
        component.to_str().unwrap(),
        "--scenarios",
        scenarios.to_str().unwrap(),
    ])
    .await;
    assert!(!failed.status.success(), "{failed:#?}");
    assert!(
        failed.stdout.contains("FAIL  create a customer"),
        "{failed:#?}"
    );
    assert!(
        failed
            .stdout
            .contains("body.name: expected \"string\", got \"absent\""),
        "{failed:#?}"
    );
    assert!(failed.stdout.contains("PASS  read it back"), "{failed:#?}");
    assert!(failed.stderr.contains("steps failed"), "{failed:#?}");

    let crm = builtin_modules_dir().join("verofield_crm.wasm");
    let passed = module_test(&[crm.to_str().unwrap()]).await;
    assert!(passed.status.success(), "{passed:#?}");
    assert!(
        passed.stdout.contains("crm: 22 passed, 0 failed"),
        "{passed:#?}"
    );
}

#[tokio::test]
async fn a_run_cut_short_by_a_stopped_host_is_resumed_by_the_next_one() {
    let first = server().await;
    first.create_tenant("conf-resume").await;
    let digest = first
        .publish_module(&fixture_component("crm-renamed"), &["conf-resume"])
        .await;
    first.conformance_result(&digest).await;
    // What a host that died in the middle of the run leaves: pending, with nobody running it.
    let mut db = first.db().await;
    sqlx::query(
        "UPDATE module_conformance SET status = 'pending', run_id = gen_random_uuid(),
             steps = '[]', failed = 0, ran_at = NULL WHERE digest = $1",
    )
    .bind(&digest)
    .execute(&mut db)
    .await
    .unwrap();

    let next =
        TestServer::start_with(ServerOptions::new().with_builtin_modules().beside(&first)).await;
    let result = next.conformance_result(&digest).await;
    assert_eq!(result["status"], "failed", "{result:#}");
    assert_eq!(result["steps"][0]["name"], "create a customer");
}
