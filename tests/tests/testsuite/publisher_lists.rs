//! What a publisher's answers reveal, through the real server. Sharing names a tenant by slug
//! and is answered alike whether or not such a tenant exists (answer, list, withdrawal), so a
//! publisher cannot enumerate the platform's customers; a share made before the tenant exists
//! reaches that tenant when the operator creates it, and never another; the operator keeps its
//! precise answer. Every publisher list pages with `limit` and an opaque `cursor`.

use verofield_tests::*;

const TOOL: &str = "/v1/modules/acme/tool/1.0.0";

async fn owner_api(server: &TestServer, tenant: &TenantFixture) -> Api {
    server.client_for(&server.login_owner(tenant).await.access)
}

/// A server with built-ins, tenants `{prefix}-a` and `{prefix}-b`, the `acme` publisher and
/// its `acme/tool` version's shares path.
async fn world(prefix: &str) -> (TestServer, PublisherFixture, [TenantFixture; 2], String) {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let a = server.create_tenant(&format!("{prefix}-a")).await;
    let b = server.create_tenant(&format!("{prefix}-b")).await;
    let acme = server.create_publisher("acme").await;
    let digest = acme.publish(&fixture_component("acme-tool")).await;
    let shares = format!("/v1/publisher/modules/{digest}/shares");
    (server, acme, [a, b], shares)
}

