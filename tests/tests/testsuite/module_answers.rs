//! A module's answer is untrusted, through the real server: only allowlisted headers reach
//! the client (framing, hop-by-hop, cookies, CORS, HSTS, HTML and foreign `x-` names are
//! dropped; past the caps the call fails before anything commits), stored idempotent answers
//! are screened again on replay, a module cannot split its response on a reused connection,
//! its log lines cannot forge the host's, a client's `x-request-id` is checked before it is
//! stored, and a 405 names the methods the route takes.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A new tenant whose owner is signed in.
struct Owner {
    fixture: TenantFixture,
    token: String,
    api: Api,
}

async fn owner(server: &TestServer, slug: &str) -> Owner {
    let fixture = server.create_tenant(slug).await;
    let token = server.login_owner(&fixture).await.access;
    Owner {
        api: server.client_for(&token),
        fixture,
        token,
    }
}

/// A tenant with `hostile-headers` bound to slot `hostile`.
async fn hostile_tenant(server: &TestServer, slug: &str) -> Owner {
    let owner = owner(server, slug).await;
    let digest = server
        .publish_module(
            &fixture_component("hostile-headers"),
            &[&owner.fixture.slug],
        )
        .await;
    bind(&owner.api, "hostile", &digest).await;
    owner
}

/// `GET /v1/hostile/headers` answering exactly these headers.
async fn answering(api: &Api, headers: &[(&str, &str)]) -> Resp {
    let query: Vec<(&str, String)> = headers
        .iter()
        .map(|(name, value)| ("h", format!("{name}:{value}")))
        .collect();
    let response = send(
        api.request(Method::GET, "/v1/hostile/headers")
            .query(&query),
    )
    .await;
    response.expect_status(200);
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "every module answer says nosniff"
    );
    response
}

