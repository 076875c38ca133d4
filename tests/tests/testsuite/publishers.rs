//! Publishers through the real server: the operator creates one, its owner invites a member
//! who uploads; a private version is seen, consented to, bound and called only by the tenants
//! it is shared with until the operator approves it; publishing keys and tenant credentials
//! never cross; a publisher reaches nothing of another's; each refused upload names its
//! reason; an upgrade that asks for more needs consent again; the tenants running a version
//! are counted, and named only when they agreed.

use verofield_tests::*;

const SLOT: &str = "acme-tool";
const TOOL: &str = "acme/tool";

async fn owner_api(server: &TestServer, tenant: &TenantFixture) -> Api {
    server.client_for(&server.login_owner(tenant).await.access)
}

fn listed(page: &Resp, digest: &str) -> bool {
    page.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["digest"] == digest)
}

/// A server with built-ins, two tenants and the `acme` publisher.
async fn world(prefix: &str) -> (TestServer, PublisherFixture, [TenantFixture; 2]) {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let a = server.create_tenant(&format!("{prefix}-a")).await;
    let b = server.create_tenant(&format!("{prefix}-b")).await;
    let acme = server.create_publisher("acme").await;
    (server, acme, [a, b])
}

#[tokio::test]
async fn a_member_uploads_a_private_version_only_the_shared_tenant_sees_binds_and_calls() {
    let (server, acme, [a_tenant, b_tenant]) = world("pub").await;
    let invited = acme
        .api
        .post("/v1/publisher/members", &json!({"email": "eve@acme.test"}))
        .await;
    invited.expect_status(201);
    let token = invited.json["invitation_token"].as_str().unwrap();
    let accept = json!({"token": token});
    let accepted = server
        .anon()
        .post("/v1/publisher/accept-invite", &accept)
        .await;
    accepted.expect_status(201);
    let member = server.client_for(accepted.json["key"]["secret"].as_str().unwrap());
    // The invitation is used up.
    (server
        .anon()
        .post("/v1/publisher/accept-invite", &accept)
        .await)
        .expect_problem(401, "invalid_invitation");

    let uploaded = send(
        member
            .request(Method::POST, "/v1/publisher/modules?notes=hello")
            .header("content-type", "application/wasm")
            .body(fixture_component("acme-tool")),
    )
    .await;
    uploaded.expect_status(201);
    assert_eq!(uploaded.json["visibility"], "private", "{}", uploaded.text);
    assert_eq!(uploaded.json["notes"], "hello");
    assert_eq!(uploaded.json["validation"]["passed"], true);
    assert_eq!(uploaded.json["conformance"]["status"], "not_applicable");
    let digest = uploaded.json["digest"].as_str().unwrap().to_owned();
    acme.share(&digest, &a_tenant.slug).await;

    let (a, b) = (
        owner_api(&server, &a_tenant).await,
        owner_api(&server, &b_tenant).await,
    );
    let detail = a.get("/v1/modules/acme/tool/1.0.0").await;
    detail.expect_status(200);
    assert_eq!(detail.json["publisher"]["namespace"], "acme");
    assert_eq!(detail.json["description"], "Says hello to your customers");
    assert_eq!(
        detail.json["grants"]["tables"]["read"],
        json!(["crm_customers"])
    );
    assert_eq!(
        detail.json["grants"]["permissions"],
        json!(["acme.tool.read"])
    );
    assert!(listed(&a.get("/v1/modules").await, &digest));

    // Tenant B: nothing, answered as for a version that does not exist.
    b.get("/v1/modules/acme/tool/1.0.0")
        .await
        .expect_problem(404, "not_found");
    assert!(!listed(&b.get("/v1/modules").await, &digest));
    let missing = bind_with(&b, SLOT, &json!({"version": "acme/tool@9.9.9"})).await;
    let refused = bind_with(&b, SLOT, &json!({"version": "acme/tool@1.0.0"})).await;
    refused.expect_problem(422, "validation_failed");
    assert_eq!(refused.json["errors"], missing.json["errors"]);

    // Tenant A: binding needs the grants accepted; then its clients call the routes.
    let unconsented = bind_with(&a, SLOT, &json!({"version": "acme/tool@1.0.0"})).await;
    unconsented.expect_problem(422, "consent_required");
    assert_eq!(unconsented.json["grants"], detail.json["grants"]);
    consent_and_bind(&a, SLOT, TOOL, "1.0.0").await;
    let hello = a.get("/v1/acme-tool/hello").await;
    hello.expect_status(200);
    assert_eq!(hello.json["served_by"], "acme-tool@1.0.0");
    b.get("/v1/acme-tool/hello")
        .await
        .expect_problem(404, "not_found");
    let audit = a.get("/v1/audit").await.text;
    assert!(
        audit.contains("module.consented") && audit.contains("module.bound"),
        "{audit}"
    );

    // Approved: every tenant sees it.
    let approve = format!("/v1/operator/modules/{digest}/approve");
    let approved = server.operator().post(&approve, &json!({})).await;
    approved.expect_status(200);
    assert_eq!(approved.json["visibility"], "public");
    b.get("/v1/modules/acme/tool/1.0.0")
        .await
        .expect_status(200);
    assert!(listed(&b.get("/v1/modules").await, &digest));
}

