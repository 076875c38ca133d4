//! Custom fields (issue 24, item 2) through the real server: a tenant admin defines fields
//! on customers, the CRM passes `custom` through, the host's store checks each value against
//! the definitions (422 naming `custom.<key>`), lists filter and sort on them, a definition
//! changes without touching stored values, and another tenant sees none of it.

use verofield_tests::*;

const FIELDS: &str = "/v1/tenant/custom-fields";
const CUSTOMERS: &str = "/v1/crm/customers";

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A tenant whose customers have `tier` (enum gold/silver) and `size` (number).
async fn tenant<'a>(server: &'a TestServer, slug: &str) -> Scenario<'a> {
    let scenario = server.scenario(slug).await;
    for body in [
        json!({"entity": "customer", "key": "tier", "label": "Tier", "type": "enum",
               "enum_values": ["gold", "silver"], "shown_in_lists": true}),
        json!({"entity": "customer", "key": "size", "label": "Size", "type": "number"}),
    ] {
        scenario.create(FIELDS, &body).await;
    }
    scenario
}

async fn customer(scenario: &Scenario<'_>, name: &str, custom: Value) -> Resp {
    scenario
        .owner
        .post(CUSTOMERS, &json!({"name": name, "custom": custom}))
        .await
}

/// The names of a customer list, in order.
async fn names(api: &Api, query: &str) -> Vec<String> {
    let list = api.get(&format!("{CUSTOMERS}?{query}")).await;
    list.expect_status(200);
    list.items()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn defined_values_are_stored_defaults_filled_and_answered() {
    let server = server().await;
    let a = tenant(&server, "cf-write").await;
    a.create(
        FIELDS,
        &json!({"entity": "customer", "key": "vip", "label": "VIP",
                             "type": "boolean", "default": false}),
    )
    .await;
    let created = customer(&a, "Ann", json!({"tier": "gold", "size": 12.5})).await;
    created.expect_status(201);
    assert_eq!(
        created.json["custom"],
        json!({"tier": "gold", "size": 12.5, "vip": false})
    );
    let id = created.id();
    let changed = a
        .owner
        .patch(
            &format!("{CUSTOMERS}/{id}"),
            &json!({"custom": {"tier": "silver"}}),
        )
        .await;
    changed.expect_status(200);
    assert_eq!(
        changed.json["custom"],
        json!({"tier": "silver", "vip": false})
    );
    let listed = a.owner.get(FIELDS).await;
    assert_eq!(listed.items().len(), 3);
}

#[tokio::test]
async fn bad_values_are_422_naming_the_field_and_store_nothing() {
    let server = server().await;
    let a = tenant(&server, "cf-bad").await;
    for (custom, field) in [
        (json!({"tier": "bronze"}), "custom.tier"),
        (json!({"size": "12"}), "custom.size"),
        (json!({"nope": 1}), "custom.nope"),
    ] {
        let refused = customer(&a, "Bad", custom).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(
            refused.error_fields(),
            vec![field.to_owned()],
            "{}",
            refused.text
        );
    }
    a.create(
        FIELDS,
        &json!({"entity": "customer", "key": "region", "label": "Region",
                             "type": "text", "required": true}),
    )
    .await;
    let missing = customer(&a, "Bad", json!({})).await;
    assert_eq!(missing.error_fields(), vec!["custom.region".to_owned()]);
    assert!(names(&a.owner, "").await.is_empty());
}

#[tokio::test]
async fn lists_filter_and_sort_on_custom_fields_with_their_types() {
    let server = server().await;
    let a = tenant(&server, "cf-list").await;
    for (name, tier, size) in [
        ("Ann", "gold", 10),
        ("Bob", "silver", 2),
        ("Cy", "gold", 33),
    ] {
        customer(&a, name, json!({"tier": tier, "size": size}))
            .await
            .expect_status(201);
    }
    customer(&a, "Dee", json!({})).await.expect_status(201);
    assert_eq!(
        names(&a.owner, "sort=custom.size").await,
        ["Bob", "Ann", "Cy", "Dee"]
    );
    assert_eq!(
        names(&a.owner, "sort=-custom.size").await,
        ["Cy", "Ann", "Bob", "Dee"]
    );
    assert_eq!(
        names(&a.owner, "custom.tier=gold&sort=name").await,
        ["Ann", "Cy"]
    );
    assert_eq!(names(&a.owner, "custom.size=2").await, ["Bob"]);
    // Page by page through a custom sort: the cursor carries the JSON value.
    let mut seen = Vec::new();
    let mut query = "sort=custom.size&limit=1".to_owned();
    loop {
        let page = a.owner.get(&format!("{CUSTOMERS}?{query}")).await;
        seen.extend(
            page.items()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned()),
        );
        let Some(cursor) = page.json["next_cursor"].as_str() else {
            break;
        };
        query = format!("sort=custom.size&limit=1&cursor={cursor}");
    }
    assert_eq!(seen, ["Bob", "Ann", "Cy", "Dee"]);
}

