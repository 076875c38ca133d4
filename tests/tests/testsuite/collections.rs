//! Module-owned collections through the real server: a module declares `tickets` in its
//! manifest, the host creates it at upload in the module's own schema under RLS, and the
//! module reaches it by its bare name. Tenants never see each other's rows, another module
//! (with its own `tickets`) cannot reach it by any spelling, a breaking upgrade is refused at
//! upload while an additive one is applied, a tenant exports its rows, and the pruning job
//! deletes a departed tenant's rows after the retention period only.

use verofield_tests::*;

const SLOT: &str = "cprobe";

/// A server with the collection fixtures uploaded and shared with the tenants `slugs`, and
/// each tenant's owner client with the slot bound to `collection-probe` 1.0.0.
struct Setup {
    server: TestServer,
    tenants: Vec<(TenantFixture, Api)>,
}

async fn setup(slugs: &[&str]) -> Setup {
    let server = TestServer::start().await;
    let tenants = server
        .tenants_on_fixture(slugs, "collection-probe", SLOT)
        .await;
    Setup { server, tenants }
}

impl Setup {
    fn api(&self, i: usize) -> &Api {
        &self.tenants[i].1
    }

    /// Uploads `collection-peer` (another module for the same slot, with its own `tickets`)
    /// for tenant `i` and binds the slot to it.
    async fn switch_to_peer(&self, i: usize) {
        let (tenant, api) = &self.tenants[i];
        let peer = self
            .server
            .publish_module(&fixture_component("collection-peer"), &[&tenant.slug])
            .await;
        bind(api, SLOT, &peer).await;
    }

    async fn count(&self, sql: &str) -> i64 {
        let mut db = self.server.db().await;
        sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
    }
}

async fn insert(api: &Api, collection: &str, values: Value) -> Resp {
    api.post(&format!("/v1/{SLOT}/rows/{collection}"), &values)
        .await
}

