//! Bad input gets a 4xx problem+json with a stable code, never a 500: malformed JSON,
//! wrong types, unknown fields, missing or wrong content types, oversized bodies, bad UUIDs
//! in paths, bad cursors and limits, unknown routes and methods, and values PostgreSQL
//! cannot store.

use verofield_tests::*;

struct Fixture {
    server: TestServer,
    owner: String,
    user: String,
    role: String,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let user = server
        .create_user(&owner, "member@acme.test", &["viewer"], None)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = server
        .client_for(&owner)
        .post(
            "/v1/roles",
            &json!({ "name": "lead", "permissions": ["jobs.read"] }),
        )
        .await
        .uuid("id")
        .to_string();
    Fixture {
        server,
        owner,
        user,
        role,
    }
}

/// Collects every deviation, so one run reports all of them.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    /// A problem+json answer with this status (and code, unless empty), a request id, and
    /// the RFC 9457 members.
    fn problem(&mut self, what: &str, response: &Resp, status: u16, code: &str) {
        let mut wrong = Vec::new();
        if response.status.as_u16() != status {
            wrong.push(format!("status {} (expected {status})", response.status));
        }
        if !response.is_problem() {
            wrong.push(format!("content type {:?}", response.content_type()));
        }
        if !code.is_empty() && response.code() != code {
            wrong.push(format!("code {:?} (expected {code})", response.code()));
        }
        for member in ["type", "title", "detail"] {
            if !response.json[member].is_string() {
                wrong.push(format!("no `{member}`"));
            }
        }
        if response.json["status"].as_u64() != Some(response.status.as_u16() as u64) {
            wrong.push("`status` member differs".into());
        }
        if response.header("x-request-id").is_none_or(str::is_empty) {
            wrong.push("no x-request-id".into());
        }
        if !wrong.is_empty() {
            self.0.push(format!(
                "{what}: {}; body: {}",
                wrong.join(", "),
                truncate(&response.text)
            ));
        }
    }

    /// Anything but a 5xx (the request may well be acceptable).
    fn no_server_error(&mut self, what: &str, response: &Resp) {
        if response.status.is_server_error() {
            self.0.push(format!(
                "{what}: status {}; body: {}",
                response.status,
                truncate(&response.text)
            ));
        }
    }

    /// Some 4xx problem+json (any code), and certainly not a 5xx.
    fn client_error(&mut self, what: &str, response: &Resp) {
        if !response.status.is_client_error() {
            self.0.push(format!(
                "{what}: status {} (expected 4xx); body: {}",
                response.status,
                truncate(&response.text)
            ));
        } else {
            self.problem(what, response, response.status.as_u16(), "");
        }
    }

    #[track_caller]
    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} deviations:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