/// The share list's tenants, in order.
async fn shared_with(acme: &PublisherFixture, shares: &str) -> Vec<String> {
    let listed = acme.api.get(shares).await;
    listed.expect_status(200);
    let items = listed.json["items"].as_array().unwrap();
    items
        .iter()
        .map(|s| s["tenant"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sharing_answers_alike_whether_or_not_the_tenant_exists() {
    let (server, acme, [a_tenant, _], shares) = world("alike").await;
    let known = acme
        .api
        .post(&shares, &json!({"tenant": a_tenant.slug}))
        .await;
    let unknown = acme
        .api
        .post(&shares, &json!({"tenant": "alike-nobody"}))
        .await;
    known.expect_status(201);
    unknown.expect_status(201);
    assert_eq!(known.json["digest"], unknown.json["digest"]);
    let keys = |r: &Resp| {
        r.json
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(
        shared_with(&acme, &shares).await,
        [a_tenant.slug.as_str(), "alike-nobody"]
    );
    // Only a slug no tenant could have is refused, and that says nothing.
    (acme
        .api
        .post(&shares, &json!({"tenant": "Not A Slug"}))
        .await)
        .expect_problem(422, "validation_failed");

    let a = owner_api(&server, &a_tenant).await;
    a.get(TOOL).await.expect_status(200);
    for slug in [a_tenant.slug.as_str(), "alike-nobody"] {
        acme.api
            .delete(&format!("{shares}/{slug}"))
            .await
            .expect_status(204);
        (acme.api.delete(&format!("{shares}/{slug}")).await).expect_problem(404, "not_found");
    }
    a.get(TOOL).await.expect_problem(404, "not_found");
    assert!(shared_with(&acme, &shares).await.is_empty());

    // The operator, who sees every tenant anyway, is told precisely.
    let digest = shares.split('/').nth(4).unwrap();
    let operator_shares = format!("/v1/operator/modules/{digest}/shares");
    let refused = server
        .operator()
        .post(&operator_shares, &json!({"tenant": "alike-nobody"}))
        .await;
    refused.expect_problem(422, "validation_failed");
    assert!(
        refused.text.contains("no tenant `alike-nobody`"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_share_waits_for_its_tenant_and_reaches_no_other() {
    let (server, acme, [a_tenant, b_tenant], shares) = world("later").await;
    acme.api
        .post(&shares, &json!({"tenant": "later-c"}))
        .await
        .expect_status(201);
    let c_tenant = server.create_tenant("later-c").await;
    let (a, b, c) = (
        owner_api(&server, &a_tenant).await,
        owner_api(&server, &b_tenant).await,
        owner_api(&server, &c_tenant).await,
    );
    c.get(TOOL).await.expect_status(200);
    consent_and_bind(&c, "acme-tool", "acme/tool", "1.0.0").await;
    c.get("/v1/acme-tool/hello").await.expect_status(200);
    for other in [&a, &b] {
        other.get(TOOL).await.expect_problem(404, "not_found");
        other
            .get("/v1/acme-tool/hello")
            .await
            .expect_problem(404, "not_found");
    }

    // The operator's share is the operator's: the publisher cannot withdraw (or probe) it.
    let digest = shares.split('/').nth(4).unwrap();
    let operator_shares = format!("/v1/operator/modules/{digest}/shares");
    (server
        .operator()
        .post(&operator_shares, &json!({"tenant": b_tenant.slug}))
        .await)
        .expect_status(201);
    (acme
        .api
        .delete(&format!("{shares}/{}", b_tenant.slug))
        .await)
        .expect_problem(404, "not_found");
    b.get(TOOL).await.expect_status(200);
}

#[tokio::test]
async fn publisher_lists_page_with_limit_and_cursor() {
    let (_server, acme, _, _) = world("pages").await;
    for fixture in ["acme-tool-patch", "acme-tool-v2"] {
        acme.publish(&fixture_component(fixture)).await;
    }
    for name in ["ci", "laptop"] {
        (acme
            .api
            .post("/v1/publisher/keys", &json!({"name": name}))
            .await)
            .expect_status(201);
    }
    for list in ["/v1/publisher/modules", "/v1/publisher/keys"] {
        let first = acme.api.get(&format!("{list}?limit=2")).await;
        first.expect_status(200);
        assert_eq!(first.json["items"].as_array().unwrap().len(), 2, "{list}");
        let cursor = first.json["next_cursor"].as_str().unwrap();
        let second = acme
            .api
            .get(&format!("{list}?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(second.json["items"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(second.json["next_cursor"], Value::Null, "{list}");
        let all = acme.api.get(list).await.json["items"].clone();
        let items = |page: &Resp| page.json["items"].as_array().unwrap().clone();
        let paged = [items(&first), items(&second)].concat();
        assert_eq!(
            all.as_array().unwrap(),
            &paged,
            "{list}: the pages are the list, in order"
        );
    }
    let versions = acme.api.get("/v1/publisher/modules").await.json["items"].clone();
    let order: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["1.0.0", "1.0.1", "1.1.0"]);
}

#[tokio::test]
async fn a_hostile_limit_or_cursor_is_refused_naming_its_field() {
    let (_server, acme, _, shares) = world("hostile").await;
    let long = "A".repeat(5000);
    for list in [
        "/v1/publisher/modules",
        "/v1/publisher/members",
        "/v1/publisher/keys",
        &shares,
    ] {
        for query in ["limit=0", "limit=201", "limit=-1"] {
            let refused = acme.api.get(&format!("{list}?{query}")).await;
            refused.expect_problem(400, "invalid_query_parameter");
            assert_eq!(
                refused.json["errors"][0]["field"], "limit",
                "{list}?{query}"
            );
        }
        for cursor in ["!!!", "AAAA", long.as_str(), "%00"] {
            let refused = acme.api.get(&format!("{list}?cursor={cursor}")).await;
            refused.expect_problem(400, "invalid_cursor");
            assert_eq!(
                refused.json["errors"][0]["field"], "cursor",
                "{list}?cursor={cursor:.20}"
            );
        }
    }
    // A cursor of an id-ordered list (16 zero bytes) is not a version list's cursor.
    let id_cursor = "AAAAAAAAAAAAAAAAAAAAAA";
    (acme
        .api
        .get(&format!("/v1/publisher/keys?cursor={id_cursor}"))
        .await)
        .expect_status(200);
    (acme
        .api
        .get(&format!("/v1/publisher/modules?cursor={id_cursor}"))
        .await)
        .expect_problem(400, "invalid_cursor");
}
