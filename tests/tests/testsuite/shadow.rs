//! Shadow runs (issue 24, item 3): a candidate CRM (`crm-shadow`: `name` in capitals, a trap
//! on `GET /locations`, no `PATCH`) serves a sample of a tenant's CRM requests after the
//! built-in answered, rolled back. The report names exactly the field that differs; nothing
//! the candidate writes is committed; traps and missing routes are recorded while the client
//! gets the built-in's answer; another tenant can neither see nor touch the run and is never
//! shadowed; promote binds the candidate and stop ends the run; `until` ends it by itself.

use chrono::{DateTime, Utc};
use verofield_tests::*;

const CUSTOMERS: &str = "/v1/crm/customers";
const SHADOW: &str = "/v1/tenant/modules/crm/shadow";
const REPORT: &str = "/v1/tenant/modules/crm/shadow/report";

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// Uploads the candidate CRM shared with these tenants; it fails the crm pack (it lacks
/// most routes), so the operator overrides the verdict as for any partner CRM in trial.
async fn candidate(server: &TestServer, slugs: &[&str]) -> String {
    let digest = server
        .publish_module(&fixture_component("crm-shadow"), slugs)
        .await;
    server.conformance_result(&digest).await;
    server
        .override_conformance(&digest, "shadow trial")
        .await
        .expect_status(200);
    digest
}

/// `POST .../shadow`, accepting the candidate's grants when asked, as `bind` does.
async fn start(api: &Api, version: &str, percent: i64, until: DateTime<Utc>) -> Resp {
    let mut body = json!({"version": version, "sample_percent": percent, "until": until});
    let answer = api.post(SHADOW, &body).await;
    if answer.code() != "consent_required" {
        return answer;
    }
    body["accept"] = answer.json["grants"].clone();
    api.post(SHADOW, &body).await
}

fn in_an_hour() -> DateTime<Utc> {
    Utc::now() + chrono::TimeDelta::hours(1)
}

/// A tenant shadowing its CRM with the candidate at 100 %, and the candidate's digest.
async fn shadowed<'s>(server: &'s TestServer, slug: &str) -> (Scenario<'s>, String) {
    let shop = server.scenario(slug).await;
    let digest = candidate(server, &[slug]).await;
    start(&shop.owner, &digest, 100, in_an_hour())
        .await
        .expect_status(201);
    (shop, digest)
}

/// The report once `runs` candidate runs are recorded.
async fn report_after(api: &Api, runs: i64) -> Value {
    eventually(&format!("{runs} shadow runs recorded"), async || {
        let report = api.get(REPORT).await;
        report.expect_status(200);
        (report.json["runs"].as_i64() >= Some(runs)).then_some(report.json)
    })
    .await
}

#[tokio::test]
async fn the_report_names_exactly_the_field_the_candidate_answers_differently() {
    let server = server().await;
    let (shop, _) = shadowed(&server, "shadow-diff").await;
    let id = shop.customer("Ada Lovelace").await;
    let shown = shop.owner.get(&format!("{CUSTOMERS}/{id}")).await;
    shown.expect_status(200);
    assert_eq!(
        shown.json["name"], "Ada Lovelace",
        "the client gets the live answer"
    );

    let report = report_after(&shop.owner, 2).await;
    assert_eq!(report["runs"], 2);
    assert_eq!(report["body_differs"], 2, "{report}");
    assert_eq!(report["identical"], 0);
    assert_eq!(report["status_differs"], 0);
    assert_eq!(report["traps"], 0);
    let examples = report["examples"].as_array().unwrap();
    let mut paths: Vec<&str> = examples
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/customers", format!("/customers/{id}").as_str()]);
    for example in examples {
        assert_eq!(example["kind"], "body");
        assert_eq!(example["differing_paths"], json!(["/name"]), "{example}");
        assert_eq!(example["live_status"], example["candidate_status"]);
    }
    let read = examples.iter().find(|e| e["method"] == "GET").unwrap();
    assert!(
        read["candidate_body"]
            .as_str()
            .unwrap()
            .contains("ADA LOVELACE")
    );
}

#[tokio::test]
async fn nothing_the_candidate_writes_is_committed() {
    let server = server().await;
    let (shop, _) = shadowed(&server, "shadow-writes").await;
    for name in ["One", "Two", "Three"] {
        shop.customer(name).await;
    }
    report_after(&shop.owner, 3).await;
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM store.crm_customers WHERE tenant_id = $1")
            .bind(shop.tenant.id)
            .fetch_one(&mut server.db().await)
            .await
            .unwrap();
    assert_eq!(rows, 3, "only the live creates are stored");
}