async fn raw(
    api: &Api,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Resp {
    let mut request = api.request(method, path).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(request).await
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn malformed_json_is_400() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let anon = f.server.anon();
    let mut checks = Checks::default();
    let user = format!("/v1/users/{}", f.user);
    // (method, path, client, the first field of its body, a complete valid body)
    let endpoints = [
        (
            Method::POST,
            "/v1/users",
            &api,
            "email",
            r#"{"email":"t@acme.test","roles":["viewer"]}"#,
        ),
        (
            Method::PATCH,
            user.as_str(),
            &api,
            "display_name",
            r#"{"display_name":"x"}"#,
        ),
        (
            Method::POST,
            "/v1/roles",
            &api,
            "name",
            r#"{"name":"t","permissions":["jobs.read"]}"#,
        ),
        (
            Method::POST,
            "/v1/auth/login",
            &anon,
            "tenant",
            r#"{"tenant":"acme","email":"a@b.test","password":"x"}"#,
        ),
        (
            Method::POST,
            "/v1/auth/refresh",
            &anon,
            "refresh_token",
            r#"{"refresh_token":"x"}"#,
        ),
    ];
    for (method, path, client, field, valid) in endpoints {
        // The syntax error comes before any field could be judged unknown or missing.
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", format!(r#"{{"{field}": "#).into_bytes()),
            ("not json", format!("{field}=x").into_bytes()),
            ("trailing garbage", format!("{valid} x").into_bytes()),
            ("two objects", format!("{valid}{valid}").into_bytes()),
            ("single quotes", format!("{{'{field}': 'x'}}").into_bytes()),
            ("empty", Vec::new()),
            ("whitespace only", b"  \n ".to_vec()),
            ("invalid utf-8", {
                let mut body = format!(r#"{{"{field}": ""#).into_bytes();
                body.extend_from_slice(b"\xff\xfe\"}");
                body
            }),
            (
                "lone surrogate",
                format!(r#"{{"{field}": "\ud800"}}"#).into_bytes(),
            ),
            ("bad escape", format!(r#"{{"{field}": "\q"}}"#).into_bytes()),
        ];
        for (name, body) in bodies {
            let response = raw(client, method.clone(), path, JSON, body).await;
            checks.problem(
                &format!("{method} {path} {name}"),
                &response,
                400,
                "malformed_json",
            );
        }
        let deep = format!(
            r#"{{"{field}": {}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let response = raw(client, method.clone(), path, JSON, deep).await;
        checks.client_error(&format!("{method} {path} deep nesting"), &response);
    }
    let operator = f.server.operator();
    let response = raw(
        &operator,
        Method::POST,
        "/v1/operator/tenants",
        JSON,
        "{nope",
    )
    .await;
    checks.problem("operator create tenant", &response, 400, "malformed_json");
    checks.finish();
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_422_naming_the_field() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let anon = f.server.anon();
    let mut checks = Checks::default();
    let user = format!("/v1/users/{}", f.user);
    let role = format!("/v1/roles/{}", f.role);

    // (method, path, body, the field the error must name)
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::POST,
            "/v1/users",
            json!({ "email": 5, "roles": ["viewer"] }),
            "email",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({ "email": "a@acme.test", "roles": "viewer" }),
            "roles",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({ "email": "a@acme.test", "roles": [1] }),
            "roles",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({ "email": "a@acme.test", "roles": ["viewer"], "password": 1234567890 }),
            "password",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({ "email": null, "roles": ["viewer"] }),
            "email",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "status": "frozen" }),
            "status",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "display_name": ["x"] }),
            "display_name",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "roles": { "owner": true } }),
            "roles",
        ),
        (
            Method::POST,
            "/v1/roles",
            json!({ "name": "x", "permissions": "jobs.read" }),
            "permissions",
        ),
        (
            Method::PATCH,
            role.as_str(),
            json!({ "description": 7 }),
            "description",
        ),
        (
            Method::POST,
            "/v1/auth/login",
            json!({ "tenant": 1, "email": "a@b.test", "password": "x" }),
            "tenant",
        ),
        (
            Method::POST,
            "/v1/auth/refresh",
            json!({ "refresh_token": 1 }),
            "refresh_token",
        ),
        (
            Method::POST,
            "/v1/auth/accept-invite",
            json!({ "token": [], "password": "long-enough-1" }),
            "token",
        ),
        // Unknown fields on writes.
        (
            Method::POST,
            "/v1/users",
            json!({ "email": "a@acme.test", "roles": ["viewer"], "is_admin": true }),
            "is_admin",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({ "email": "a@acme.test", "roles": ["viewer"], "status": "active" }),
            "status",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "email": "new@acme.test" }),
            "email",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "version": 7 }),
            "version",
        ),
        (
            Method::PATCH,
            user.as_str(),
            json!({ "password_hash": "x" }),
            "password_hash",
        ),
        (
            Method::PATCH,
            role.as_str(),
            json!({ "name": "renamed" }),
            "name",
        ),
        (
            Method::PATCH,
            role.as_str(),
            json!({ "builtin": true }),
            "builtin",
        ),
        (
            Method::POST,
            "/v1/roles",
            json!({ "name": "x", "permissions": [], "builtin": true }),
            "builtin",
        ),
        (
            Method::POST,
            "/v1/auth/login",
            json!({ "tenant": "acme", "email": "a@b.test", "password": "x", "mfa": 1 }),
            "mfa",
        ),
        (
            Method::POST,
            "/v1/auth/logout",
            json!({ "refresh_token": "x", "all": true }),
            "all",
        ),
    ];
    for (method, path, body, field) in &cases {
        let client = if path.starts_with("/v1/auth") {
            &anon
        } else {
            &api
        };
        let response = send(client.request(method.clone(), path).json(body)).await;
        let what = format!("{method} {path} {body}");
        checks.problem(&what, &response, 422, "validation_failed");
        let errors = response.json["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let named = errors.iter().any(|e| {
            e["field"].as_str().is_some_and(|f| f.starts_with(field))
                || e["message"].as_str().is_some_and(|m| m.contains(field))
        });
        if response.status == 422 && !named {
            checks.0.push(format!(
                "{what}: the errors do not name `{field}`: {}",
                response.text
            ));
        }
    }
    // Bodies of the wrong shape entirely.
    for body in [json!([]), json!(null), json!("x"), json!(1), json!({})] {
        let response = api.post("/v1/users", &body).await;
        checks.problem(
            &format!("POST /v1/users {body}"),
            &response,
            422,
            "validation_failed",
        );
    }
    // Nothing was written by any of it.
    let mut db = f.server.db().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(users, 2, "a rejected request created a user");
    checks.finish();
}

