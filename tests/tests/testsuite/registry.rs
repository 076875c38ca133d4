//! The module registry through the real server: uploads are private to the tenants the
//! operator shares them with, module requests never take a second pooled connection (they
//! succeed with a pool of one), slot names from URLs are checked and leave nothing cached, the
//! module cache directory must be private, and built-in discovery passes over non-modules.
//! Every upload (the operator's here, a publisher's in `publishers.rs`) passes one validation:
//! a core module is refused with its fix, a slot named after a host route for operator and
//! publisher alike, a 200 MB body at once, and a compile bomb within the
//! compile time limit, while the host keeps serving and the next upload is told to retry.

use serde_json::json;
use verofield_tests::{
    Api, Method, Resp, ServerOptions, TempDir, TenantFixture, TestServer, bind, eventually,
    fixture_component, send,
};

async fn owner_api(server: &TestServer, tenant: &TenantFixture) -> Api {
    server.client_for(&server.login_owner(tenant).await.access)
}

fn bind_request(api: &Api, version: &str) -> reqwest::RequestBuilder {
    api.request(Method::PUT, "/v1/tenant/modules/echo")
        .json(&json!({ "version": version }))
}

fn listed(versions: &verofield_tests::Resp, digest: &str) -> bool {
    versions.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["digest"] == digest)
}

#[tokio::test]
async fn an_upload_is_seen_and_bound_only_by_the_tenants_it_is_shared_with() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let a_tenant = server.create_tenant("share-a").await;
    let b_tenant = server.create_tenant("share-b").await;
    let (a, b) = (
        owner_api(&server, &a_tenant).await,
        owner_api(&server, &b_tenant).await,
    );
    let echo = server
        .publish_module(&fixture_component("echo"), &["share-a"])
        .await;

    let a_versions = a.get("/v1/modules").await;
    a_versions.expect_status(200);
    assert!(listed(&a_versions, &echo), "{}", a_versions.text);
    let b_versions = b.get("/v1/modules").await;
    b_versions.expect_status(200);
    assert!(!listed(&b_versions, &echo), "{}", b_versions.text);
    assert!(
        b_versions.text.contains("\"crm\""),
        "built-ins stay visible"
    );

    // B binding A's version answers exactly as a version that does not exist.
    let missing = send(bind_request(&b, &"f".repeat(64))).await;
    missing.expect_problem(422, "validation_failed");
    for reference in [echo.as_str(), "echo@0.1.0"] {
        let refused = send(bind_request(&b, reference)).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(refused.json["fields"], missing.json["fields"]);
        assert_eq!(refused.json["detail"], missing.json["detail"]);
    }
    b.get("/v1/echo/echo/1")
        .await
        .expect_problem(404, "not_found");

    bind(&a, "echo", &echo).await;
    a.get("/v1/echo/echo/1").await.expect_status(200);

    // Shared with B too: B binds it. Unshared again: B's binding keeps serving, but B can
    // neither list nor bind it anew.
    let shares = format!("/v1/operator/modules/{echo}/shares");
    server
        .operator()
        .post(&shares, &json!({"tenant": "share-b"}))
        .await
        .expect_status(201);
    bind(&b, "echo", "echo@0.1.0").await;
    server
        .operator()
        .delete(&format!("{shares}/share-b"))
        .await
        .expect_status(204);
    server
        .operator()
        .delete(&format!("{shares}/share-b"))
        .await
        .expect_problem(404, "not_found");
    b.get("/v1/echo/echo/1").await.expect_status(200);
    assert!(!listed(&b.get("/v1/modules").await, &echo));
    send(bind_request(&b, &echo))
        .await
        .expect_problem(422, "validation_failed");
    a.get("/v1/echo/echo/1").await.expect_status(200);

    // Only the operator shares; unknown tenants and versions, and built-ins, are refused.
    b.post(&shares, &json!({"tenant": "share-b"}))
        .await
        .expect_problem(401, "invalid_token");
    server
        .operator()
        .post(&shares, &json!({"tenant": "no-such-tenant"}))
        .await
        .expect_problem(422, "validation_failed");
    server
        .operator()
        .post(
            &format!("/v1/operator/modules/{}/shares", "e".repeat(64)),
            &json!({"tenant": "share-b"}),
        )
        .await
        .expect_problem(404, "not_found");
    server
        .operator()
        .post(
            "/v1/operator/modules/crm@1.0.0/shares",
            &json!({"tenant": "share-b"}),
        )
        .await
        .expect_problem(409, "module_builtin");
    // An upload shared with an unknown tenant records nothing.
    let refused = send(
        server
            .operator()
            .request(Method::POST, "/v1/operator/modules?share=share-a,nobody")
            .body(fixture_component("spin")),
    )
    .await;
    refused.expect_problem(422, "validation_failed");
    let spin_versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM module_versions WHERE name = 'spin'")
            .fetch_one(&mut server.db().await)
            .await
            .unwrap();
    assert_eq!(spin_versions, 0);
}

