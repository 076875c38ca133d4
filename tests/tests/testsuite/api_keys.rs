//! Tenant API keys (issue 21, item 6) against the real server: created and shown once, never
//! again (not in lists, reads, the audit log nor the database); usable as `Bearer vfk_...`
//! on the routes their permissions allow and refused on the others; never more than their
//! creator holds, then or later; revoked and expired keys are 401 like any bad token; and
//! another tenant can neither see tenant A's keys nor be reached with them.

use sqlx::Row;
use verofield_tests::*;

fn key_of(created: &Value) -> String {
    created["key"]
        .as_str()
        .expect("the key is shown")
        .to_owned()
}

#[tokio::test]
async fn create_list_show_use_and_revoke() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("keys-a").await;
    let owner_token = server.login_owner(&tenant).await.access;
    let owner = server.client_for(&owner_token);

    let created = server
        .create_api_key(&owner_token, "erp sync", &["users.read", "users.manage"])
        .await;
    let key = key_of(&created);
    let id = json_uuid(&created["id"]).unwrap();
    assert!(key.starts_with(&format!("vfk_{}_", tenant.id.simple())));
    assert_eq!(key.len(), 4 + 32 + 1 + 64);
    let prefix = created["prefix"].as_str().unwrap();
    assert!(key.starts_with(prefix) && prefix.len() < key.len() - 32);
    assert_eq!(created["created_by"], json!(tenant.owner_id.to_string()));
    assert_eq!(
        created["permissions"],
        json!(["users.manage", "users.read"])
    );
    assert_eq!(created["last_used_at"], Value::Null);
    let secret_part = &key[key.len() - 40..];

    let listed = owner.get("/v1/api-keys").await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.json["items"][0]["name"], json!("erp sync"));
    assert!(listed.json["items"][0].get("key").is_none());
    assert!(!listed.text.contains(secret_part));

    // The key works where its permissions allow, and is 403 elsewhere.
    let with_key = server.client_for(&key);
    with_key.get("/v1/users").await.expect_status(200);
    with_key
        .get("/v1/audit")
        .await
        .expect_problem(403, "permission_denied");
    with_key
        .post(
            "/v1/api-keys",
            &json!({"name": "more", "permissions": ["users.read"]}),
        )
        .await
        .expect_problem(403, "permission_denied");
    let document = with_key.get("/v1/openapi.json").await;
    document.expect_status(200);
    for (path, method) in [("/v1/api-keys", "post"), ("/v1/api-keys/{id}", "delete")] {
        assert_eq!(
            document.json["paths"][path][method]["x-permission"],
            json!("api_keys.manage"),
            "{path}"
        );
    }
    let me = with_key.get("/v1/me").await;
    me.expect_status(200);
    assert_eq!(me.json["api_key_id"], json!(id.to_string()));
    assert_eq!(me.json["user_id"], json!(tenant.owner_id.to_string()));
    // A key is not a refresh token: the routes of people's sessions do not take it.
    server
        .anon()
        .post("/v1/auth/refresh", &json!({ "refresh_token": key }))
        .await
        .expect_problem(401, "invalid_refresh_token");

    // Changes made with the key are attributed to it in the audit log. (It may grant only
    // roles within itself: the viewer role holds more than the key.)
    let user = json!({"email": "bot-made@keys-a.test", "roles": ["viewer"]});
    with_key
        .post("/v1/users", &user)
        .await
        .expect_problem(403, "role_escalation");
    owner
        .post(
            "/v1/roles",
            &json!({"name": "reader", "permissions": ["users.read"]}),
        )
        .await
        .expect_status(201);
    let made = with_key
        .post(
            "/v1/users",
            &json!({"email": "bot-made@keys-a.test", "roles": ["reader"]}),
        )
        .await;
    made.expect_status(201);
    let shown = owner.get(&format!("/v1/api-keys/{id}")).await;
    shown.expect_status(200);
    assert!(shown.json.get("key").is_none());
    assert!(!shown.text.contains(secret_part));
    assert!(shown.json["last_used_at"].is_string(), "{}", shown.text);
    assert_eq!(shown.json["last_used_from"], json!("127.0.0.1"));

    owner
        .delete(&format!("/v1/api-keys/{id}"))
        .await
        .expect_status(204);
    with_key
        .get("/v1/users")
        .await
        .expect_problem(401, "invalid_token");
    owner
        .get(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");
    owner
        .delete(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");

    let audit = owner.get("/v1/audit").await;
    audit.expect_status(200);
    assert!(!audit.text.contains(secret_part), "{}", audit.text);
    let entries = audit.json["items"].as_array().unwrap();
    let entry = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == json!(action))
            .unwrap_or_else(|| panic!("no {action} in {}", audit.text))
            .clone()
    };
    assert_eq!(entry("api_key.created")["target_id"], json!(id.to_string()));
    assert_eq!(entry("api_key.created")["details"]["prefix"], json!(prefix));
    assert_eq!(entry("api_key.revoked")["target_id"], json!(id.to_string()));
    let by_key = entry("user.created");
    assert_eq!(by_key["actor_api_key_id"], json!(id.to_string()));
    assert_eq!(by_key["actor_user_id"], json!(tenant.owner_id.to_string()));
    assert_eq!(entry("api_key.created")["actor_api_key_id"], Value::Null);

    // Stored hashed: no column of any key row holds the secret.
    let mut db = server.db().await;
    let rows = sqlx::query("SELECT to_jsonb(k)::text AS row FROM api_keys k")
        .fetch_all(&mut db)
        .await
        .unwrap();
    for row in rows {
        let text: String = row.get("row");
        assert!(!text.contains(secret_part), "{text}");
    }
}