#[tokio::test]
async fn content_type_and_size_are_checked() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let anon = f.server.anon();
    let mut checks = Checks::default();
    let valid = json!({ "email": "new@acme.test", "roles": ["viewer"] }).to_string();

    for (name, content_type) in [
        ("no content type", None),
        ("text/plain", Some("text/plain")),
        ("form", Some("application/x-www-form-urlencoded")),
    ] {
        let response = raw(&api, Method::POST, "/v1/users", content_type, valid.clone()).await;
        checks.problem(
            &format!("POST /v1/users {name}"),
            &response,
            415,
            "unsupported_media_type",
        );
        let response = raw(
            &anon,
            Method::POST,
            "/v1/auth/login",
            content_type,
            r#"{"tenant":"acme","email":"a@b.test","password":"x"}"#,
        )
        .await;
        checks.problem(
            &format!("POST /v1/auth/login {name}"),
            &response,
            415,
            "unsupported_media_type",
        );
    }
    // application/*+json and a charset are fine.
    let response = raw(
        &api,
        Method::POST,
        "/v1/users",
        Some("application/json; charset=utf-8"),
        valid.clone(),
    )
    .await;
    if response.status != StatusCode::CREATED {
        checks.0.push(format!(
            "json with a charset: {} {}",
            response.status, response.text
        ));
    }

    // 2 MB bodies (the limit is 1 MB): 413 problem+json, on both authenticated and open routes.
    let huge = json!({ "email": "big@acme.test", "roles": ["viewer"], "display_name": "x".repeat(2 * 1024 * 1024) }).to_string();
    for (what, api, path) in [
        ("POST /v1/users", &api, "/v1/users"),
        ("POST /v1/auth/login", &anon, "/v1/auth/login"),
        ("POST /v1/roles", &api, "/v1/roles"),
    ] {
        match try_send(
            api.request(Method::POST, path)
                .header("content-type", "application/json")
                .body(huge.clone()),
        )
        .await
        {
            Ok(response) => {
                checks.problem(&format!("{what} 2 MB"), &response, 413, "payload_too_large")
            }
            Err(error) => checks.0.push(format!("{what} 2 MB: no response ({error})")),
        }
    }
    // Just under the limit is not 413 (it fails validation instead).
    let under = json!({ "email": "big@acme.test", "roles": ["viewer"], "display_name": "x".repeat(1000 * 1000) }).to_string();
    let response = raw(&api, Method::POST, "/v1/users", JSON, under).await;
    checks.problem(
        "POST /v1/users 1 MB - a bit",
        &response,
        422,
        "validation_failed",
    );

    let mut db = f.server.db().await;
    let big: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'big@acme.test'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(big, 0);
    checks.finish();
}