/// With a pool of one connection, every module request holds the only connection in its
/// transaction: a second one would wait until the pool's timeout and fail. The second host
/// has loaded neither the upload's metadata nor its code before the requests need them.
#[tokio::test]
async fn module_requests_succeed_with_a_pool_of_one_connection() {
    let first = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let tenant = first.create_tenant("pool-one").await;
    let second = TestServer::start_with(
        ServerOptions::new()
            .with_builtin_modules()
            .env("DATABASE_URL", &first.test_db().url)
            .env("VEROFIELD_DB_MAX_CONNECTIONS", "1"),
    )
    .await;
    let echo = first
        .publish_module(&fixture_component("echo"), &["pool-one"])
        .await;
    let api = owner_api(&second, &tenant).await;

    api.get("/v1/crm/customers").await.expect_status(200);
    api.post("/v1/crm/customers", &json!({"name": "Ada"}))
        .await
        .expect_status(201);
    let versions = api.get("/v1/modules").await;
    versions.expect_status(200);
    assert!(listed(&versions, &echo), "{}", versions.text);
    bind(&api, "echo", &echo).await;
    api.get("/v1/echo/echo/1").await.expect_status(200);
    api.get("/v1/tenant/modules").await.expect_status(200);
    api.get("/v1/openapi.json").await.expect_status(200);
    api.get("/v1/no-such-slot")
        .await
        .expect_problem(404, "not_found");
}

fn registry_versions(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("module_registry_versions "))
        .unwrap_or_else(|| panic!("no module_registry_versions in\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn unknown_and_invalid_slots_are_404_and_leave_nothing_cached() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let tenant = server.create_tenant("slots").await;
    let api = owner_api(&server, &tenant).await;
    let before = registry_versions(&server.anon().get("/metrics").await.text);
    for i in 0..300 {
        api.get(&format!("/v1/unknown-slot-{i}/x"))
            .await
            .expect_problem(404, "not_found");
    }
    let too_long = "a".repeat(65);
    for slot in ["Crm", "crm_x", "1crm", "-crm", too_long.as_str(), "%00crm"] {
        api.get(&format!("/v1/{slot}"))
            .await
            .expect_problem(404, "not_found");
    }
    let after = registry_versions(&server.anon().get("/metrics").await.text);
    assert_eq!(after, before);
    api.get("/v1/crm/customers").await.expect_status(200);
}

#[tokio::test]
async fn a_module_cache_directory_others_can_reach_is_refused_at_start_up() {
    // TempDir makes its directory 0755 (traversable by others).
    let cache = TempDir::new("open-cache");
    let Err(failure) = TestServer::try_start(
        ServerOptions::new().env("VEROFIELD_MODULE_CACHE_DIR", cache.path().to_str().unwrap()),
    )
    .await
    else {
        panic!("the server started with an open cache directory");
    };
    assert!(
        failure
            .stderr
            .contains("must be a directory private to this server's user")
            && failure.stderr.contains("mode 0755"),
        "{}",
        failure.stderr
    );
}

/// The built-ins directory is cargo's target directory: it also holds the routing
/// benchmark (`vrptw-bench.wasm`, a WASI command), which is no module and no cause for a
/// warning.
#[tokio::test]
async fn built_in_discovery_passes_over_non_modules_without_a_warning() {
    let builtins = verofield_tests::builtin_modules_dir();
    assert!(builtins.join("vrptw-bench.wasm").is_file());
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let stderr = server.stderr();
    assert!(!stderr.contains("skipping"), "{stderr}");
    assert!(!stderr.contains("vrptw-bench"), "{stderr}");
    assert!(stderr.contains("built-in module published"), "{stderr}");
}

async fn operator_upload(server: &TestServer, component: Vec<u8>) -> Resp {
    send(
        server
            .operator()
            .request(Method::POST, "/v1/operator/modules")
            .header("content-type", "application/wasm")
            .body(component),
    )
    .await
}

#[tokio::test]
async fn the_operator_upload_refuses_a_core_module_with_the_fix() {
    let server = TestServer::start().await;
    let core = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let refused = operator_upload(&server, core).await;
    refused.expect_problem(422, "module_not_component");
    assert!(refused.text.contains("wasm32-wasip2"), "{}", refused.text);
    (operator_upload(&server, b"\x7fELF".to_vec()).await).expect_problem(422, "module_not_wasm");
}

#[tokio::test]
async fn a_slot_that_shadows_a_host_route_is_refused_for_the_operator_and_publishers() {
    let server = TestServer::start().await;
    let squatter = fixture_component("acme-slot-squatter");
    let by_operator = operator_upload(&server, squatter.clone()).await;
    by_operator.expect_problem(422, "module_slot_reserved");
    let detail = by_operator.json["detail"].as_str().unwrap();
    assert!(detail.contains("`publisher`"), "{detail}");
    let acme = server.create_publisher("acme").await;
    (acme.upload(&squatter).await).expect_problem(422, "module_slot_reserved");
    // Nothing was recorded, and the host's own route still answers its own.
    let listed = acme.api.get("/v1/publisher/modules").await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"], json!([]));
}

#[tokio::test]
async fn a_200_mb_upload_is_refused_before_its_body_is_read_and_the_host_stays_up() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/operator/modules HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
         content-type: application/wasm\r\ncontent-length: {}\r\n\r\n",
        server.operator_token,
        200u64 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0u8; 64 << 10]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    server.anon().get("/healthz").await.expect_status(200);
}