#[tokio::test]
async fn hostile_or_undefined_keys_are_refused_before_sql() {
    let server = server().await;
    let a = tenant(&server, "cf-hostile").await;
    customer(&a, "Ann", json!({"tier": "gold"}))
        .await
        .expect_status(201);
    for query in [
        "custom.a'b=1",
        "custom.=1",
        "sort=custom.size;drop",
        "sort=custom.Tier",
    ] {
        a.owner
            .get(&format!("{CUSTOMERS}?{query}"))
            .await
            .expect_problem(400, "invalid_query_parameter");
    }
    for query in ["custom.colour=red", "sort=custom.colour", "custom.size=big"] {
        let refused = a.owner.get(&format!("{CUSTOMERS}?{query}")).await;
        refused.expect_problem(422, "validation_failed");
    }
    for (body, field) in [
        (
            json!({"entity": "customer", "key": "Bad-Key", "label": "x", "type": "text"}),
            "key",
        ),
        (
            json!({"entity": "users", "key": "k", "label": "x", "type": "text"}),
            "entity",
        ),
        (
            json!({"entity": "customer", "key": "k", "label": "x", "type": "blob"}),
            "type",
        ),
        (
            json!({"entity": "customer", "key": "k", "label": "x", "type": "number",
                "default": "ten"}),
            "default",
        ),
    ] {
        let refused = a.owner.post(FIELDS, &body).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), vec![field.to_owned()]);
    }
}

#[tokio::test]
async fn changing_a_definition_never_corrupts_stored_values() {
    let server = server().await;
    let a = tenant(&server, "cf-change").await;
    let id = customer(&a, "Ann", json!({"tier": "gold", "size": 5}))
        .await
        .id();
    let tier = format!("{FIELDS}/customer/tier");
    let relabelled = a
        .owner
        .patch(&tier, &json!({"label": "Level", "required": true}))
        .await;
    relabelled.expect_status(200);
    assert_eq!(relabelled.json["version"], 2);
    for change in [json!({"type": "text"}), json!({"enum_values": ["silver"]})] {
        let refused = a.owner.patch(&tier, &change).await;
        refused.expect_problem(409, "custom_field_in_use");
        assert!(
            refused.json["detail"]
                .as_str()
                .unwrap()
                .starts_with("1 row(s)")
        );
    }
    a.owner
        .patch(&tier, &json!({"enum_values": ["gold", "silver", "bronze"]}))
        .await
        .expect_status(200);
    let stale = send(
        a.owner
            .request(Method::PATCH, &tier)
            .header("if-match", "\"1\"")
            .json(&json!({"label": "x"})),
    )
    .await;
    stale.expect_problem(412, "precondition_failed");
    a.owner
        .delete(&tier)
        .await
        .expect_problem(409, "custom_field_in_use");
    let stored = a.owner.get(&format!("{CUSTOMERS}/{id}")).await;
    assert_eq!(stored.json["custom"], json!({"tier": "gold", "size": 5}));
    // The size field holds a value too; a field no row holds can go.
    a.create(
        FIELDS,
        &json!({"entity": "job", "key": "gate", "label": "Gate", "type": "text"}),
    )
    .await;
    a.owner
        .delete(&format!("{FIELDS}/job/gate"))
        .await
        .expect_status(204);
}