#[tokio::test]
async fn bad_paths_queries_routes_and_methods() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let operator = f.server.operator();
    let mut checks = Checks::default();

    for bad in [
        "not-a-uuid",
        "123",
        "%00",
        "'%20OR%201=1--",
        "00000000-0000-0000-0000-00000000000g",
        "..%2F..%2Fetc%2Fpasswd",
        &format!("{}0", f.user),
    ] {
        for base in ["/v1/users", "/v1/roles"] {
            let path = format!("{base}/{bad}");
            checks.problem(
                &format!("GET {path}"),
                &api.get(&path).await,
                400,
                "invalid_path_parameter",
            );
            checks.problem(
                &format!("PATCH {path}"),
                &api.patch(&path, &json!({ "description": "x" })).await,
                400,
                "invalid_path_parameter",
            );
            checks.problem(
                &format!("DELETE {path}"),
                &api.delete(&path).await,
                400,
                "invalid_path_parameter",
            );
        }
        let path = format!("/v1/operator/tenants/{bad}/suspend");
        checks.problem(
            &format!("POST {path}"),
            &operator.post(&path, &json!({})).await,
            400,
            "invalid_path_parameter",
        );
    }
    // A well-formed id of nothing is a 404.
    let nothing = uuid::Uuid::now_v7();
    checks.problem(
        "GET unknown user",
        &api.get(&format!("/v1/users/{nothing}")).await,
        404,
        "not_found",
    );
    checks.problem(
        "suspend unknown tenant",
        &operator
            .post(
                &format!("/v1/operator/tenants/{nothing}/suspend"),
                &json!({}),
            )
            .await,
        404,
        "not_found",
    );

    for query in [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "limit=99999999999999999999999",
        "limit=",
    ] {
        for path in ["/v1/users", "/v1/audit"] {
            checks.problem(
                &format!("GET {path}?{query}"),
                &api.get(&format!("{path}?{query}")).await,
                400,
                "",
            );
        }
        checks.problem(
            &format!("operator ?{query}"),
            &operator.get(&format!("/v1/operator/tenants?{query}")).await,
            400,
            "",
        );
    }
    for cursor in ["!!!", "AAAA", "not-base64-at-all", &"A".repeat(5000), "%00"] {
        for path in ["/v1/users", "/v1/audit"] {
            checks.problem(
                &format!("GET {path}?cursor={cursor:.20}"),
                &api.get(&format!("{path}?cursor={cursor}")).await,
                400,
                "invalid_cursor",
            );
        }
    }
    for path in [
        "/nope",
        "/v1",
        "/v1/nope",
        "/v1/users/x/y",
        &format!("/v1/users/{}/roles", f.user),
        "/v2/users",
    ] {
        checks.problem(
            &format!("GET {path}"),
            &api.get(path).await,
            404,
            "not_found",
        );
        // Without credentials, a path under /v1 may be refused before routing (modules'
        // routes are per tenant): 401 or 404, as problem+json either way.
        let anonymous = f.server.anon().get(path).await;
        let expected = if anonymous.status == StatusCode::UNAUTHORIZED {
            (401, "missing_token")
        } else {
            (404, "not_found")
        };
        checks.problem(
            &format!("GET {path} anonymous"),
            &anonymous,
            expected.0,
            expected.1,
        );
    }
    for (method, path) in [
        (Method::DELETE, "/v1/users"),
        (Method::PUT, "/v1/users"),
        (Method::PUT, "/v1/auth/login"),
        (Method::GET, "/v1/auth/login"),
        (Method::POST, "/v1/me"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/v1/operator/tenants"),
    ] {
        let response = send(api.request(method.clone(), path)).await;
        checks.problem(
            &format!("{method} {path}"),
            &response,
            405,
            "method_not_allowed",
        );
    }
    checks.finish();
}

