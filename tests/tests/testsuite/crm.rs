//! The CRM module end to end: the real server publishes the built-in CRM component at
//! start-up and answers `/v1/crm/...` through it, with the store on PostgreSQL under RLS.
//! Another tenant reaches for every route and gets 404 with nothing changed; permissions are
//! checked by the host before the module runs; events land in the outbox with the data.
//!
//! Each scenario takes the [`Crm`] that serves its tenants, so that the same scenarios run
//! against the Python twin of the module (`python_crm`).

use serde_json::json;
use verofield_tests::{Api, ServerOptions, TenantFixture, TestServer, Tokens, bind};

/// Which CRM serves a scenario's tenants: the built-in, or a component uploaded by the
/// operator, shared with each tenant and bound to its `crm` slot.
#[derive(Clone, Copy)]
pub enum Crm {
    Builtin,
    Uploaded(&'static [u8]),
}

async fn server(crm: Crm) -> TestServer {
    let options = ServerOptions::new().with_builtin_modules();
    TestServer::start_with(match crm {
        Crm::Builtin => options,
        Crm::Uploaded(_) => options.large_uploads(),
    })
    .await
}

/// A new tenant served by `crm`, its owner's tokens and an API client for them.
async fn crm_tenant(server: &TestServer, slug: &str, crm: Crm) -> (TenantFixture, Tokens, Api) {
    let tenant = server.create_tenant(slug).await;
    let owner = server.login_owner(&tenant).await;
    let api = server.client_for(&owner.access);
    if let Crm::Uploaded(component) = crm {
        let digest = server.publish_module(component, &[slug]).await;
        bind(&api, "crm", &digest).await;
    }
    (tenant, owner, api)
}

#[tokio::test]
async fn customers_locations_and_contacts_through_the_module() {
    customers_locations_and_contacts(Crm::Builtin).await;
}

pub async fn customers_locations_and_contacts(crm: Crm) {
    let server = server(crm).await;
    let (tenant, owner, api) = crm_tenant(&server, "crm-a", crm).await;

    let created = api
        .post(
            "/v1/crm/customers",
            &json!({"name": "Ada Lovelace", "email": "ADA@example.com", "tags": ["vip"]}),
        )
        .await;
    created.expect_status(201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json["email"], json!("ada@example.com"));

    let fetched = api.get(&format!("/v1/crm/customers/{id}")).await;
    fetched.expect_status(200);
    assert_eq!(fetched.json["name"], json!("Ada Lovelace"));
    let found = api.get("/v1/crm/customers?q=lovelace").await;
    found.expect_status(200);
    assert_eq!(found.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/v1/crm/customers?q=nobody").await.json["items"],
        json!([])
    );

    // Validation is the module's: 422 with the field.
    let invalid = api.post("/v1/crm/customers", &json!({"name": ""})).await;
    invalid.expect_status(422);

    let location = api
        .post(
            &format!("/v1/crm/customers/{id}/locations"),
            &json!({"label": "Home", "address": {"line1": "12 St James's Square", "city": "London"}, "latitude": 51.507, "longitude": -0.134}),
        )
        .await;
    location.expect_status(201);
    let near = api
        .get("/v1/crm/locations?near=51.5,-0.13&radius_km=5")
        .await;
    near.expect_status(200);
    assert_eq!(near.json["items"].as_array().unwrap().len(), 1);

    let patched = send_patch(
        &server,
        &owner.access,
        &format!("/v1/crm/customers/{id}"),
        "\"1\"",
        json!({"notes": "gate code 1234"}),
    )
    .await;
    assert_eq!(patched, 200);
    let stale = send_patch(
        &server,
        &owner.access,
        &format!("/v1/crm/customers/{id}"),
        "\"1\"",
        json!({"notes": "x"}),
    )
    .await;
    assert_eq!(stale, 412);

    // The outbox holds the events, written with the data.
    let mut db = server.db().await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM event_outbox WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.id)
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(events, ["customer.created", "customer.updated"]);
}