async fn titles(api: &Api, collection: &str) -> Vec<String> {
    let listed = api.get(&format!("/v1/{SLOT}/rows/{collection}")).await;
    listed.expect_status(200);
    let mut titles: Vec<String> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row["values"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    titles.sort();
    titles
}

/// Uploads a component as the operator, shared with `slug`, and returns the answer.
async fn upload(server: &TestServer, fixture: &str, slug: &str) -> Resp {
    send(
        server
            .operator()
            .request(Method::POST, &format!("/v1/operator/modules?share={slug}"))
            .header("content-type", "application/wasm")
            .body(fixture_component(fixture)),
    )
    .await
}

#[tokio::test]
async fn a_module_keeps_rows_in_its_own_collection_and_tenants_never_meet() {
    let setup = setup(&["coll-a", "coll-b"]).await;
    let (a, b) = (setup.api(0), setup.api(1));
    let created = insert(
        a,
        "tickets",
        json!({"title": "leaky faucet", "due": "2026-12-24"}),
    )
    .await;
    created.expect_status(201);
    assert_eq!(
        created.json["values"]["priority"], 3,
        "the declared default"
    );
    assert_eq!(titles(a, "tickets").await, ["leaky faucet"]);
    assert!(titles(b, "tickets").await.is_empty(), "B sees A's rows");
    // Unique within the tenant: B may use the title, A may not use it twice.
    insert(b, "tickets", json!({"title": "leaky faucet"}))
        .await
        .expect_status(201);
    let again = insert(a, "tickets", json!({"title": "leaky faucet"})).await;
    assert_eq!(
        (again.status.as_u16(), again.json["code"].as_str()),
        (422, Some("duplicate"))
    );
    let untyped = insert(a, "tickets", json!({"title": "x", "priority": "high"})).await;
    assert_eq!(untyped.json["code"], "invalid", "{untyped:?}");
    let missing = insert(a, "tickets", json!({"due": "2026-12-24"})).await;
    assert_eq!(missing.json["code"], "invalid", "{missing:?}");
    // B cannot update or delete A's row by its id.
    let id = created.json["id"].as_str().unwrap();
    let patched = b
        .patch(
            &format!("/v1/{SLOT}/rows/tickets/{id}?version=1"),
            &json!({"title": "mine"}),
        )
        .await;
    assert_eq!(patched.json["code"], "not-found");
    assert_eq!(
        b.delete(&format!("/v1/{SLOT}/rows/tickets/{id}"))
            .await
            .json["code"],
        "not-found"
    );
    assert_eq!(titles(a, "tickets").await, ["leaky faucet"]);
}

#[tokio::test]
async fn the_collection_is_a_forced_rls_table_in_the_modules_schema() {
    let setup = setup(&["coll-shape"]).await;
    let mut db = setup.server.db().await;
    let (forced, policy): (bool, String) = sqlx::query_as(
        "SELECT c.relforcerowsecurity, p.polname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_policy p ON p.polrelid = c.oid
         WHERE n.nspname = 'mod_collection_probe' AND c.relname = 'tickets'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(forced);
    assert_eq!(policy, "tenant_isolation");
}

#[tokio::test]
async fn another_module_cannot_reach_the_collection_by_any_spelling() {
    let setup = setup(&["coll-peer"]).await;
    let a = setup.api(0);
    insert(a, "tickets", json!({"title": "probe's own"}))
        .await
        .expect_status(201);
    setup.switch_to_peer(0).await;
    // The peer's own `tickets` is another table.
    assert!(titles(a, "tickets").await.is_empty());
    insert(a, "tickets", json!({"title": "peer's own"}))
        .await
        .expect_status(201);
    for hostile in [
        "mod_collection_probe.tickets",
        "\"mod_collection_probe\".\"tickets\"",
        "../mod_collection_probe/tickets",
        "mod_collection_probe.tickets; --",
        "store.crm_customers",
        "crm_customers",
        "notes",
    ] {
        let path = format!("/v1/{SLOT}/rows/x");
        let reached = send(
            a.request(Method::GET, &path)
                .query(&[("collection", hostile)]),
        )
        .await;
        reached.expect_problem(500, "module_not_granted");
    }
    assert_eq!(titles(a, "tickets").await, ["peer's own"]);
}

#[tokio::test]
async fn a_breaking_upgrade_is_refused_at_upload_and_an_additive_one_applied() {
    let setup = setup(&["coll-upgrade"]).await;
    let a = setup.api(0);
    insert(a, "tickets", json!({"title": "before the upgrade"}))
        .await
        .expect_status(201);
    let refused = upload(&setup.server, "collection-probe-breaking", "coll-upgrade").await;
    refused.expect_problem(422, "module_collection_change_refused");
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("tickets") && detail.contains("priority") && detail.contains("type"),
        "{detail}"
    );
    let upgraded = upload(&setup.server, "collection-probe-v2", "coll-upgrade").await;
    upgraded.expect_status(201);
    bind(a, SLOT, upgraded.json["digest"].as_str().unwrap()).await;
    let row = insert(
        a,
        "tickets",
        json!({"title": "after", "owner": uuid::Uuid::nil()}),
    )
    .await;
    row.expect_status(201);
    assert_eq!(row.json["values"]["state"], "open");
    insert(a, "notes", json!({"body": "a new collection"}))
        .await
        .expect_status(201);
    assert_eq!(titles(a, "tickets").await, ["after", "before the upgrade"]);
}

#[tokio::test]
async fn a_tenant_exports_its_rows_as_json_lines() {
    let setup = setup(&["coll-export-a", "coll-export-b"]).await;
    let (a, b) = (setup.api(0), setup.api(1));
    for title in ["one", "two"] {
        insert(a, "tickets", json!({"title": title}))
            .await
            .expect_status(201);
    }
    insert(b, "tickets", json!({"title": "b's"}))
        .await
        .expect_status(201);
    let exported = a
        .get("/v1/tenant/module-data?module=collection-probe")
        .await;
    exported.expect_status(200);
    assert_eq!(
        exported.header("content-type"),
        Some("application/x-ndjson")
    );
    let lines: Vec<Value> = exported
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut titles: Vec<&str> = lines
        .iter()
        .map(|l| l["values"]["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["one", "two"]);
    assert!(
        lines
            .iter()
            .all(|l| l["collection"] == "tickets" && l["version"] == 1)
    );
    a.get("/v1/tenant/module-data?module=no-such-module")
        .await
        .expect_problem(404, "not_found");
    a.get("/v1/tenant/module-data?module=collection-peer")
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn a_departed_tenants_rows_are_pruned_after_the_retention_period_only() {
    let setup = setup(&["coll-leaves", "coll-stays"]).await;
    let (a, b) = (setup.api(0), setup.api(1));
    insert(a, "tickets", json!({"title": "left behind"}))
        .await
        .expect_status(201);
    insert(b, "tickets", json!({"title": "still used"}))
        .await
        .expect_status(201);
    setup.switch_to_peer(0).await;
    let prune = || async {
        let server = &setup.server;
        run_cli(
            server.data_dir(),
            Some(server.test_db()),
            &["prune", "--json"],
            &[],
        )
        .await
        .json()
    };
    assert_eq!(prune().await["module_rows"], 0, "within the 30 days");
    let mut db = setup.server.db().await;
    sqlx::query(
        "UPDATE module_departures SET left_at = now() - interval '31 days' WHERE tenant_id = $1",
    )
    .bind(setup.tenants[0].0.id)
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(prune().await["module_rows"], 1);
    let left = setup
        .count("SELECT count(*) FROM mod_collection_probe.tickets")
        .await;
    assert_eq!(left, 1, "the tenant still using the module keeps its row");
    assert_eq!(
        setup.count("SELECT count(*) FROM module_departures").await,
        0
    );
}

#[tokio::test]
async fn coming_back_to_a_module_cancels_its_departure() {
    let setup = setup(&["coll-returns"]).await;
    let a = setup.api(0);
    insert(a, "tickets", json!({"title": "kept"}))
        .await
        .expect_status(201);
    setup.switch_to_peer(0).await;
    a.post(&format!("/v1/tenant/modules/{SLOT}/rollback"), &json!({}))
        .await
        .expect_status(200);
    let mut db = setup.server.db().await;
    let departed: Vec<String> = sqlx::query_scalar("SELECT module FROM module_departures")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(departed, ["collection-peer"]);
    assert_eq!(titles(a, "tickets").await, ["kept"]);
}
