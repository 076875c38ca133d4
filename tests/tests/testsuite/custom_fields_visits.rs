//! Custom fields on jobs and service agreements (issue 24, item 2): the jobs and agreements
//! modules pass `custom` through on create and PATCH, the host's store checks it (422 naming
//! `custom.<key>`), their lists filter (`?custom.<key>=`) and sort (`sort=[-]custom.<key>`)
//! on it, their `job.*` / `agreement.*` events carry it, and another tenant's lists know
//! nothing of the fields.

use verofield_tests::*;

const FIELDS: &str = "/v1/tenant/custom-fields";

/// A tenant with a customer, a location and a service type, whose `entity` rows have `crew`
/// (number) and `gate` (text): (scenario, customer, location, service type).
async fn visits<'a>(
    server: &'a TestServer,
    slug: &str,
    entity: &str,
) -> (Scenario<'a>, String, String, String) {
    let shop = server.scenario(slug).await;
    for (key, kind) in [("crew", "number"), ("gate", "text")] {
        shop.create(
            FIELDS,
            &json!({"entity": entity, "key": key, "label": key, "type": kind}),
        )
        .await;
    }
    let customer = shop.customer("Ann").await;
    let location = shop.location(&customer, "Home").await;
    let service = shop.service_type("Spray", 60, 9000, &[]).await;
    (shop, customer, location, service)
}

/// The `custom` objects of a list's items, in order.
async fn customs(api: &Api, path: &str) -> Vec<Value> {
    let list = api.get(path).await;
    list.expect_status(200);
    list.items()
        .iter()
        .map(|item| item["custom"].clone())
        .collect()
}

/// A job body for `customer` at `location`, scheduled on 2030-01-08 when `scheduled`.
fn job(customer: &str, location: &str, service: &str, custom: Value, scheduled: bool) -> Value {
    let mut body = json!({"customer_id": customer, "location_id": location,
                          "service_type_ids": [service], "custom": custom});
    if scheduled {
        body["scheduled_date"] = json!("2030-01-08");
        body["window_start_local"] = json!("09:00");
        body["window_end_local"] = json!("11:00");
    }
    body
}

/// A weekly agreement body for `customer` at `location`.
fn agreement(customer: &str, location: &str, service: &str, custom: Value) -> Value {
    json!({"customer_id": customer, "name": "Plan", "location_ids": [location],
           "service_type_ids": [service], "recurrence": "FREQ=WEEKLY;BYDAY=MO",
           "starts_on": "2030-01-07", "ends_on": "2030-02-28", "price_minor": 4500,
           "custom": custom})
}

/// The `custom` of every `kind` event in the tenant's outbox.
async fn event_customs(shop: &Scenario<'_>, kind: &str) -> Vec<Value> {
    outbox(shop.server, shop.tenant.id)
        .await
        .into_iter()
        .filter(|(t, _, _)| t == kind)
        .map(|(_, payload, _)| payload["custom"].clone())
        .collect()
}

#[tokio::test]
async fn jobs_store_filter_sort_and_emit_custom_fields() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let (shop, customer, location, service) = visits(&server, "cfv-jobs", "job").await;
    for (crew, scheduled) in [(2, true), (1, false), (3, false)] {
        let body = job(
            &customer,
            &location,
            &service,
            json!({"crew": crew}),
            scheduled,
        );
        shop.create("/v1/jobs", &body).await;
    }
    let bad = job(
        &customer,
        &location,
        &service,
        json!({"crew": "two"}),
        false,
    );
    let refused = shop.owner.post("/v1/jobs", &bad).await;
    refused.expect_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), vec!["custom.crew".to_owned()]);
    let sorted = customs(&shop.owner, "/v1/jobs?sort=-custom.crew").await;
    assert_eq!(
        sorted,
        [json!({"crew": 3}), json!({"crew": 2}), json!({"crew": 1})]
    );
    let found = shop.owner.get("/v1/jobs?custom.crew=1").await;
    assert_eq!(found.items().len(), 1);
    let id = found.items()[0]["id"].as_str().unwrap().to_owned();
    let changed = shop
        .owner
        .patch(
            &format!("/v1/jobs/{id}"),
            &json!({"custom": {"gate": "back"}}),
        )
        .await;
    changed.expect_status(200);
    assert_eq!(changed.json["custom"], json!({"gate": "back"}));
    assert_eq!(
        event_customs(&shop, "job.scheduled").await,
        [json!({"crew": 2})]
    );
    shop.owner
        .get("/v1/jobs?sort=priority")
        .await
        .expect_problem(400, "invalid_query_parameter");
}

#[tokio::test]
async fn agreements_store_filter_sort_and_emit_custom_fields() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let (shop, customer, location, service) = visits(&server, "cfv-plans", "agreement").await;
    let mut ids = Vec::new();
    for gate in ["b", "a"] {
        let body = agreement(&customer, &location, &service, json!({"gate": gate}));
        ids.push(shop.create("/v1/agreements", &body).await.id());
    }
    let bad = agreement(&customer, &location, &service, json!({"crew": true}));
    let refused = shop.owner.post("/v1/agreements", &bad).await;
    assert_eq!(refused.error_fields(), vec!["custom.crew".to_owned()]);
    let sorted = customs(&shop.owner, "/v1/agreements?sort=custom.gate").await;
    assert_eq!(sorted, [json!({"gate": "a"}), json!({"gate": "b"})]);
    let found = customs(&shop.owner, "/v1/agreements?custom.gate=b").await;
    assert_eq!(found, [json!({"gate": "b"})]);
    let path = format!("/v1/agreements/{}", ids[0]);
    shop.owner
        .action(&format!("{path}/activate"))
        .await
        .expect_status(200);
    // Custom fields are not the plan: an active agreement still takes them.
    let changed = shop
        .owner
        .patch(&path, &json!({"custom": {"crew": 4}}))
        .await;
    changed.expect_status(200);
    assert_eq!(changed.json["custom"], json!({"crew": 4}));
    let activated = event_customs(&shop, "agreement.activated").await;
    assert_eq!(activated, [json!({"gate": "b"})]);
}

#[tokio::test]
async fn another_tenants_job_and_agreement_fields_are_unknown() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let (owner, customer, location, service) = visits(&server, "cfv-owner", "job").await;
    let body = job(&customer, &location, &service, json!({"crew": 2}), false);
    owner.create("/v1/jobs", &body).await;
    let other = server.scenario("cfv-other").await;
    for query in ["/v1/jobs?custom.crew=2", "/v1/agreements?sort=custom.crew"] {
        let refused = other.owner.get(query).await;
        refused.expect_problem(422, "validation_failed");
    }
    assert!(other.owner.get("/v1/jobs").await.items().is_empty());
}
