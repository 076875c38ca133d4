//! The API's documents: request and response schemas of the built-in modules' routes in
//! `/v1/openapi.json`, the `/docs` reference served from the binary, the problem pages every
//! problem's `type` points at, and schemathesis (from PyPI) fuzzing the whole API from the
//! document with the owner's token: no server error and no answer outside its schema.

use serde_json::{Value, json};

use crate::billing::{Books, books};
use verofield_tests::{
    Method, Scenario, ServerOptions, TempDir, TestServer, fixture_component, send,
};

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// The schema a `$ref` in the document points at.
fn resolve<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let target = document.pointer(reference.trim_start_matches('#'));
            target.unwrap_or_else(|| panic!("dangling {reference}"))
        }
        None => schema,
    }
}

fn request_schema<'d>(document: &'d Value, path: &str, method: &str) -> &'d Value {
    let operation = &document["paths"][path][method];
    resolve(
        document,
        &operation["requestBody"]["content"]["application/json"]["schema"],
    )
}

#[tokio::test]
async fn openapi_describes_the_crm_and_jobs_bodies_and_answers() {
    let server = server().await;
    let shop = server.scenario("schemas-a").await;
    let document = shop.owner.get("/v1/openapi.json").await;
    document.expect_status(200);
    let document = &document.json;

    // A client can schedule a job from the document alone: create, then schedule.
    let new_job = request_schema(document, "/v1/jobs", "post");
    assert_eq!(
        new_job["required"],
        json!(["customer_id", "location_id", "service_type_ids"])
    );
    let schedule = request_schema(document, "/v1/jobs/{id}/schedule", "post");
    for field in ["scheduled_date", "window_start_local", "window_end_local"] {
        assert!(
            schedule["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field))
        );
    }
    let created = &document["paths"]["/v1/jobs"]["post"]["responses"]["201"];
    let job = resolve(document, &created["content"]["application/json"]["schema"]);
    assert!(job["properties"]["status"]["$ref"].is_string(), "{job}");

    // The CRM's nested types are hoisted under its slot, so another module's never collide.
    let customer = request_schema(document, "/v1/crm/customers", "post");
    let address = &customer["properties"]["billing_address"]["anyOf"][0]["$ref"];
    assert_eq!(address, "#/components/schemas/crm.Address");
    assert!(resolve(document, &json!({"$ref": address}))["properties"]["city"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
    let delete = &document["paths"]["/v1/crm/customers/{id}"]["delete"]["responses"];
    assert!(delete["2XX"].is_object() && delete["default"].is_object());
}

#[tokio::test]
async fn an_upload_whose_route_schema_nests_too_deep_is_refused_naming_the_route() {
    let server = server().await;
    let upload = server
        .operator()
        .request(Method::POST, "/v1/operator/modules")
        .header("content-type", "application/wasm")
        .body(fixture_component("hostile-schema"));
    let refused = send(upload).await;
    refused.expect_problem(422, "module_manifest_invalid");
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("route POST /: request schema nests deeper than 32"),
        "{detail}"
    );
    // Nothing of it was published.
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM module_versions WHERE name = 'hostile-schema'")
            .fetch_one(&mut server.db().await)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn the_public_document_and_docs_page_need_no_login_and_no_network() {
    let server = server().await;
    let anon = server.anon();
    let public = anon.get("/docs/openapi.json").await;
    public.expect_status(200);
    assert!(public.json["paths"]["/v1/users"]["post"].is_object());
    // Module routes are the tenant's business: absent without a credential.
    let paths = public.json["paths"].as_object().unwrap();
    assert!(
        !paths.keys().any(|path| path.starts_with("/v1/crm")),
        "{:?}",
        paths.keys()
    );
    anon.get("/v1/openapi.json").await.expect_status(401);

    let page = anon.get("/docs").await;
    page.expect_status(200);
    assert!(page.content_type().starts_with("text/html"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    for asset in ["/docs/docs.js", "/docs/docs.css"] {
        assert!(page.text.contains(asset), "{asset}");
        let served = anon.get(asset).await;
        served.expect_status(200);
        assert!(!served.text.contains("//cdn") && !served.text.contains("unpkg"));
    }
    assert!(!page.text.contains("src=\"http") && !page.text.contains("href=\"http"));
    let script = anon.get("/docs/docs.js").await.text;
    assert!(script.contains("\"/v1/openapi.json\"") && script.contains("\"/docs/openapi.json\""));
}

#[tokio::test]
async fn every_problem_type_is_a_page_the_host_serves() {
    let server = server().await;
    let shop = server.scenario("schemas-p").await;
    let anon = server.anon();

    // A host code: the type of a real answer resolves to its page.
    let refused = anon.get("/v1/users").await;
    refused.expect_problem(401, "missing_token");
    let page = anon.get(refused.json["type"].as_str().unwrap()).await;
    page.expect_status(200);
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.text.contains("missing_token") && page.text.contains("401 Unauthorized"));

    // A module's own code: its type resolves too, to the page saying a module defines it.
    let (_, job) = a_job(&shop).await;
    let skipped = shop.owner.job_status(&job, "in_progress").await;
    skipped.expect_problem(409, "invalid_transition");
    let module_page = anon.get(skipped.json["type"].as_str().unwrap()).await;
    module_page.expect_status(200);
    assert!(
        module_page.text.contains("a module defines it"),
        "{}",
        module_page.text
    );

    let index = anon.get("/problems").await;
    assert!(index.text.contains("/problems/precondition_failed"));
    anon.get("/problems/%3Cscript%3E")
        .await
        .expect_problem(404, "not_found");
}

/// An unscheduled job for a new customer at a new location: the customer's id and the job's.
async fn a_job(shop: &Scenario<'_>) -> (String, String) {
    let customer = shop.customer("Ada Lovelace").await;
    let location = shop.location(&customer, "Home").await;
    let cleaning = shop.service_type("Cleaning", 60, 9_000, &[]).await;
    let job = shop
        .create(
            "/v1/jobs",
            &json!({"customer_id": customer, "location_id": location,
                    "service_type_ids": [cleaning]}),
        )
        .await
        .id();
    (customer, job)
}

/// The owner's API with some of every built-in's rows, so that schemathesis reaches answers
/// with content (an empty list proves little about an item's schema).
async fn seeded(shop: &Books<'_>) {
    let (customer, job) = a_job(shop).await;
    shop.create(
        &format!("/v1/crm/customers/{customer}/contacts"),
        &json!({"name": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let tech = shop.technician("Tess", &[], None).await;
    shop.owner
        .schedule(
            &job,
            &json!({"scheduled_date": "2031-03-04", "window_start_local": "09:00",
                    "window_end_local": "11:00", "time_zone": "America/New_York"}),
        )
        .await
        .expect_status(200);
    shop.assign(&job, &[tech]).await;
    // An active agreement (its work order and jobs) and an invoice, open and part paid: rows
    // for the work-orders, agreements and billing answers.
    shop.active_monthly_agreement().await;
    let invoice = shop.open_invoice(12_500).await;
    let invoice = invoice["id"].as_str().unwrap();
    shop.pay(&shop.owner, invoice, 2_500, "check")
        .await
        .expect_status(201);
    shop.create(
        "/v1/billing/tax-rates",
        &json!({"name": "State", "percentage": "8.875"}),
    )
    .await;
}

/// schemathesis's CLI against `base` with the document in `schema`, bounded in examples and
/// time; its report on failure.
fn schemathesis(schema: &std::path::Path, base: &str, token: &str) -> (bool, String) {
    let library = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py");
    assert!(
        library.join("schemathesis").is_dir(),
        "schemathesis is missing from {}: run scripts/setup.sh",
        library.display()
    );
    let output = std::process::Command::new("timeout")
        .args(["300", "python3", "-m", "schemathesis.cli", "run"])
        .arg(schema)
        .args(["--url", base, "--header"])
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "6",
            "--seed",
            "23",
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            // The operator's and publishers' routes need their own tokens and Stripe's its
            // signature: with the owner's token each is a 401/400 only.
            "--exclude-path-regex",
            "^/v1/(operator|publisher|webhooks/stripe)",
            "--no-color",
        ])
        .current_dir(schema.parent().unwrap())
        .env("PYTHONPATH", &library)
        .output()
        .expect("running schemathesis");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_its_schema() {
    let server = server().await;
    let shop = books(&server, "schemas-fuzz").await;
    seeded(&shop).await;
    let token = server.login_owner(&shop.tenant).await.access;
    let document = shop.owner.get("/v1/openapi.json").await;
    document.expect_status(200);
    let dir = TempDir::new("schemathesis");
    let schema = dir.path().join("openapi.json");
    std::fs::write(&schema, document.text.as_bytes()).unwrap();
    let (passed, report) = schemathesis(&schema, &server.url(""), &token);
    assert!(passed, "schemathesis failed:\n{report}");
    println!("{report}"); // its counts of operations and checks, under --nocapture
    // The run reached the modules' routes, not only the host's.
    assert!(report.contains("/v1/jobs"), "{report}");
}
