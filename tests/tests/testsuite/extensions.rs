//! Extension points (issue 24, item 1) through the real server: the operator uploads
//! extension components, a tenant admin installs them at `jobs.validate`, and the jobs module
//! runs them on create and update. The sample rule ("pest jobs need a target pest") refuses
//! that tenant's jobs and no other tenant's; a hostile extension (endless loop, memory bomb,
//! huge output, output out of schema) blocks nothing, the request completes, and each failure
//! is recorded for the tenant's admins only.

use verofield_tests::*;

const POINT: &str = "jobs.validate";
const JOBS: &str = "/v1/jobs";

/// A server with the built-in modules and both extensions uploaded.
async fn server() -> TestServer {
    TestServer::with_extensions(&[
        sample_extension("pest-target"),
        fixture_component("ext-hostile"),
    ])
    .await
}

/// A tenant with a customer, a location, and a pest and a lawn service type.
pub(crate) struct Yard<'s> {
    pub(crate) scenario: Scenario<'s>,
    customer: String,
    location: String,
    pest: String,
    pub(crate) lawn: String,
}

pub(crate) async fn yard<'s>(server: &'s TestServer, slug: &str) -> Yard<'s> {
    let scenario = server.scenario(slug).await;
    let customer = scenario.customer("Ann").await;
    let location = scenario.location(&customer, "Home").await;
    let pest = scenario
        .service_type("Termites", 60, 9_000, &["pest"])
        .await;
    let lawn = scenario.service_type("Mowing", 30, 4_000, &["lawn"]).await;
    Yard {
        scenario,
        customer,
        location,
        pest,
        lawn,
    }
}

impl Yard<'_> {
    pub(crate) async fn job(&self, service_type: &str, notes: &str) -> Resp {
        let body = json!({"customer_id": self.customer, "location_id": self.location,
                          "service_type_ids": [service_type], "notes": notes});
        self.scenario.owner.post(JOBS, &body).await
    }

    pub(crate) async fn install(&self, extensions: &[(&str, &str)]) {
        let owner = &self.scenario.owner;
        owner
            .install_extensions(POINT, extensions)
            .await
            .expect_status(200);
    }

    pub(crate) async fn failure_kinds(&self) -> Vec<String> {
        self.scenario.owner.extension_failure_kinds().await
    }
}

#[tokio::test]
async fn the_pest_rule_refuses_one_tenants_jobs_and_not_anothers() {
    let server = server().await;
    let (a, b) = (
        yard(&server, "ext-pest-a").await,
        yard(&server, "ext-pest-b").await,
    );
    a.install(&[("pest-target", "1.0.0")]).await;

    let refused = a.job(&a.pest, "side gate is open").await;
    refused.expect_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["notes"]);
    let job = a.job(&a.pest, "pest: termites").await;
    job.expect_status(201);
    a.job(&a.lawn, "").await.expect_status(201);
    let patch = json!({"notes": "no pest named"});
    a.scenario
        .owner
        .patch(&format!("{JOBS}/{}", job.id()), &patch)
        .await
        .expect_problem(422, "validation_failed");

    b.job(&b.pest, "side gate is open").await.expect_status(201);
    assert!(b.failure_kinds().await.is_empty());
}

#[tokio::test]
async fn hostile_extensions_block_nothing_and_are_reported_to_their_tenant_only() {
    let server = server().await;
    let (a, b) = (
        yard(&server, "ext-hostile-a").await,
        yard(&server, "ext-hostile-b").await,
    );
    a.install(&[("ext-hostile", "0.1.0"), ("pest-target", "1.0.0")])
        .await;

    for notes in ["loop", "bomb", "huge", "wrong"] {
        a.job(&a.lawn, notes).await.expect_status(201);
    }
    // The extension after the hostile one still runs: its verdict stands.
    a.job(&a.pest, "loop")
        .await
        .expect_problem(422, "validation_failed");

    // Recorded in the background, the refused request's failure too.
    let expected = [
        "memory_exceeded",
        "out_of_fuel",
        "out_of_fuel",
        "out_of_schema",
        "output_too_large",
    ];
    eventually("every failure to be recorded", async || {
        (a.failure_kinds().await == expected).then_some(())
    })
    .await;
    assert!(b.failure_kinds().await.is_empty());
}

#[tokio::test]
async fn an_extension_sees_a_frozen_clock_and_fixed_randomness() {
    let server = server().await;
    let a = yard(&server, "ext-clock").await;
    a.install(&[("ext-hostile", "0.1.0")]).await;
    let message = async || {
        let refused = a.job(&a.lawn, "clock").await;
        refused.expect_problem(422, "validation_failed");
        refused.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = message().await;
    assert!(first.starts_with("now=0 elapsed=0 random="), "{first}");
    assert_eq!(message().await, first);
}

#[tokio::test]
async fn installs_name_known_points_and_extensions_and_need_modules_manage() {
    let server = server().await;
    let a = yard(&server, "ext-install").await;
    let owner = &a.scenario.owner;
    owner
        .install_extensions("jobs.nonsense", &[])
        .await
        .expect_problem(404, "not_found");
    let unknown = owner
        .install_extensions(POINT, &[("pest-target", "9.9.9")])
        .await;
    unknown.expect_problem(422, "validation_failed");
    assert_eq!(unknown.error_fields(), ["extensions[0]"]);
    server
        .upload_extension(&fixture_component("echo"))
        .await
        .expect_problem(422, "extension_not_of_world");

    a.install(&[("pest-target", "1.0.0")]).await;
    let listed = owner.get("/v1/tenant/extensions").await;
    listed.expect_status(200);
    let point = &listed.items()[0];
    assert_eq!(
        (
            point["point"].as_str(),
            point["extensions"][0]["name"].as_str()
        ),
        (Some(POINT), Some("pest-target"))
    );

    let (_, viewer) = a.scenario.user("viewer@ext.test", &["viewer"]).await;
    viewer
        .install_extensions(POINT, &[])
        .await
        .expect_problem(403, "permission_denied");
}