#[tokio::test]
async fn removing_a_member_revokes_their_keys_and_only_owners_manage_members() {
    let (server, acme, _) = world("members").await;
    let invited = acme
        .api
        .post("/v1/publisher/members", &json!({"email": "bob@acme.test"}))
        .await;
    let token = invited.json["invitation_token"].as_str().unwrap();
    let accepted = (server.anon())
        .post("/v1/publisher/accept-invite", &json!({"token": token}))
        .await;
    let bob = server.client_for(accepted.json["key"]["secret"].as_str().unwrap());
    let member = format!(
        "/v1/publisher/members/{}",
        invited.json["member"]["id"].as_str().unwrap()
    );
    let invite = json!({"email": "mallory@acme.test"});
    (bob.post("/v1/publisher/members", &invite).await)
        .expect_problem(403, "publisher_owner_required");
    bob.delete(&member)
        .await
        .expect_problem(403, "publisher_owner_required");

    acme.api.delete(&member).await.expect_status(204);
    bob.get("/v1/publisher")
        .await
        .expect_problem(401, "invalid_token");
    let members = acme.api.get("/v1/publisher/members").await;
    assert_eq!(
        members.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        members.text
    );
}

#[tokio::test]
async fn publishing_keys_and_tenant_credentials_never_cross() {
    let (server, acme, [tenant, _]) = world("cross").await;
    let owner = server.login_owner(&tenant).await.access;
    let api_key = server
        .create_api_key(&owner, "ci", &["modules.manage"])
        .await;
    for tenant_route in [
        "/v1/modules",
        "/v1/users",
        "/v1/tenant/modules",
        "/v1/crm/customers",
    ] {
        acme.api
            .get(tenant_route)
            .await
            .expect_problem(401, "invalid_token");
    }
    for credential in [owner.as_str(), api_key["key"].as_str().unwrap()] {
        let tenant_client = server.client_for(credential);
        for publisher_route in [
            "/v1/publisher",
            "/v1/publisher/modules",
            "/v1/publisher/keys",
        ] {
            tenant_client
                .get(publisher_route)
                .await
                .expect_problem(401, "invalid_token");
        }
    }
    // A revoked key is 401 at once.
    let key = acme
        .api
        .post("/v1/publisher/keys", &json!({"name": "ci"}))
        .await;
    key.expect_status(201);
    let ci = server.client_for(key.json["secret"].as_str().unwrap());
    ci.get("/v1/publisher").await.expect_status(200);
    let revoke = format!("/v1/publisher/keys/{}", key.json["id"].as_str().unwrap());
    acme.api.delete(&revoke).await.expect_status(204);
    ci.get("/v1/publisher")
        .await
        .expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_publisher_reaches_nothing_of_another_and_uploads_only_in_its_namespace() {
    let (server, acme, [tenant, _]) = world("ns").await;
    let other = server.create_publisher("globex").await;
    let digest = acme.publish(&fixture_component("acme-tool")).await;

    let foreign = other.upload(&fixture_component("acme-tool-patch")).await;
    foreign.expect_problem(422, "module_namespace_refused");
    assert!(
        foreign.json["detail"]
            .as_str()
            .unwrap()
            .contains("globex/<module>")
    );
    let bare = other.upload(&fixture_component("crm-partner")).await;
    bare.expect_problem(422, "module_namespace_refused");

    let theirs = format!("/v1/publisher/modules/{digest}");
    other
        .api
        .get(&theirs)
        .await
        .expect_problem(404, "not_found");
    let share = json!({"tenant": tenant.slug});
    (other.api.post(&format!("{theirs}/shares"), &share).await).expect_problem(404, "not_found");
    (other.api.get(&format!("{theirs}/shares")).await).expect_problem(404, "not_found");
    let unshare = format!("{theirs}/shares/{}", tenant.slug);
    other
        .api
        .delete(&unshare)
        .await
        .expect_problem(404, "not_found");
    let listed_by_other = other.api.get("/v1/publisher/modules").await;
    assert!(
        !listed(&listed_by_other, &digest),
        "{}",
        listed_by_other.text
    );
    assert!(listed(
        &acme.api.get("/v1/publisher/modules").await,
        &digest
    ));
}

/// The acme-tool component with a custom section appended: other bytes, same manifest.
fn same_version_other_bytes() -> Vec<u8> {
    let mut bytes = fixture_component("acme-tool");
    bytes.extend_from_slice(&[0, 5, 4, b'n', b'o', b't', b'e']);
    bytes
}

#[tokio::test]
async fn each_refused_upload_names_its_reason() {
    let (_server, acme, _) = world("refused").await;
    let future_wit = wat::parse_str(
        r#"(component (instance $i) (export "verofield:platform/module@0.2.0" (instance $i)))"#,
    )
    .unwrap();
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"MZ not wasm".to_vec(),
            "module_not_wasm",
            "application/wasm",
        ),
        (
            wat::parse_str("(module)").unwrap(),
            "module_not_component",
            "wasm32-wasip2",
        ),
        (
            fixture_component("acme-fs-probe"),
            "module_import_refused",
            "wasi:filesystem/",
        ),
        (
            fixture_component("acme-net-probe"),
            "module_import_refused",
            "wasi:sockets/",
        ),
        (future_wit, "module_wit_unsupported", "0.1.x"),
        (
            fixture_component("acme-overreach"),
            "module_permission_outside_namespace",
            "crm.customers.read",
        ),
        (
            fixture_component("acme-users-grant"),
            "module_grant_refused",
            "`users`",
        ),
    ];
    for (component, code, named) in cases {
        let refused = acme.upload(&component).await;
        refused.expect_problem(422, code);
        let detail = refused.json["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{code}: {detail}");
    }
    let first = acme.publish(&fixture_component("acme-tool")).await;
    // The same bytes again: the same version.
    assert_eq!(acme.publish(&fixture_component("acme-tool")).await, first);
    (acme.upload(&same_version_other_bytes()).await).expect_problem(409, "version_exists");
    assert_eq!(
        acme.api.get("/v1/publisher/modules").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing refused was recorded"
    );
}

