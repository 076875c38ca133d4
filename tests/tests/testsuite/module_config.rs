//! Per-tenant module configuration and secrets through the real server: an admin sets them
//! (the configuration checked against the manifest's JSON Schema, secrets write-only), the
//! module reads them through `config`; another tenant, another module with a secret of the
//! same name, and a sealed value copied into another tenant's row all read nothing.

use verofield_tests::*;

const SLOT: &str = "cfg";
const CONFIG: &str = "/v1/tenant/modules/cfg/config";

/// A server with `config-probe` shared with and bound for each tenant in `slugs`.
async fn setup(slugs: &[&str]) -> (TestServer, Vec<(TenantFixture, Api)>) {
    let server = TestServer::start().await;
    let tenants = server.tenants_on_fixture(slugs, "config-probe", SLOT).await;
    (server, tenants)
}

async fn put(api: &Api, body: Value) -> Resp {
    send(api.request(Method::PUT, CONFIG).json(&body)).await
}

/// What the module reads through `config`.
async fn read(api: &Api) -> Value {
    let read = api.get(&format!("/v1/{SLOT}/read")).await;
    read.expect_status(200);
    read.json
}

#[tokio::test]
async fn an_admin_sets_configuration_and_secrets_the_module_reads_them() {
    let (_server, tenants) = setup(&["cfg-set"]).await;
    let a = &tenants[0].1;
    assert_eq!(
        read(a).await,
        json!({"config": {}, "secret": null, "undeclared": null})
    );
    let refused = put(
        a,
        json!({"config": {"region": "mars", "daily_limit": 0, "x": 1}}),
    )
    .await;
    refused.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = refused.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"config.region") && fields.contains(&"config.daily_limit"),
        "{fields:?}"
    );
    put(a, json!({"secrets": {"undeclared": "x"}}))
        .await
        .expect_problem(422, "validation_failed");
    let set = put(
        a,
        json!({"config": {"region": "eu"}, "secrets": {"api-key": "sk_live_42"}}),
    )
    .await;
    set.expect_status(200);
    assert_eq!(
        set.json["secrets"],
        json!([{"name": "api-key", "set": true}])
    );
    let shown = a.get(CONFIG).await;
    assert_eq!(shown.json["config"], json!({"region": "eu"}));
    assert!(
        !shown.text.contains("sk_live_42") && !set.text.contains("sk_live_42"),
        "a secret was answered"
    );
    assert_eq!(
        read(a).await,
        json!({"config": {"region": "eu"}, "secret": "sk_live_42", "undeclared": null})
    );
    put(a, json!({"secrets": {"api-key": null}}))
        .await
        .expect_status(200);
    assert_eq!(read(a).await["secret"], Value::Null);
    assert_eq!(
        read(a).await["config"],
        json!({"region": "eu"}),
        "the configuration stays"
    );
}

#[tokio::test]
async fn secrets_stay_with_their_tenant_and_module() {
    let (server, tenants) = setup(&["cfg-a", "cfg-b"]).await;
    let (a, b) = (&tenants[0].1, &tenants[1].1);
    put(
        a,
        json!({"config": {"region": "us"}, "secrets": {"api-key": "a-secret"}}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        read(b).await,
        json!({"config": {}, "secret": null, "undeclared": null})
    );
    // Stored sealed; copied whole into tenant B's row, it does not open there.
    let mut db = server.db().await;
    let sealed: String =
        sqlx::query_scalar("SELECT secrets::text FROM module_settings WHERE tenant_id = $1")
            .bind(tenants[0].0.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(!sealed.contains("a-secret"), "{sealed}");
    sqlx::query("INSERT INTO module_settings (tenant_id, module, secrets) VALUES ($1, 'config-probe', $2::jsonb)")
        .bind(tenants[1].0.id)
        .bind(&sealed)
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(read(b).await["secret"], Value::Null);
    // Another module of tenant A, declaring a secret of the same name, reads none of A's.
    let peer = server
        .publish_module(&fixture_component("config-peer"), &["cfg-a"])
        .await;
    bind(a, SLOT, &peer).await;
    assert_eq!(
        read(a).await,
        json!({"config": {}, "secret": null, "undeclared": null})
    );
    put(a, json!({"config": {"region": "us"}}))
        .await
        .expect_problem(422, "validation_failed");
}