/// A valid `limit` and the cursor the API itself issued page through the list.
#[tokio::test]
async fn lists_page_with_limit_and_cursor() {
    let f = fixture().await;
    f.server.create_tenant("bravo").await;
    let api = f.server.client_for(&f.owner);
    for path in ["/v1/users", "/v1/audit", "/v1/operator/tenants"] {
        let api = if path.contains("operator") {
            f.server.operator()
        } else {
            api.clone()
        };
        let mut seen = Vec::new();
        let mut url = format!("{path}?limit=1");
        for _ in 0..100 {
            let page = api.get(&url).await;
            page.expect_status(200);
            let items = page.json["items"].as_array().unwrap();
            assert!(
                items.len() <= 1,
                "{path}: limit=1 gave {} items",
                items.len()
            );
            seen.extend(items.iter().map(|item| item["id"].clone()));
            match page.json["next_cursor"].as_str() {
                Some(cursor) => url = format!("{path}?limit=1&cursor={cursor}"),
                None => break,
            }
        }
        let all = api.get(&format!("{path}?limit=200")).await;
        all.expect_status(200);
        let expected: Vec<Value> = all.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect();
        assert!(expected.len() >= 2, "{path}: {}", all.text);
        assert_eq!(
            seen, expected,
            "{path}: paging one by one differs from one page"
        );
    }
}

/// A well-formed JSON body whose value has the wrong type for an enum field is a 422
/// naming the field, like every other wrong type (not "the body is not valid JSON").
#[tokio::test]
async fn a_wrong_type_for_an_enum_field_is_422() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    for status in [json!(true), json!(1), json!(["active"]), json!(null)] {
        let response = api
            .patch(
                &format!("/v1/users/{}", f.user),
                &json!({ "status": status }),
            )
            .await;
        if status.is_null() {
            // null is "not given" for an optional field.
            response.expect_status(200);
            continue;
        }
        response.expect_problem(422, "validation_failed");
        assert_eq!(
            response.json["errors"][0]["field"], "status",
            "{}",
            response.text
        );
    }
}

/// Text with a NUL character passes the host's validation, but PostgreSQL cannot store or
/// compare it: the answer must still be a 4xx, not a 500.
#[tokio::test]
async fn text_with_a_nul_character_is_a_4xx_not_500() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let anon = f.server.anon();
    let operator = f.server.operator();
    let mut checks = Checks::default();
    let user = format!("/v1/users/{}", f.user);
    let role = format!("/v1/roles/{}", f.role);
    let nul = "\u{0}";

    let cases: Vec<(&str, Resp)> = vec![
        ("email with NUL", api.post("/v1/users", &json!({ "email": format!("a{nul}b@acme.test"), "roles": ["viewer"] })).await),
        ("display name with NUL", api.post("/v1/users", &json!({ "email": "n@acme.test", "display_name": format!("a{nul}b"), "roles": ["viewer"] })).await),
        ("role name with NUL", api.post("/v1/users", &json!({ "email": "r@acme.test", "roles": [format!("viewer{nul}")] })).await),
        ("patch display name with NUL", api.patch(&user, &json!({ "display_name": format!("a{nul}b") })).await),
        ("patch roles with NUL", api.patch(&user, &json!({ "roles": [format!("view{nul}er")] })).await),
        ("role description with NUL", api.post("/v1/roles", &json!({ "name": "nul", "description": format!("a{nul}b"), "permissions": ["jobs.read"] })).await),
        ("patch role description with NUL", api.patch(&role, &json!({ "description": format!("a{nul}b") })).await),
        ("login tenant with NUL", anon.post("/v1/auth/login", &json!({ "tenant": format!("ac{nul}me"), "email": "a@acme.test", "password": "x" })).await),
        ("login email with NUL", anon.post("/v1/auth/login", &json!({ "tenant": "acme", "email": format!("a{nul}@acme.test"), "password": "x" })).await),
        ("login password with NUL", anon.post("/v1/auth/login", &json!({ "tenant": "acme", "email": "a@acme.test", "password": format!("x{nul}") })).await),
        ("refresh token with NUL", anon.post("/v1/auth/refresh", &json!({ "refresh_token": format!("vfr_{}_{}{nul}", uuid::Uuid::nil().simple(), "A".repeat(42)) })).await),
        ("invite token with NUL", anon.post("/v1/auth/accept-invite", &json!({ "token": format!("vfi_{}_{nul}", uuid::Uuid::nil().simple()), "password": "long-enough-1" })).await),
        ("search with NUL", api.get("/v1/users?q=%00").await),
        ("status filter with NUL", api.get("/v1/users?status=%00").await),
        ("tenant name with NUL", operator.post("/v1/operator/tenants", &json!({ "name": format!("a{nul}b"), "slug": "nul", "admin_email": "o@nul.test", "admin_password": "long-enough-1" })).await),
        ("tenant time zone with NUL", operator.post("/v1/operator/tenants", &json!({ "name": "n", "slug": "nul2", "time_zone": format!("Europe/Ber{nul}lin"), "admin_email": "o@nul.test", "admin_password": "long-enough-1" })).await),
    ];
    for (what, response) in &cases {
        checks.client_error(what, response);
    }
    checks.finish();
    api.get("/v1/me").await.expect_status(200);
}