#[tokio::test]
async fn an_upgrade_asking_for_more_needs_consent_again_and_the_tenant_stays_meanwhile() {
    let (server, acme, [tenant, _]) = world("upgrade").await;
    for fixture in ["acme-tool", "acme-tool-patch", "acme-tool-v2"] {
        let digest = acme.publish(&fixture_component(fixture)).await;
        acme.share(&digest, &tenant.slug).await;
    }
    let api = owner_api(&server, &tenant).await;
    consent_and_bind(&api, SLOT, TOOL, "1.0.0").await;
    // 1.0.1 asks for nothing more: no new consent.
    let patch = bind_with(&api, SLOT, &json!({"version": "acme/tool@1.0.1"})).await;
    patch.expect_status(200);

    let more = bind_with(&api, SLOT, &json!({"version": "acme/tool@1.1.0"})).await;
    more.expect_problem(422, "consent_required");
    assert_eq!(
        more.json["grants"]["tables"]["write"],
        json!(["crm_customers"])
    );
    let stale_accept = json!({"version": "acme/tool@1.1.0",
                              "accept": grants_of(&api, TOOL, "1.0.0").await});
    (bind_with(&api, SLOT, &stale_accept).await).expect_problem(422, "consent_required");
    let serving = api.get("/v1/acme-tool/hello").await;
    assert_eq!(serving.json["served_by"], "acme-tool-patch@1.0.1");

    consent_and_bind(&api, SLOT, TOOL, "1.1.0").await;
    assert_eq!(
        api.get("/v1/acme-tool/hello").await.json["served_by"],
        "acme-tool-v2@1.1.0"
    );
    let rollback = format!("/v1/tenant/modules/{SLOT}/rollback");
    api.post(&rollback, &json!({})).await.expect_status(200);
    let audit = api.get("/v1/audit").await.text;
    assert!(audit.contains("module.rolled_back"), "{audit}");
}

#[tokio::test]
async fn tenants_running_a_version_are_counted_and_named_only_when_they_agreed() {
    let (server, acme, [a_tenant, b_tenant]) = world("count").await;
    let digest = acme.publish(&fixture_component("acme-tool")).await;
    server
        .operator()
        .post(
            &format!("/v1/operator/modules/{digest}/approve"),
            &json!({}),
        )
        .await
        .expect_status(200);
    for (tenant, named) in [(&a_tenant, true), (&b_tenant, false)] {
        let api = owner_api(&server, tenant).await;
        let grants = grants_of(&api, TOOL, "1.0.0").await;
        let body = json!({"version": "acme/tool@1.0.0", "accept": grants,
                          "name_me_to_publisher": named});
        bind_with(&api, SLOT, &body).await.expect_status(200);
    }
    let versions = acme.api.get("/v1/publisher/modules").await;
    let tenants = &versions.json["items"][0]["tenants"];
    assert_eq!(tenants["count"], 2, "{}", versions.text);
    assert_eq!(
        tenants["named"],
        json!([format!("Tenant {}", a_tenant.slug)])
    );
}