async fn send_patch(
    server: &TestServer,
    token: &str,
    path: &str,
    if_match: &str,
    body: serde_json::Value,
) -> u16 {
    let request = server
        .client_for(token)
        .request(reqwest::Method::PATCH, path)
        .header("if-match", if_match)
        .json(&body);
    verofield_tests::send(request).await.status.as_u16()
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_route_and_changes_nothing() {
    another_tenant_gets_404_and_changes_nothing(Crm::Builtin).await;
}

pub async fn another_tenant_gets_404_and_changes_nothing(crm: Crm) {
    let server = server(crm).await;
    let (a, _, api_a) = crm_tenant(&server, "crm-owner", crm).await;
    let (_, _, api_b) = crm_tenant(&server, "crm-intruder", crm).await;
    let customer = api_a
        .post("/v1/crm/customers", &json!({"name": "Private Customer"}))
        .await;
    customer.expect_status(201);
    let id = customer.json["id"].as_str().unwrap().to_owned();
    let location = api_a
        .post(
            &format!("/v1/crm/customers/{id}/locations"),
            &json!({"label": "Site", "latitude": 40.0, "longitude": -74.0}),
        )
        .await;
    location.expect_status(201);
    let location_id = location.json["id"].as_str().unwrap().to_owned();
    let contact = api_a
        .post(
            &format!("/v1/crm/customers/{id}/contacts"),
            &json!({"name": "Pat"}),
        )
        .await;
    contact.expect_status(201);
    let contact_id = contact.json["id"].as_str().unwrap().to_owned();

    for path in [
        format!("/v1/crm/customers/{id}"),
        format!("/v1/crm/customers/{id}/locations"),
        format!("/v1/crm/customers/{id}/contacts"),
        format!("/v1/crm/locations/{location_id}"),
        format!("/v1/crm/contacts/{contact_id}"),
    ] {
        let response = api_b.get(&path).await;
        assert!(
            matches!(response.status.as_u16(), 404) || response.json["items"] == json!([]),
            "GET {path}: {}",
            response.text
        );
    }
    for (path, body) in [
        (format!("/v1/crm/customers/{id}"), json!({"name": "Stolen"})),
        (
            format!("/v1/crm/locations/{location_id}"),
            json!({"label": "Stolen"}),
        ),
        (
            format!("/v1/crm/contacts/{contact_id}"),
            json!({"name": "Stolen"}),
        ),
    ] {
        api_b.patch(&path, &body).await.expect_status(404);
        api_b.delete(&path).await.expect_status(404);
    }
    api_b
        .post(
            &format!("/v1/crm/customers/{id}/locations"),
            &json!({"label": "x"}),
        )
        .await
        .expect_status(404);
    assert_eq!(
        api_b.get("/v1/crm/customers").await.json["items"],
        json!([])
    );
    assert_eq!(
        api_b
            .get("/v1/crm/locations?near=40.0,-74.0&radius_km=10")
            .await
            .json["items"],
        json!([])
    );

    let mut db = server.db().await;
    let (name, version): (String, i64) = sqlx::query_as(
        "SELECT name, version FROM store.crm_customers WHERE tenant_id = $1 AND id = $2::uuid",
    )
    .bind(a.id)
    .bind(&id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((name.as_str(), version), ("Private Customer", 1));
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM store.crm_customers) + (SELECT count(*) FROM store.crm_locations)
              + (SELECT count(*) FROM store.crm_contacts)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(rows, 3, "tenant B created nothing and deleted nothing");
}

#[tokio::test]
async fn the_host_checks_route_permissions_before_the_module_runs() {
    the_host_checks_route_permissions(Crm::Builtin).await;
}

pub async fn the_host_checks_route_permissions(crm: Crm) {
    let server = server(crm).await;
    let (tenant, owner, owner_api) = crm_tenant(&server, "crm-perms", crm).await;
    server
        .create_user(
            &owner.access,
            "viewer@crm.test",
            &["viewer"],
            Some("viewer password 1"),
        )
        .await;
    server
        .create_user(
            &owner.access,
            "books@crm.test",
            &["accountant"],
            Some("account password 1"),
        )
        .await;
    let viewer = server.client_for(
        &server
            .login(&tenant.slug, "viewer@crm.test", "viewer password 1")
            .await
            .access,
    );
    viewer.get("/v1/crm/customers").await.expect_status(200);
    let refused = viewer
        .post("/v1/crm/customers", &json!({"name": "Nope"}))
        .await;
    refused.expect_status(403);
    assert_eq!(refused.json["code"], json!("permission_denied"));
    server
        .client_for(
            &server
                .login(&tenant.slug, "books@crm.test", "account password 1")
                .await
                .access,
        )
        .post("/v1/crm/customers", &json!({"name": "Nope"}))
        .await
        .expect_status(403);
    let mut db = server.db().await;
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM store.crm_customers")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(customers, 0);
    // Unknown routes of the module and unknown slots are 404 problems.
    owner_api
        .get("/v1/crm/nothing-here")
        .await
        .expect_status(404);
    owner_api.get("/v1/no-such-slot/x").await.expect_status(404);
}
