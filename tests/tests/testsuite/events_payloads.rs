//! Domain event payloads (issue 21 item 7): the real flows (a customer created, changed and
//! deleted; a job scheduled, assigned and completed; an agreement activated and canceled with
//! its work orders generated; a routing plan applied; an invoice finalized and paid; an autopay
//! card declined to delinquency) write `event_outbox` rows whose
//! payloads carry every field `verofield::event_catalog` (and docs/EVENTS.md) promises,
//! typed as promised, with the ordering key the host derives from them. A failed request
//! leaves no event, and another tenant sees none of these rows.

use serde_json::{Value, json};
use verofield::event_catalog::{EVENT_TYPES, check_payload};
use verofield_tests::{SCENARIO_ZONE as ZONE, Scenario, ServerOptions, TestServer, outbox};

/// The payloads of `kind` events.
fn of<'e>(events: &'e [(String, Value, Option<String>)], kind: &str) -> Vec<&'e Value> {
    events
        .iter()
        .filter(|(t, _, _)| t == kind)
        .map(|(_, p, _)| p)
        .collect()
}

/// A scheduled job on 2030-01-08 (a Tuesday), 09:00-11:00 New York.
async fn scheduled_job(
    shop: &Scenario<'_>,
    customer: &str,
    location: &str,
    service: &str,
) -> String {
    let created = shop
        .create(
            "/v1/jobs",
            &json!({"customer_id": customer, "location_id": location,
                    "service_type_ids": [service], "scheduled_date": "2030-01-08",
                    "window_start_local": "09:00", "window_end_local": "11:00", "time_zone": ZONE}),
        )
        .await;
    assert_eq!(created.json["status"], "scheduled");
    created.id()
}