async fn customers_of(server: &TestServer, tenant: &TenantFixture) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM store.crm_customers WHERE tenant_id = $1")
        .bind(tenant.id)
        .fetch_one(&mut server.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn module_headers_pass_an_allowlist() {
    let server = server().await;
    let a = hostile_tenant(&server, "headers-a").await;

    let kept = [
        ("content-type", "application/json; charset=utf-8"),
        ("etag", "\"7\""),
        ("cache-control", "no-store"),
        ("retry-after", "30"),
        ("location", "/v1/hostile/things/7"),
        ("x-hostile-trace", "t-1"),
    ];
    let dropped = [
        ("set-cookie", "sid=forged; HttpOnly"),
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("strict-transport-security", "max-age=0"),
        ("content-security-policy", "default-src *"),
        ("connection", "close"),
        ("keep-alive", "timeout=1"),
        ("x-frame-options", "ALLOWALL"),
        ("x-crm-trace", "another module's namespace"),
    ];
    let forged = [
        ("x-request-id", "forged"),
        ("x-content-type-options", "sniff"),
    ];
    let all: Vec<(&str, &str)> = [&kept[..], &dropped[..], &forged[..]].concat();
    let response = answering(&a.api, &all).await;
    for (name, value) in kept {
        assert_eq!(response.header(name), Some(value), "{name} is allowed");
    }
    for (name, _) in dropped {
        assert_eq!(response.header(name), None, "{name} is dropped");
    }
    assert_ne!(response.header("x-request-id"), Some("forged"));
    assert!(
        server.stderr().contains("outside the allowlist"),
        "dropped headers are noted in the log"
    );

    // Data types only: nothing a browser would render or run on the API's origin.
    for content_type in [
        "application/problem+json",
        "text/csv; charset=utf-8",
        "application/pdf",
    ] {
        let response = answering(&a.api, &[("content-type", content_type)]).await;
        assert_eq!(response.content_type(), content_type);
    }
    for content_type in [
        "text/html",
        "text/html; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/javascript",
        "application/json, text/html",
    ] {
        let response = answering(&a.api, &[("content-type", content_type)]).await;
        assert_ne!(response.content_type(), content_type);
        assert!(
            !["html", "svg", "javascript"]
                .iter()
                .any(|kind| response.content_type().contains(kind)),
            "{content_type} became {}",
            response.content_type()
        );
    }

    // `Location` only under the module's own prefix, as a path.
    for location in [
        "https://evil.test/",
        "//evil.test/v1/hostile",
        "/v1/hostile//evil.test",
        "/v1/crm/customers",
        "/v1/hostilex/1",
        "/v1/hostile/../auth/login",
        "/v1/hostile/%2e%2e/auth/login",
        "/v1/hostile/\\evil.test",
        "/v1/hostile/\tx",
    ] {
        let response = answering(&a.api, &[("location", location)]).await;
        assert_eq!(response.header("location"), None, "{location:?}");
    }
}

#[tokio::test]
async fn a_module_past_the_header_caps_fails_and_commits_nothing() {
    let server = server().await;
    let a = hostile_tenant(&server, "caps-a").await;
    let b = hostile_tenant(&server, "caps-b").await;
    let flood = |api: &Api, query: Vec<(&'static str, String)>| {
        send(
            api.request(Method::POST, "/v1/hostile/headers")
                .query(&query),
        )
    };

    let big = format!("x-hostile-big:{}", "x".repeat(9 * 1024));
    let cases = [
        vec![("flood", "40000".to_owned())],
        vec![("flood", "33".to_owned())],
        vec![("h", big)],
    ];
    for query in cases {
        flood(&a.api, query.clone())
            .await
            .expect_problem(502, "module_bad_response");
        assert_eq!(customers_of(&server, &a.fixture).await, 0, "{query:?}");
    }
    // The host goes on serving, both tenants; within the caps the write commits.
    flood(&a.api, vec![("flood", "31".to_owned())])
        .await
        .expect_status(201);
    assert_eq!(customers_of(&server, &a.fixture).await, 1);
    b.api.get("/v1/hostile/real").await.expect_status(200);
    assert_eq!(customers_of(&server, &b.fixture).await, 0);
}

#[tokio::test]
async fn idempotent_replays_are_screened_too() {
    let server = server().await;
    let a = hostile_tenant(&server, "replay-a").await;
    let b = hostile_tenant(&server, "replay-b").await;
    let create = |api: &Api| {
        send(
            api.request(Method::POST, "/v1/hostile/headers")
                .header("idempotency-key", "replay-1")
                .query(&[("h", "set-cookie:sid=forged"), ("h", "x-hostile-ok:1")]),
        )
    };
    let first = create(&a.api).await;
    first.expect_status(201);
    assert_eq!(first.header("set-cookie"), None);
    assert_eq!(first.header("x-hostile-ok"), Some("1"));

    // Stored screened: the row holds only what was sent.
    let mut db = server.db().await;
    let stored: Value = sqlx::query_scalar(
        "SELECT headers FROM idempotency_keys WHERE tenant_id = $1 AND key = 'replay-1'",
    )
    .bind(a.fixture.id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(stored, json!([["x-hostile-ok", "1"]]));

    // A row stored by an older version, with every header the module sent, is screened on
    // replay.
    sqlx::query(
        r#"UPDATE idempotency_keys SET headers = '[["set-cookie", "sid=forged"],
             ["content-length", "0"], ["access-control-allow-origin", "*"],
             ["content-type", "text/html"], ["x-hostile-ok", "1"]]'
           WHERE tenant_id = $1 AND key = 'replay-1'"#,
    )
    .bind(a.fixture.id)
    .execute(&mut db)
    .await
    .unwrap();
    let replay = create(&a.api).await;
    replay.expect_status(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.text, first.text, "the body, whole");
    for name in ["set-cookie", "access-control-allow-origin"] {
        assert_eq!(replay.header(name), None, "{name}");
    }
    assert!(!replay.content_type().contains("html"));
    assert_eq!(replay.header("x-hostile-ok"), Some("1"));
    assert_eq!(replay.header("x-content-type-options"), Some("nosniff"));

    // Another tenant's user with the same key runs its own request.
    let other = create(&b.api).await;
    other.expect_status(201);
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(customers_of(&server, &a.fixture).await, 1);
    assert_eq!(customers_of(&server, &b.fixture).await, 1);
}

/// One response read off a raw connection: its status and the body its `content-length`
/// frames.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    body: Vec<u8>,
}

/// Splits what the server wrote into responses, by their framing.
fn responses(mut bytes: &[u8]) -> Vec<RawResponse> {
    let mut parsed = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or_default()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        assert!(
            !headers.iter().any(|(name, _)| name == "transfer-encoding"),
            "{head}"
        );
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map_or(0, |(_, value)| value.parse().unwrap());
        let body_end = (end + 4 + length).min(bytes.len());
        parsed.push(RawResponse {
            status,
            body: bytes[end + 4..body_end].to_vec(),
        });
        bytes = &bytes[body_end..];
    }
    parsed
}

