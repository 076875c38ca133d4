//! Webhook endpoints: CRUD and validation, the secret shown only at creation and rotation,
//! signatures checked by an independent Standard Webhooks verifier written here from the
//! specification (HMAC-SHA256 built on `sha2`, not the server's `hmac` crate) and by the
//! Standard Webhooks project's own Python library, rotation
//! overlap, the hardened client's refusals (private addresses, redirects, huge bodies, slow
//! receivers) and tenant isolation.

use std::time::Duration;
use verofield_tests::*;

const ENDPOINTS: &str = "/v1/webhooks/endpoints";

#[test]
fn the_verifier_matches_the_reference_vector() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "webhook-id",
        "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap(),
    );
    headers.insert("webhook-timestamp", "1614265330".parse().unwrap());
    headers.insert(
        "webhook-signature",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            .parse()
            .unwrap(),
    );
    let request = Received {
        path: "/".into(),
        headers,
        body: br#"{"test": 2432232314}"#.to_vec(),
        arrived: std::time::SystemTime::now(),
    };
    assert!(request.signed_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert!(!request.signed_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

/// A server that may reach the local receiver, a tenant and its owner's client.
async fn setup() -> (TestServer, Api) {
    let (server, _, api) = setup_tenant().await;
    (server, api)
}

async fn setup_tenant() -> (TestServer, TenantFixture, Api) {
    let server = TestServer::start_with(ServerOptions::new().local_outbound()).await;
    let tenant = server.create_tenant(&unique("hook")).await;
    let token = server.login_owner(&tenant).await.access;
    let api = server.client_for(&token);
    (server, tenant, api)
}

async fn create_endpoint(api: &Api, url: &str) -> (String, String) {
    let created = api
        .post(
            ENDPOINTS,
            &json!({ "url": url, "description": "test receiver" }),
        )
        .await;
    created.expect_status(201);
    let secret = created.json["secret"].as_str().unwrap().to_owned();
    (created.json["id"].as_str().unwrap().to_owned(), secret)
}

async fn ping(api: &Api, id: &str) -> Resp {
    let answer = api
        .post(&format!("{ENDPOINTS}/{id}/test"), &json!({}))
        .await;
    answer.expect_status(200);
    answer
}

#[tokio::test]
async fn endpoints_are_created_changed_and_deleted_with_validation() {
    let (server, api) = setup().await;
    let created = api
        .post(
            ENDPOINTS,
            &json!({ "url": "https://hooks.example.com/in", "event_types": ["job.*", "customer.created"] }),
        )
        .await;
    created.expect_status(201);
    assert!(
        created.json["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(created.json["enabled"], true);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = format!("{ENDPOINTS}/{id}");

    // The secret is never shown again.
    let fetched = api.get(&path).await;
    fetched.expect_status(200);
    assert!(fetched.json.get("secret").is_none(), "{}", fetched.text);
    let listed = api.get(ENDPOINTS).await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains("whsec_"), "{}", listed.text);

    // Optimistic concurrency on PATCH.
    let stale = api
        .request(Method::PATCH, &path)
        .header("if-match", "\"99\"")
        .json(&json!({ "enabled": false }));
    send(stale).await.expect_problem(412, "precondition_failed");
    let etag = fetched.header("etag").unwrap().to_owned();
    let patched = send(
        api.request(Method::PATCH, &path)
            .header("if-match", etag)
            .json(&json!({ "enabled": false, "event_types": [] })),
    )
    .await;
    patched.expect_status(200);
    assert_eq!(patched.json["enabled"], false);
    assert_eq!(patched.json["event_types"], json!([]));

    for (body, field) in [
        (json!({ "url": "ftp://hooks.example.com/" }), "url"),
        (json!({ "url": "/relative" }), "url"),
        (
            json!({ "url": "https://user:pw@hooks.example.com/" }),
            "url",
        ),
        (
            json!({ "url": format!("https://hooks.example.com/{}", "a".repeat(2100)) }),
            "url",
        ),
        (
            json!({ "url": "https://hooks.example.com/", "event_types": ["Job.*"] }),
            "event_types[0]",
        ),
        (
            json!({ "url": "https://hooks.example.com/", "event_types": ["job.*.x"] }),
            "event_types[0]",
        ),
    ] {
        let refused = api.post(ENDPOINTS, &body).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(
            refused.json["errors"][0]["field"], field,
            "{}",
            refused.text
        );
    }

    let audit = api.get("/v1/audit").await;
    assert!(
        audit.text.contains("webhook_endpoint.created"),
        "{}",
        audit.text
    );
    assert!(
        audit.text.contains("webhook_endpoint.updated"),
        "{}",
        audit.text
    );

    api.delete(&path).await.expect_status(204);
    api.get(&path).await.expect_problem(404, "not_found");
    let audit = api.get("/v1/audit").await;
    assert!(
        audit.text.contains("webhook_endpoint.deleted"),
        "{}",
        audit.text
    );
    drop(server);
}

#[tokio::test]
async fn the_test_ping_verifies_and_rotation_signs_with_both_secrets() {
    let (server, api) = setup().await;
    let receiver = Receiver::start();
    let (id, secret) = create_endpoint(&api, &receiver.url("/hook")).await;

    let answer = ping(&api, &id).await;
    assert_eq!(answer.json["success"], true, "{}", answer.text);
    assert_eq!(answer.json["status_code"], 200);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/hook");
    assert!(request.signed_with(&secret), "{:?}", request.headers);
    assert!(request.verified_by_reference_library(&secret));
    assert!(!request.verified_by_reference_library("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(request.header("webhook-id"), answer.json["event_id"]);
    let body = request.json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["id"], answer.json["event_id"]);
    assert_eq!(body["data"]["endpoint_id"], id.as_str());
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));

    let rotated = api
        .post(&format!("{ENDPOINTS}/{id}/rotate-secret"), &json!({}))
        .await;
    rotated.expect_status(200);
    let new_secret = rotated.json["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated.json["previous_secret_expires_at"].is_string());

    ping(&api, &id).await;
    let request = receiver.received().pop().unwrap();
    let signatures: Vec<&str> = request.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "both secrets sign during the overlap");
    assert!(request.signed_with(&new_secret));
    assert!(request.signed_with(&secret));
    assert!(request.verified_by_reference_library(&new_secret));
    assert!(request.verified_by_reference_library(&secret));
    assert!(!request.signed_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));

    let log = api.get(&format!("{ENDPOINTS}/{id}/deliveries")).await;
    log.expect_status(200);
    let items = log.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]["id"].as_str() > items[1]["id"].as_str(),
        "newest first"
    );
    assert_eq!(items[0]["status_code"], 200);
    assert_eq!(items[0]["event_type"], "webhook.test");
    assert_eq!(items[0]["attempt"], 1);
    let page = api
        .get(&format!("{ENDPOINTS}/{id}/deliveries?limit=1"))
        .await;
    let cursor = page.json["next_cursor"].as_str().unwrap().to_owned();
    let next = api
        .get(&format!(
            "{ENDPOINTS}/{id}/deliveries?limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(next.json["items"][0]["id"], items[1]["id"]);

    let audit = api.get("/v1/audit").await;
    assert!(audit.text.contains("webhook_endpoint.secret_rotated"));
    drop(server);
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowlisted() {
    // http is allowed, so that only the address decides.
    let server = TestServer::start_with(ServerOptions::new().args(["--outbound-allow-http"])).await;
    let tenant = server.create_tenant(&unique("ssrf")).await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8080/hook",
    ] {
        api.post(ENDPOINTS, &json!({ "url": url }))
            .await
            .expect_problem(422, "destination_refused");
    }
    let created = api
        .post(ENDPOINTS, &json!({ "url": "https://hooks.example.com/" }))
        .await;
    created.expect_status(201);
    let id = created.json["id"].as_str().unwrap();
    api.patch(
        &format!("{ENDPOINTS}/{id}"),
        &json!({ "url": "http://10.1.2.3/" }),
    )
    .await
    .expect_problem(422, "destination_refused");

    // A row that points at a refused address anyway (DNS changed, say) is refused again at
    // delivery: the attempt is logged with no status.
    let receiver = Receiver::start();
    let mut db = server.db().await;
    sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE id = $2::uuid")
        .bind(receiver.url("/hook"))
        .bind(id)
        .execute(&mut db)
        .await
        .unwrap();
    let answer = ping(&api, id).await;
    assert_eq!(answer.json["success"], false);
    assert_eq!(answer.json["status_code"], Value::Null);
    assert!(
        answer.json["error"].as_str().unwrap().contains("refused"),
        "{}",
        answer.text
    );
    assert!(receiver.received().is_empty());

    // The allowlisted server accepts the same loopback URL.
    let (_allowed, allowed_api) = setup().await;
    create_endpoint(&allowed_api, &receiver.url("/hook")).await;
}

#[tokio::test]
async fn huge_bodies_are_cut_and_redirects_not_followed() {
    let (server, api) = setup().await;
    let receiver = Receiver::start();
    let (id, _) = create_endpoint(&api, &receiver.url("/hook")).await;

    receiver.answer(Answer::HugeBody(10 * 1024 * 1024));
    let answer = ping(&api, &id).await;
    assert_eq!(answer.json["success"], true, "{}", answer.text);
    assert_eq!(answer.json["response_bytes"], 64 * 1024);
    assert_eq!(answer.json["response_truncated"], true);

    receiver.answer(Answer::Redirect("/elsewhere".into()));
    let answer = ping(&api, &id).await;
    assert_eq!(answer.json["success"], false);
    assert_eq!(answer.json["status_code"], 302);
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/hook", "/hook"], "the redirect was not followed");

    receiver.answer(Answer::Status(500));
    let answer = ping(&api, &id).await;
    assert_eq!(answer.json["success"], false);
    assert_eq!(answer.json["status_code"], 500);
    let endpoint = api.get(&format!("{ENDPOINTS}/{id}")).await;
    assert!(
        endpoint.json["failing_since"].is_string(),
        "{}",
        endpoint.text
    );
    receiver.answer(Answer::Status(204));
    ping(&api, &id).await;
    let endpoint = api.get(&format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(
        endpoint.json["failing_since"],
        Value::Null,
        "a success clears it"
    );
    drop(server);
}

#[tokio::test]
async fn a_receiver_that_sleeps_is_cut_at_the_timeout() {
    let (server, api) = setup().await;
    let receiver = Receiver::start();
    let (id, _) = create_endpoint(&api, &receiver.url("/hook")).await;
    receiver.answer(Answer::Sleep(Duration::from_secs(30)));
    let answer = ping(&api, &id).await;
    assert_eq!(answer.json["success"], false);
    assert_eq!(answer.json["status_code"], Value::Null);
    assert!(
        answer.json["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 10s"),
        "{}",
        answer.text
    );
    let log = api.get(&format!("{ENDPOINTS}/{id}/deliveries")).await;
    assert_eq!(log.json["items"][0]["error"], answer.json["error"]);
    drop(server);
}

#[tokio::test]
async fn another_tenant_cannot_reach_an_endpoint() {
    let (server, a, api_a) = setup_tenant().await;
    let receiver = Receiver::start();
    let (id, _) = create_endpoint(&api_a, &receiver.url("/hook")).await;
    ping(&api_a, &id).await;

    let b = server.create_tenant(&unique("other")).await;
    let api_b = server.client_for(&server.login_owner(&b).await.access);
    let path = format!("{ENDPOINTS}/{id}");
    let listed = api_b.get(ENDPOINTS).await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"], json!([]));
    api_b.get(&path).await.expect_problem(404, "not_found");
    api_b
        .patch(&path, &json!({ "enabled": false }))
        .await
        .expect_problem(404, "not_found");
    api_b
        .post(&format!("{path}/test"), &json!({}))
        .await
        .expect_problem(404, "not_found");
    api_b
        .post(&format!("{path}/rotate-secret"), &json!({}))
        .await
        .expect_problem(404, "not_found");
    api_b
        .get(&format!("{path}/deliveries"))
        .await
        .expect_problem(404, "not_found");
    api_b.delete(&path).await.expect_problem(404, "not_found");
    assert_eq!(
        receiver.received().len(),
        1,
        "only tenant A's own ping arrived"
    );
    api_a.get(&path).await.expect_status(200);

    // A viewer of tenant A has no `webhooks.manage`.
    let owner = server.login_owner(&a).await.access;
    let email = format!("viewer@{}.test", a.slug);
    let password = "viewer-password-0123";
    server
        .create_user(&owner, &email, &["viewer"], Some(password))
        .await;
    let viewer = server.client_for(&server.login(&a.slug, &email, password).await.access);
    viewer
        .get(ENDPOINTS)
        .await
        .expect_problem(403, "permission_denied");
    drop(server);
}