#[tokio::test]
async fn another_tenants_definitions_are_invisible() {
    let server = server().await;
    let a = tenant(&server, "cf-owner").await;
    customer(&a, "Ann", json!({"tier": "gold"}))
        .await
        .expect_status(201);
    let b = server.scenario("cf-other").await;
    assert!(b.owner.get(FIELDS).await.items().is_empty());
    let write = customer(&b, "Eve", json!({"tier": "gold"})).await;
    assert_eq!(write.error_fields(), vec!["custom.tier".to_owned()]);
    b.owner
        .get(&format!("{CUSTOMERS}?custom.tier=gold"))
        .await
        .expect_problem(422, "validation_failed");
    b.owner
        .patch(
            &format!("{FIELDS}/customer/tier"),
            &json!({"label": "Mine"}),
        )
        .await
        .expect_problem(404, "not_found");
    b.owner
        .delete(&format!("{FIELDS}/customer/tier"))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(a.owner.get(FIELDS).await.items()[1]["label"], "Tier");
}

#[tokio::test]
async fn locations_take_checked_custom_fields_and_filter_on_them() {
    let server = server().await;
    let a = server.scenario("cf-locations").await;
    a.create(
        FIELDS,
        &json!({"entity": "location", "key": "gate_code", "label": "Gate",
                             "type": "text", "required": true}),
    )
    .await;
    let ann = a.customer("Ann").await;
    let path = format!("{CUSTOMERS}/{ann}/locations");
    let missing = a.owner.post(&path, &json!({"label": "Home"})).await;
    assert_eq!(missing.error_fields(), vec!["custom.gate_code".to_owned()]);
    let home = a
        .create(
            &path,
            &json!({"label": "Home", "custom": {"gate_code": "42"}}),
        )
        .await;
    assert_eq!(home.json["custom"], json!({"gate_code": "42"}));
    a.create(
        &path,
        &json!({"label": "Shop", "custom": {"gate_code": "7"}}),
    )
    .await;
    let found = a.owner.get("/v1/crm/locations?custom.gate_code=7").await;
    found.expect_status(200);
    assert_eq!(found.items().len(), 1);
    assert_eq!(found.items()[0]["label"], "Shop");
}

#[tokio::test]
async fn the_tenants_openapi_document_shows_its_fields_and_only_its_own() {
    let server = server().await;
    let a = tenant(&server, "cf-doc").await;
    let b = server.scenario("cf-doc-other").await;
    let document = a.owner.get("/v1/openapi.json").await;
    document.expect_status(200);
    let doc = &document.json;
    let custom = &doc["components"]["schemas"]["custom.customer"];
    assert_eq!(
        custom["properties"]["tier"]["enum"],
        json!(["gold", "silver"])
    );
    assert_eq!(custom["properties"]["size"]["type"], "number");
    let create = &doc["paths"][CUSTOMERS]["post"]["requestBody"]["content"]["application/json"];
    let component = create["schema"]["$ref"].as_str().unwrap();
    let component = component.trim_start_matches("#/components/schemas/");
    assert_eq!(
        doc["components"]["schemas"][component]["properties"]["custom"]["$ref"],
        "#/components/schemas/custom.customer"
    );
    let parameters = doc["paths"][CUSTOMERS]["get"]["parameters"].to_string();
    assert!(parameters.contains("custom.tier"), "{parameters}");
    let other = b.owner.get("/v1/openapi.json").await;
    assert!(other.json["components"]["schemas"]["custom.customer"].is_null());
    assert!(!other.text.contains("custom.tier"));
}