#[tokio::test]
async fn a_module_cannot_split_its_response_on_a_reused_connection() {
    let server = server().await;
    let a = hostile_tenant(&server, "split-a").await;
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let request = |path: &str, last: bool| {
        format!(
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n{}\r\n",
            a.token,
            if last { "connection: close\r\n" } else { "" }
        )
    };
    // Two requests pipelined on one connection, written back to back.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let pipelined = request("/v1/hostile/split", false) + &request("/v1/hostile/real", true);
    stream.write_all(pipelined.as_bytes()).await.unwrap();
    let mut written = Vec::new();
    tokio::time::timeout(REQUEST_TIMEOUT, stream.read_to_end(&mut written))
        .await
        .expect("the server closes the connection after the second answer")
        .unwrap();

    let answers = responses(&written);
    assert_eq!(answers.len(), 2, "{}", String::from_utf8_lossy(&written));
    // The module's body is framed as what it is, a body (with its `content-length` ignored).
    assert!(answers[0].body.ends_with(b"forged!"), "{:?}", answers[0]);
    assert_eq!(answers[1].status, 200);
    assert_eq!(answers[1].body, br#"{"real":true}"#, "{:?}", answers[1]);
}

/// A line of the server's log without its colour escapes.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn module_log_lines_cannot_forge_the_hosts() {
    let server = server().await;
    let Owner { fixture, api, .. } = owner(&server, "log-a").await;
    let digest = server
        .publish_module(&fixture_component("hostile-log"), &[&fixture.slug])
        .await;
    bind(&api, "hostile-log", &digest).await;
    let response = send(
        api.request(Method::GET, "/v1/hostile-log")
            .header("x-request-id", "log-trace-1"),
    )
    .await;
    response.expect_status(200);

    let log = server.stderr();
    let lines: Vec<String> = log.lines().map(plain).collect();
    let forged: Vec<&String> = lines.iter().filter(|l| l.contains("forged")).collect();
    assert_eq!(forged.len(), 6, "one line per write:\n{log}");
    for line in forged {
        assert!(!line.starts_with("1999-"), "a forged line: {line}");
        for field in [
            fixture.id.to_string(),
            "hostile-log".to_owned(),
            "0.1.0".to_owned(),
            digest.clone(),
            "log-trace-1".to_owned(),
        ] {
            assert!(line.contains(&field), "`{field}` missing from {line}");
        }
    }
}

#[tokio::test]
async fn a_clients_request_id_is_checked_before_it_is_stored() {
    let server = server().await;
    let Owner { fixture, api, .. } = owner(&server, "rid-a").await;
    let mut db = server.db().await;

    // Too long: replaced by a generated id, which is what the outbox stores.
    let long = "a".repeat(10 * 1024);
    let created = send(
        api.request(Method::POST, "/v1/crm/customers")
            .header("x-request-id", &long)
            .json(&json!({ "name": "Ada" })),
    )
    .await;
    created.expect_status(201);
    let generated = created.header("x-request-id").unwrap().to_owned();
    assert!(json_uuid(&json!(generated)).is_some(), "{generated}");
    let outbox: Vec<Option<String>> =
        sqlx::query_scalar("SELECT request_id FROM event_outbox WHERE tenant_id = $1")
            .bind(fixture.id)
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(outbox, [Some(generated)]);

    // A control character: replaced too, in the audit log.
    let bindings = api.get("/v1/tenant/modules").await;
    let crm = bindings.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["slot"] == "crm")
        .unwrap()["version"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let rebound = send(
        api.request(Method::PUT, "/v1/tenant/modules/crm")
            .header("x-request-id", "ok\tforged=1")
            .json(&json!({ "version": crm })),
    )
    .await;
    rebound.expect_status(200);
    let generated = rebound.header("x-request-id").unwrap().to_owned();
    assert!(json_uuid(&json!(generated)).is_some(), "{generated}");
    let audited: Option<String> = sqlx::query_scalar(
        "SELECT request_id FROM audit_log WHERE tenant_id = $1 AND action = 'module.bound'",
    )
    .bind(fixture.id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(audited, Some(generated));

    // A plain one is kept.
    let kept = send(
        api.request(Method::POST, "/v1/crm/customers")
            .header("x-request-id", "client-trace.42")
            .json(&json!({ "name": "Bea" })),
    )
    .await;
    kept.expect_status(201);
    assert_eq!(kept.header("x-request-id"), Some("client-trace.42"));
}

/// The methods of an `Allow` header, sorted.
fn allowed(response: &Resp) -> Vec<String> {
    let allow = response
        .header("allow")
        .unwrap_or_else(|| panic!("405 without Allow: {:?}", response.headers));
    let mut methods: Vec<String> = allow.split(',').map(|m| m.trim().to_owned()).collect();
    methods.sort();
    methods
}

#[tokio::test]
async fn a_405_names_the_allowed_methods() {
    let server = server().await;
    let api = owner(&server, "allow-a").await.api;
    let customer = api
        .post("/v1/crm/customers", &json!({ "name": "Ada" }))
        .await;
    customer.expect_status(201);
    let id = customer.uuid("id");

    // Module routes: the methods of the manifest routes whose pattern matched.
    let cases = [
        (
            Method::DELETE,
            "/v1/crm/customers".to_owned(),
            vec!["GET", "POST"],
        ),
        (
            Method::PUT,
            format!("/v1/crm/customers/{id}"),
            vec!["DELETE", "GET", "PATCH"],
        ),
        // The host's own routes.
        (
            Method::DELETE,
            "/v1/modules".to_owned(),
            vec!["GET", "HEAD"],
        ),
        (
            Method::GET,
            "/v1/tenant/modules/crm".to_owned(),
            vec!["PUT"],
        ),
    ];
    for (method, path, methods) in cases {
        let response = send(api.request(method.clone(), &path)).await;
        response.expect_problem(405, "method_not_allowed");
        assert_eq!(allowed(&response), methods, "{method} {path}");
    }
}