#[tokio::test]
async fn every_flow_writes_the_documented_payloads() {
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    let shop = server.scenario("ev-payloads").await;

    // Customers: created, updated, and another one deleted.
    let customer = shop.customer("Green Acres").await;
    shop.owner
        .patch(
            &format!("/v1/crm/customers/{customer}"),
            &json!({"email": "ops@green.example", "tags": ["vip"]}),
        )
        .await
        .expect_status(200);
    let gone = shop.customer("Gone Ltd").await;
    shop.owner
        .delete(&format!("/v1/crm/customers/{gone}"))
        .await
        .expect_status(204);
    let location = shop.location(&customer, "Main house").await;
    let service = shop
        .service_type("Termite inspection", 60, 12500, &["termite"])
        .await;
    let tess = shop.technician("Tess", &["termite"], None).await;

    // A job: scheduled at creation, assigned, worked and completed.
    let job = scheduled_job(&shop, &customer, &location, &service).await;
    shop.assign(&job, &[&tess]).await;
    for to in ["dispatched", "en_route", "in_progress"] {
        shop.status(&job, to).await;
    }

    // A failed request writes nothing: completing without a completion report is a 422.
    let before = outbox(&server, shop.tenant.id).await.len();
    shop.owner
        .job_status(&job, "completed")
        .await
        .expect_problem(422, "validation_failed");
    shop.owner
        .job_status(&job, "scheduled")
        .await
        .expect_status(409);
    assert_eq!(outbox(&server, shop.tenant.id).await.len(), before);

    shop.owner
        .job_status_with(
            &job,
            &json!({"status": "completed", "completion": {
                "notes": "treated", "work_minutes": 55,
                "materials": [{"name": "Termidor SC", "quantity": 0.5, "unit": "l"}]}}),
        )
        .await
        .expect_status(200);

    // An agreement: weekly on Mondays from 2030-01-07; activating generates its work order's
    // jobs (unscheduled, dated); generating again adds none.
    let agreement = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": customer, "name": "Pest plan",
                    "location_ids": [location], "service_type_ids": [service],
                    "recurrence": "FREQ=WEEKLY;BYDAY=MO", "start_time": "09:00", "end_time": "11:00",
                    "time_zone": ZONE, "pricing": "per_visit", "price_minor": 4500, "currency": "USD",
                    "billing_frequency": "monthly", "starts_on": "2030-01-07", "ends_on": "2030-02-28",
                    "horizon_days": 3660}),
        )
        .await
        .id();
    let active = shop
        .owner
        .action(&format!("/v1/agreements/{agreement}/activate"))
        .await;
    active.expect_status(200);
    let work_order = active.json["work_order_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    shop.owner
        .action(&format!("/v1/work-orders/{work_order}/generate"))
        .await
        .expect_status(200);

    // Routing: plan Monday 2030-01-07 (the agreement's first visit) and apply it.
    let plan = shop
        .create(
            "/v1/routing/optimize",
            &json!({"date": "2030-01-07", "max_iterations": 200, "seed": 1}),
        )
        .await;
    let plan_id = plan.id();
    let applied = shop
        .owner
        .post(&format!("/v1/routing/plans/{plan_id}/apply"), &json!({}))
        .await;
    applied.expect_status(200);
    let routed = applied.json["applied"][0]["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("nothing routed: {}", plan.json))
        .to_owned();

    shop.owner
        .action(&format!("/v1/agreements/{agreement}/cancel"))
        .await
        .expect_status(200);

    // Billing: an invoice finalized, paid by two payments (the second settles it).
    let invoice = shop
        .create(
            "/v1/billing/invoices",
            &json!({"customer_id": customer, "lines": [
                {"description": "Termite inspection", "unit_price_minor": 12500}]}),
        )
        .await
        .id();
    shop.owner
        .action(&format!("/v1/billing/invoices/{invoice}/finalize"))
        .await
        .expect_status(200);
    for amount in [2500, 10000] {
        shop.create(
            &format!("/v1/billing/invoices/{invoice}/payments"),
            &json!({"amount_minor": amount, "currency": "USD", "method": "check"}),
        )
        .await;
    }

    // Every payload matches the catalog and carries its ordering key.
    let events = outbox(&server, shop.tenant.id).await;
    for (kind, payload, aggregate) in &events {
        assert_documented(kind, payload, aggregate);
    }
    let mut kinds: Vec<&str> = events.iter().map(|(t, _, _)| t.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "agreement.activated",
            "agreement.canceled",
            "customer.created",
            "customer.deleted",
            "customer.updated",
            "invoice.finalized",
            "invoice.paid",
            "job.assigned",
            "job.completed",
            "job.scheduled",
            "job.status_changed",
            "payment.recorded",
        ]
    );

    // What billing invoices from, without reading back.
    let completed = of(&events, "job.completed");
    let completed = completed[0];
    assert_eq!(completed["customer_id"], customer.as_str());
    assert_eq!(completed["location_id"], location.as_str());
    assert_eq!(completed["technician_ids"], json!([tess]));
    assert_eq!(
        completed["services"],
        json!([{"id": service, "name": "Termite inspection", "price_minor": 12500,
                "currency": "USD", "duration_minutes": 60}])
    );
    assert_eq!(completed["work_minutes"], 55);
    let changes: Vec<(String, String)> = of(&events, "job.status_changed")
        .iter()
        .filter(|p| p["job_id"] == job.as_str())
        .map(|p| {
            (
                p["from"].as_str().unwrap().into(),
                p["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes.last().unwrap(),
        &("in_progress".to_owned(), "completed".to_owned())
    );

    // The customer events follow the customer's versions.
    let updated = of(&events, "customer.updated")[0];
    assert_eq!(updated["email"], "ops@green.example");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        of(&events, "customer.deleted")[0]["customer_id"],
        gone.as_str()
    );

    // The routing plan's job: scheduled and assigned, naming the plan.
    let routed_assigned = of(&events, "job.assigned")
        .into_iter()
        .find(|p| p["job_id"] == routed.as_str())
        .expect("the routed job's job.assigned");
    assert_eq!(routed_assigned["plan_id"], plan_id.as_str());
    assert_eq!(routed_assigned["technician_ids"], json!([tess]));
    assert_eq!(routed_assigned["work_order_id"], work_order.as_str());
    assert!(
        of(&events, "job.scheduled")
            .iter()
            .any(|p| p["job_id"] == routed.as_str() && p["technician_ids"] == json!([tess]))
    );

    let finalized = of(&events, "invoice.finalized")[0];
    assert_eq!(finalized["invoice_id"], invoice.as_str());
    assert_eq!(finalized["number"], "INV-000001");
    assert_eq!(finalized["total_minor"], 12500);
    let recorded = of(&events, "payment.recorded");
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1]["invoice_status"], "paid");
    assert_eq!(of(&events, "invoice.paid")[0]["amount_paid_minor"], 12500);

    let activated = of(&events, "agreement.activated")[0];
    assert_eq!(activated["work_order_ids"], json!([work_order]));
    let canceled = of(&events, "agreement.canceled")[0];
    assert_eq!(canceled["previous_status"], "active");
    assert!(canceled["version"].as_i64() > activated["version"].as_i64());

    // The OpenAPI document describes each catalog type as a 3.1 webhook.
    let document = shop.owner.get("/v1/openapi.json").await;
    document.expect_status(200);
    assert!(
        document.json["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3.1")
    );
    let mut webhooks: Vec<&str> = document.json["webhooks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    webhooks.sort_unstable();
    let mut catalog: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    catalog.sort_unstable();
    assert_eq!(webhooks, catalog);
    assert!(document.json["components"]["schemas"]["Event.job.completed"].is_object());

    // Another tenant's scope sees none of these rows.
    let other = server.scenario("ev-payloads-b").await;
    assert!(outbox(&server, other.tenant.id).await.is_empty());
}

/// Autopay declined four times (issue 22 item 7): `invoice.payment_failed` per attempt and
/// `customer.delinquent` after the last, each as the catalog promises with its ordering key.
#[tokio::test]
async fn dunning_writes_the_documented_payloads() {
    let stripe = verofield_tests::StripeServer::start();
    let server = crate::billing::server_with(stripe.server_args()).await;
    let shop = server.scenario("ev-dunning").await;
    let customer = shop.customer("Green Acres").await;
    crate::billing::connect(&shop.owner, "acct_1EvDunning").await;
    crate::billing::save_card_for_autopay(
        &server,
        &shop.owner,
        &customer,
        "acct_1EvDunning",
        "pm_card_chargeDeclined",
    )
    .await;
    let invoice = shop
        .create(
            "/v1/billing/invoices",
            &json!({"customer_id": customer, "lines": [
                {"description": "Pest plan", "unit_price_minor": 9900}]}),
        )
        .await
        .id();
    shop.owner
        .action(&format!("/v1/billing/invoices/{invoice}/finalize"))
        .await
        .expect_status(200);
    let mut db = server.db().await;
    for _retry in 2..=4 {
        sqlx::query(
            "UPDATE store.billing_dunning SET next_attempt_on = current_date WHERE tenant_id = $1",
        )
        .bind(shop.tenant.id)
        .execute(&mut db)
        .await
        .unwrap();
        shop.owner
            .post("/v1/billing/dunning/run", &json!({}))
            .await
            .expect_status(200);
    }

    let events = outbox(&server, shop.tenant.id).await;
    for kind in ["invoice.payment_failed", "customer.delinquent"] {
        for (_, payload, aggregate) in events.iter().filter(|(t, _, _)| t == kind) {
            assert_documented(kind, payload, aggregate);
        }
    }
    let failed = of(&events, "invoice.payment_failed");
    assert_eq!(failed.len(), 4);
    assert_eq!(failed[3]["final"], true);
    assert!(failed[3]["next_attempt_on"].is_null());
    let delinquent = of(&events, "customer.delinquent");
    assert_eq!(delinquent.len(), 1);
    assert_eq!(delinquent[0]["invoice_id"], invoice.as_str());
}

/// The payload matches the catalog, and the event's aggregate is its ordering key
/// (`<kind>:<kind>_id`).
fn assert_documented(kind: &str, payload: &Value, aggregate: &Option<String>) {
    assert_eq!(
        check_payload(kind, payload),
        Vec::<String>::new(),
        "{payload}"
    );
    let entity = kind.split('.').next().unwrap();
    let key = payload[format!("{entity}_id")].as_str().unwrap();
    assert_eq!(
        aggregate.as_deref(),
        Some(format!("{entity}:{key}").as_str())
    );
}