#[tokio::test]
async fn a_trap_or_a_missing_route_is_recorded_while_the_client_gets_the_live_answer() {
    let server = server().await;
    let (shop, _) = shadowed(&server, "shadow-trap").await;
    shop.owner.get("/v1/crm/locations").await.expect_status(200);
    let report = report_after(&shop.owner, 1).await;
    assert_eq!(report["traps"], 1, "{report}");
    assert_eq!(report["examples"][0]["kind"], "trap");
    assert_eq!(report["examples"][0]["live_status"], 200);

    let id = shop.customer("Grace").await;
    let renamed = shop
        .owner
        .patch(
            &format!("{CUSTOMERS}/{id}"),
            &json!({"name": "Grace Hopper"}),
        )
        .await;
    renamed.expect_status(200);
    let report = report_after(&shop.owner, 3).await;
    assert_eq!(report["route_missing"], 1, "{report}");
    let missing = report["examples"].as_array().unwrap().iter();
    let missing: Vec<_> = missing.filter(|e| e["kind"] == "route_missing").collect();
    assert_eq!(missing[0]["method"], "PATCH");
}

#[tokio::test]
async fn another_tenant_cannot_reach_the_run_and_is_never_shadowed() {
    let server = server().await;
    let (shop, digest) = shadowed(&server, "shadow-home").await;
    let other = server.scenario("shadow-other").await;
    other
        .owner
        .get(REPORT)
        .await
        .expect_problem(404, "not_found");
    other
        .owner
        .delete(SHADOW)
        .await
        .expect_problem(404, "not_found");
    let promote = other
        .owner
        .post(&format!("{SHADOW}/promote"), &json!({}))
        .await;
    promote.expect_problem(404, "not_found");
    // The candidate is not shared with it: as if it did not exist.
    start(&other.owner, &digest, 100, in_an_hour())
        .await
        .expect_problem(422, "validation_failed");

    for name in ["A", "B", "C"] {
        other.customer(name).await;
    }
    shop.customer("Mine").await;
    let report = report_after(&shop.owner, 1).await;
    assert_eq!(report["runs"], 1, "only this tenant's request was shadowed");
    assert_eq!(report["state"], "running");
}

#[tokio::test]
async fn stop_ends_the_run_and_promote_binds_the_candidate() {
    let server = server().await;
    let (shop, digest) = shadowed(&server, "shadow-promote").await;
    let stopped = shop.owner.delete(SHADOW).await;
    stopped.expect_status(200);
    assert_eq!(stopped.json["state"], "stopped");
    shop.owner
        .delete(SHADOW)
        .await
        .expect_problem(404, "not_found");
    let id = shop.customer("Linus").await;
    assert_eq!(
        shop.owner.get(REPORT).await.json["runs"],
        0,
        "a stopped run shadows nothing"
    );

    start(&shop.owner, &digest, 100, in_an_hour())
        .await
        .expect_status(201);
    let promoted = shop
        .owner
        .post(&format!("{SHADOW}/promote"), &json!({}))
        .await;
    promoted.expect_status(200);
    assert_eq!(promoted.json["version"]["digest"], digest.as_str());
    assert_eq!(shop.owner.get(REPORT).await.json["state"], "promoted");
    let shown = shop.owner.get(&format!("{CUSTOMERS}/{id}")).await;
    assert_eq!(shown.json["name"], "LINUS", "the candidate serves now");
}

#[tokio::test]
async fn bad_starts_are_refused_with_their_codes() {
    let server = server().await;
    let (shop, digest) = shadowed(&server, "shadow-bad").await;
    start(&shop.owner, &digest, 100, in_an_hour())
        .await
        .expect_problem(409, "shadow_running");
    shop.owner.delete(SHADOW).await.expect_status(200);
    for (percent, until, field) in [
        (0, in_an_hour(), "sample_percent"),
        (101, in_an_hour(), "sample_percent"),
        (50, Utc::now() - chrono::TimeDelta::minutes(1), "until"),
    ] {
        let refused = start(&shop.owner, &digest, percent, until).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(
            refused.json["errors"][0]["field"], field,
            "{}",
            refused.text
        );
    }
    start(&shop.owner, "crm-shadow@9.9.9", 50, in_an_hour())
        .await
        .expect_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_run_ends_by_itself_at_until() {
    let server = server().await;
    let shop = server.scenario("shadow-until").await;
    let digest = candidate(&server, &["shadow-until"]).await;
    let until = Utc::now() + chrono::TimeDelta::seconds(2);
    start(&shop.owner, &digest, 100, until)
        .await
        .expect_status(201);
    eventually("the run to expire", async || {
        (shop.owner.get(REPORT).await.json["state"] == "expired").then_some(())
    })
    .await;
    shop.customer("After").await;
    let report = shop.owner.get(REPORT).await;
    assert_eq!(report.json["runs"], 0, "an expired run shadows nothing");
    start(&shop.owner, &digest, 100, in_an_hour())
        .await
        .expect_status(201);
}