#[tokio::test]
async fn a_key_never_carries_more_than_its_creator() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("keys-b").await;
    let owner_token = server.login_owner(&tenant).await.access;
    let owner = server.client_for(&owner_token);
    let role = owner
        .post(
            "/v1/roles",
            &json!({"name": "integrator", "permissions": ["api_keys.manage", "users.read"]}),
        )
        .await;
    role.expect_status(201);
    let role_id = role.uuid("id");
    let user = server
        .create_user(
            &owner_token,
            "integrator@keys-b.test",
            &["integrator"],
            Some("integrator-password-1"),
        )
        .await;
    let user_id = json_uuid(&user["id"]).unwrap();
    let integrator = server
        .login(
            &tenant.slug,
            "integrator@keys-b.test",
            "integrator-password-1",
        )
        .await
        .access;
    let api = server.client_for(&integrator);

    // A dispatcher holds no `api_keys.manage`.
    server
        .create_user(
            &owner_token,
            "disp@keys-b.test",
            &["dispatcher"],
            Some("dispatcher-pw-12"),
        )
        .await;
    let dispatcher = server
        .login(&tenant.slug, "disp@keys-b.test", "dispatcher-pw-12")
        .await
        .access;
    server
        .client_for(&dispatcher)
        .post(
            "/v1/api-keys",
            &json!({"name": "x", "permissions": ["users.read"]}),
        )
        .await
        .expect_problem(403, "permission_denied");

    // More than the creator holds: 422 naming the permission.
    let refused = api
        .post(
            "/v1/api-keys",
            &json!({"name": "too much", "permissions": ["users.read", "audit.read"]}),
        )
        .await;
    refused.expect_problem(422, "validation_failed");
    assert!(refused.text.contains("audit.read"), "{}", refused.text);
    assert!(!refused.text.contains("`users.read`"), "{}", refused.text);
    for bad in [json!(["*"]), json!([]), json!(["Not A Permission"])] {
        api.post("/v1/api-keys", &json!({"name": "bad", "permissions": bad}))
            .await
            .expect_problem(422, "validation_failed");
    }
    api.post(
        "/v1/api-keys",
        &json!({"name": "past", "permissions": ["users.read"], "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await
    .expect_problem(422, "validation_failed");

    let parent = server
        .create_api_key(&integrator, "parent", &["api_keys.manage", "users.read"])
        .await;
    let parent_id = json_uuid(&parent["id"]).unwrap();
    let parent_key = key_of(&parent);
    assert_eq!(parent["created_by"], json!(user_id.to_string()));

    // A key creates keys only within itself, and is named as their maker.
    let with_parent = server.client_for(&parent_key);
    let wider = with_parent
        .post(
            "/v1/api-keys",
            &json!({"name": "wider", "permissions": ["users.read", "users.manage"]}),
        )
        .await;
    wider.expect_problem(422, "validation_failed");
    assert!(wider.text.contains("users.manage"), "{}", wider.text);
    let child = server
        .create_api_key(&parent_key, "child", &["users.read"])
        .await;
    assert_eq!(child["created_by_api_key_id"], json!(parent_id.to_string()));
    assert_eq!(child["created_by"], json!(user_id.to_string()));
    let with_child = server.client_for(&key_of(&child));
    with_child.get("/v1/users").await.expect_status(200);

    // The creator loses `users.read`: so do their keys, on the next request.
    owner
        .patch(
            &format!("/v1/roles/{role_id}"),
            &json!({"permissions": ["api_keys.manage"]}),
        )
        .await
        .expect_status(200);
    with_child
        .get("/v1/users")
        .await
        .expect_problem(403, "permission_denied");
    with_parent.get("/v1/api-keys").await.expect_status(200);

    // A deactivated creator disables their keys.
    owner
        .delete(&format!("/v1/users/{user_id}"))
        .await
        .expect_status(204);
    with_parent
        .get("/v1/api-keys")
        .await
        .expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn expired_and_unknown_keys_get_the_answer_of_any_bad_token() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("keys-c").await;
    let owner_token = server.login_owner(&tenant).await.access;
    let created = server
        .client_for(&owner_token)
        .post(
            "/v1/api-keys",
            &json!({"name": "short", "permissions": ["users.read"], "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    created.expect_status(201);
    assert_eq!(created.json["expires_at"], json!("2999-01-01T00:00:00Z"));
    let key = key_of(&created.json);
    let with_key = server.client_for(&key);
    with_key.get("/v1/users").await.expect_status(200);

    // Expire it without waiting.
    let mut db = server.db().await;
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second'")
        .execute(&mut db)
        .await
        .unwrap();
    let expired = with_key.get("/v1/users").await;
    expired.expect_problem(401, "invalid_token");

    let unknown = format!("vfk_{}_{}", tenant.id.simple(), "ab".repeat(32));
    let malformed = "vfk_not-a-key".to_owned();
    let jwt = "eyJhbGciOiJIUzI1NiJ9.e30.bm90LWEtc2lnbmF0dXJl".to_owned();
    for other in [unknown, malformed, jwt] {
        let answer = server.client_for(&other).get("/v1/users").await;
        assert_eq!(answer.status, expired.status);
        assert_eq!(answer.json, expired.json, "{other}");
    }
}

#[tokio::test]
async fn another_tenant_never_sees_or_is_reached_by_a_key() {
    let server = TestServer::start().await;
    let a = server.create_tenant("keys-acme").await;
    let b = server.create_tenant("keys-bravo").await;
    let token_a = server.login_owner(&a).await.access;
    let token_b = server.login_owner(&b).await.access;
    let owner_b = server.client_for(&token_b);
    let created = server
        .create_api_key(&token_a, "acme sync", &["users.read", "api_keys.manage"])
        .await;
    let id = json_uuid(&created["id"]).unwrap();
    let key_a = key_of(&created);

    // B's owner cannot list, read or revoke A's key.
    let listed = owner_b.get("/v1/api-keys").await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"], json!([]));
    owner_b
        .get(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");
    owner_b
        .delete(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");

    // A's key sees A's data only, and A's key for B's tenant is no key at all.
    let with_a = server.client_for(&key_a);
    let users = with_a.get("/v1/users").await;
    users.expect_status(200);
    assert!(!users.text.contains(&b.owner_email), "{}", users.text);
    with_a
        .get(&format!("/v1/users/{}", b.owner_id))
        .await
        .expect_problem(404, "not_found");
    with_a.get("/v1/api-keys").await.expect_status(200);
    let retargeted = key_a.replace(&a.id.simple().to_string(), &b.id.simple().to_string());
    server
        .client_for(&retargeted)
        .get("/v1/users")
        .await
        .expect_problem(401, "invalid_token");

    // B's own key cannot reach A's key either.
    let key_b = key_of(
        &server
            .create_api_key(&token_b, "bravo sync", &["api_keys.manage"])
            .await,
    );
    let with_b = server.client_for(&key_b);
    with_b
        .get(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");
    with_b
        .delete(&format!("/v1/api-keys/{id}"))
        .await
        .expect_problem(404, "not_found");
    let mine = with_b.get("/v1/api-keys").await;
    assert_eq!(mine.json["items"].as_array().unwrap().len(), 1);
    assert_ne!(json_uuid(&mine.json["items"][0]["id"]), Some(id));
    // A's key still works: nothing B did reached it.
    with_a.get("/v1/users").await.expect_status(200);
}

#[tokio::test]
async fn a_key_reaches_the_module_routes_its_permissions_allow() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let a = server.create_tenant("keys-crm-a").await;
    let b = server.create_tenant("keys-crm-b").await;
    let owner_a = server.login_owner(&a).await.access;
    let owner_b = server.login_owner(&b).await.access;
    let customer = server
        .client_for(&owner_a)
        .post("/v1/crm/customers", &json!({"name": "Ada Lovelace"}))
        .await;
    customer.expect_status(201);
    let customer_id = customer.uuid("id");

    let reader = server
        .create_api_key(&owner_a, "crm reader", &["crm.customers.read"])
        .await;
    let with_key = server.client_for(&key_of(&reader));
    let listed = with_key.get("/v1/crm/customers").await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    with_key
        .get(&format!("/v1/crm/customers/{customer_id}"))
        .await
        .expect_status(200);
    with_key
        .post("/v1/crm/customers", &json!({"name": "Not Allowed"}))
        .await
        .expect_problem(403, "permission_denied");

    // Tenant B's key with the same permission sees none of A's customers.
    let other = server
        .create_api_key(&owner_b, "crm reader", &["crm.customers.read"])
        .await;
    let with_other = server.client_for(&key_of(&other));
    with_other
        .get(&format!("/v1/crm/customers/{customer_id}"))
        .await
        .expect_status(404);
    assert_eq!(
        with_other.get("/v1/crm/customers").await.json["items"],
        json!([])
    );
}