/// Odd headers and oversized collections: a 4xx, never a 500.
#[tokio::test]
async fn odd_headers_and_huge_collections_are_never_500() {
    let f = fixture().await;
    let api = f.server.client_for(&f.owner);
    let anon = f.server.anon();
    let mut checks = Checks::default();
    let user = format!("/v1/users/{}", f.user);
    let cases: Vec<(&str, Resp)> = vec![
        ("10 000 roles", api.post("/v1/users", &json!({ "email": "many@acme.test", "roles": vec!["viewer"; 10_000] })).await),
        ("10 000 unknown roles", api.post("/v1/users", &json!({ "email": "many@acme.test", "roles": (0..10_000).map(|i| format!("r{i}")).collect::<Vec<_>>() })).await),
        ("email of 100 000 characters", api.post("/v1/users", &json!({ "email": format!("{}@acme.test", "a".repeat(100_000)), "roles": ["viewer"] })).await),
        ("password of 100 000 characters", anon.post("/v1/auth/login", &json!({ "tenant": "acme", "email": "a@acme.test", "password": "p".repeat(100_000) })).await),
        ("slug of 100 000 characters", anon.post("/v1/auth/login", &json!({ "tenant": "s".repeat(100_000), "email": "a@acme.test", "password": "x" })).await),
        ("non-ASCII If-Match", send(api.request(Method::PATCH, &user).header("if-match", reqwest::header::HeaderValue::from_bytes(b"\"\xe9\"").unwrap()).json(&json!({ "display_name": "x" }))).await),
        ("empty bearer", send(f.server.anon().request(Method::GET, "/v1/me").header("authorization", "Bearer ")).await),
        ("basic auth", send(f.server.anon().request(Method::GET, "/v1/me").header("authorization", "Basic YTpi")).await),
        ("non-ASCII bearer", send(f.server.anon().request(Method::GET, "/v1/me").header("authorization", reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap())).await),
        ("operator token with a tenant route", send(f.server.anon().request(Method::GET, "/v1/me").bearer_auth(&f.server.operator_token)).await),
    ];
    for (what, response) in &cases {
        checks.client_error(what, response);
    }
    let many = api.post("/v1/roles", &json!({ "name": "many", "permissions": (0..10_000).map(|i| format!("p.x{i}")).collect::<Vec<_>>() })).await;
    checks.no_server_error("a role with 10 000 permissions", &many);
    checks.finish();
    // The server is still healthy.
    api.get("/v1/me").await.expect_status(200);
}