/// A component whose core module is `functions` functions of `groups` add-and-store groups
/// each: valid, small on the wire (7 bytes a group), and slow to compile.
fn compile_bomb(functions: usize, groups: usize) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                break;
            }
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len(), out);
        out.extend_from_slice(body);
    }
    let mut body = vec![1, 2, 0x7f]; // two i32 locals
    for _ in 0..groups {
        body.extend_from_slice(&[0x20, 0, 0x20, 1, 0x6a, 0x21, 0]);
    }
    body.push(0x0b);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module);
    let mut declared = Vec::new();
    leb(functions, &mut declared);
    declared.extend(std::iter::repeat_n(0u8, functions));
    section(3, &declared, &mut module);
    let mut code = Vec::new();
    leb(functions, &mut code);
    for _ in 0..functions {
        leb(body.len(), &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut module);
    // An empty core module in a component of our world, its module swapped for the bomb.
    let shell = wat::parse_str(
        r#"(component (core module $m) (instance $i)
             (export "verofield:platform/module@0.1.0" (instance $i)))"#,
    )
    .unwrap();
    assert_eq!(shell[8], 1, "the core module section follows the preamble");
    let (empty_len, rest) = (shell[9] as usize, 10 + shell[9] as usize);
    assert!(empty_len < 0x80);
    let mut component = shell[..8].to_vec();
    section(1, &module, &mut component);
    component.extend_from_slice(&shell[rest..]);
    component
}

#[tokio::test]
async fn a_compile_bomb_is_refused_in_time_while_the_host_keeps_serving() {
    let server = TestServer::start_with(ServerOptions::new().args([
        "--module-compile-timeout-ms",
        "200",
        "--module-compile-wait-ms",
        "100",
    ]))
    .await;
    // About 3 s of compiling on this machine (20 x 25,000 took 0.65 s), 15x the limit.
    let bomb = compile_bomb(100, 25_000);
    let refused = operator_upload(&server, bomb.clone()).await;
    refused.expect_problem(422, "module_compile_timeout");
    assert!(refused.text.contains("200 ms"), "{}", refused.text);
    // The bomb's thread still compiles and holds the one compile slot: the next upload is
    // told to come back, and everything else is served.
    let busy = operator_upload(&server, fixture_component("spin")).await;
    busy.expect_problem(503, "server_busy");
    assert!(busy.header("retry-after").is_some());
    server.anon().get("/healthz").await.expect_status(200);
    // Its compile finished since, but was not kept: it is refused again, not loaded from the
    // cache its abandoned compile would otherwise have filled.
    let compiled = async || server.stderr().contains("compiled module").then_some(());
    eventually("the bomb's compile to end", compiled).await;
    (operator_upload(&server, bomb).await).expect_problem(422, "module_compile_timeout");
}

/// WIT 0.1.1 only added interfaces: a component built against the frozen 0.1.0
/// (`wit/versions/0.1.0`) still uploads, binds and answers, its imports and its export
/// resolved by semver.
#[tokio::test]
async fn a_component_built_against_wit_0_1_0_still_loads_and_runs() {
    let server = TestServer::start().await;
    let tenants = server
        .tenants_on_fixture(&["legacy-wit"], "legacy-echo", "legacy-echo")
        .await;
    let echoed = tenants[0].1.get("/v1/legacy-echo/echo/42").await;
    echoed.expect_status(200);
    assert_eq!(echoed.json["params"], json!([["id", "42"]]));
    assert_eq!(echoed.json["tenant"], tenants[0].0.id.to_string());
}

/// WIT 0.1.2 only added `http`: a component built against the frozen 0.1.1
/// (`wit/versions/0.1.1`), importing the `config@0.1.1` that version added, still uploads,
/// binds and answers.
#[tokio::test]
async fn a_component_built_against_wit_0_1_1_still_loads_and_runs() {
    let server = TestServer::start().await;
    let tenants = server
        .tenants_on_fixture(&["legacy-wit11"], "legacy-config", "legacy-config")
        .await;
    let config = tenants[0].1.get("/v1/legacy-config/config").await;
    config.expect_status(200);
    assert_eq!(config.json, json!({}));
}
