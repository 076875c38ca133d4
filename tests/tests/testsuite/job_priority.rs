//! `routing.job_priority` (issue 24, item 1) through the real server: a chained point routing
//! runs on a day's jobs before the solver weighs them. A day with one technician and room for
//! one of two five-hour jobs: the solver serves the regular job (priority 3) and drops the
//! VIP's (priority 5); with the sample priority bump installed, the VIP's job goes first and
//! the regular one is dropped, for that tenant only. A hostile extension (endless loop,
//! memory bomb, huge output, output out of schema) leaves the plan as without it, and the
//! failure is recorded for that tenant only.

use verofield_tests::*;

const POINT: &str = "routing.job_priority";
/// A Monday, when the scenario's technicians work (08:00-17:00 New York time).
const DAY: &str = "2027-01-04";

/// A server with the built-in modules, the sample and the hostile extension uploaded.
async fn server() -> TestServer {
    TestServer::with_sample_and_hostile("priority-bump").await
}

/// A tenant with one technician and two five-hour jobs on [`DAY`], both to start between
/// 08:00 and 12:00: a regular customer's (priority 3) and a VIP's (priority 5).
struct Day<'s> {
    scenario: Scenario<'s>,
    vip_customer: String,
    regular: String,
    vip: String,
}

async fn day<'s>(server: &'s TestServer, slug: &str, extensions: &[(&str, &str)]) -> Day<'s> {
    let scenario = server.scenario(slug).await;
    let owner = &scenario.owner;
    owner
        .install_extensions(POINT, extensions)
        .await
        .expect_status(200);
    scenario.technician("Ann", &[], None).await;
    let mowing = scenario.service_type("Mowing", 300, 9_000, &[]).await;
    let job = async |customer: &str, priority: i64| {
        let location = scenario.location(customer, "Home").await;
        let body = json!({"customer_id": customer, "location_id": location,
                          "service_type_ids": [mowing], "duration_minutes": 300,
                          "priority": priority, "scheduled_date": DAY, "time_zone": SCENARIO_ZONE,
                          "window_start_local": "08:00", "window_end_local": "12:00"});
        scenario.create("/v1/jobs", &body).await.id()
    };
    let regular_customer = scenario.customer("Reg").await;
    let vip_customer = scenario
        .create(
            "/v1/crm/customers",
            &json!({"name": "Vera", "tags": ["vip"]}),
        )
        .await
        .id();
    Day {
        regular: job(&regular_customer, 3).await,
        vip: job(&vip_customer, 5).await,
        vip_customer,
        scenario,
    }
}

impl Day<'_> {
    /// The ids of the jobs the day's plan serves.
    async fn served(&self) -> Vec<String> {
        let body = json!({"date": DAY, "max_iterations": 300});
        let plan = self
            .scenario
            .owner
            .post("/v1/routing/optimize", &body)
            .await;
        plan.expect_status(201);
        let routes = plan.json["routes"].as_array().unwrap();
        routes
            .iter()
            .flat_map(|route| route["stops"].as_array().unwrap())
            .filter_map(|stop| stop["job_id"].as_str().map(str::to_owned))
            .collect()
    }

    async fn tag_vip(&self, tag: &str) {
        let path = format!("/v1/crm/customers/{}", self.vip_customer);
        let tags = json!({"tags": [tag]});
        self.scenario
            .owner
            .patch(&path, &tags)
            .await
            .expect_status(200);
    }
}

#[tokio::test]
async fn a_priority_bump_serves_one_tenants_vip_first_and_not_anothers() {
    let server = server().await;
    let a = day(&server, "priority-a", &[("priority-bump", "1.0.0")]).await;
    let b = day(&server, "priority-b", &[]).await;
    assert_eq!(a.served().await, std::slice::from_ref(&a.vip));
    assert_eq!(b.served().await, std::slice::from_ref(&b.regular));
    assert!(a.scenario.owner.extension_failure_kinds().await.is_empty());
}

#[tokio::test]
async fn a_hostile_prioritizer_leaves_the_plan_unchanged_and_is_reported_to_its_tenant_only() {
    let server = server().await;
    let hostile = [("ext-hostile", "0.1.0"), ("priority-bump", "1.0.0")];
    let a = day(&server, "priority-hostile-a", &hostile[..1]).await;
    let b = day(&server, "priority-hostile-b", &hostile).await;

    for mode in ["loop", "bomb", "huge", "wrong"] {
        a.tag_vip(mode).await;
        assert_eq!(a.served().await, std::slice::from_ref(&a.regular), "{mode}");
    }
    // After a hostile link that does nothing wrong, the next one still runs.
    assert_eq!(b.served().await, std::slice::from_ref(&b.vip));
    a.scenario
        .owner
        .expect_extension_failures(&[
            "memory_exceeded",
            "out_of_fuel",
            "out_of_schema",
            "output_too_large",
        ])
        .await;
    assert!(b.scenario.owner.extension_failure_kinds().await.is_empty());
}
