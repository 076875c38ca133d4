//! Modules: publishing a component as the operator and binding it for a tenant.

use crate::*;

impl TestServer {
    /// Uploads a component as the operator, shared with these tenants (slugs), and returns
    /// its digest. An upload is private: only tenants it is shared with may bind it.
    pub async fn publish_module(&self, component: &[u8], share_with: &[&str]) -> String {
        let response = send(
            self.operator()
                .request(
                    Method::POST,
                    &format!("/v1/operator/modules?share={}", share_with.join(",")),
                )
                .header("content-type", "application/wasm")
                .body(component.to_vec()),
        )
        .await;
        response.expect_status(201);
        response.json["digest"].as_str().unwrap().to_owned()
    }

    /// The operator's override of an upload's conformance verdict (`reason` recorded), so a
    /// tenant may bind it to a core slot whatever its pack says.
    pub async fn override_conformance(&self, digest: &str, reason: &str) -> Resp {
        let path = format!("/v1/operator/modules/{digest}/conformance/override");
        send(
            self.operator()
                .request(Method::POST, &path)
                .json(&json!({ "reason": reason })),
        )
        .await
    }

    /// A version's conformance record as the operator sees it, once its run has ended.
    pub async fn conformance_result(&self, digest: &str) -> Value {
        let path = format!("/v1/operator/modules/{digest}/conformance");
        eventually("the conformance run to end", async || {
            let record = send(self.operator().request(Method::GET, &path)).await;
            record.expect_status(200);
            (record.json["status"] != "pending").then_some(record.json)
        })
        .await
    }
}

impl TestServer {
    /// Creates a tenant per slug with its owner's client, uploads the fixture `fixture`
    /// shared with them all, and binds each tenant's `slot` to it.
    pub async fn tenants_on_fixture(
        &self,
        slugs: &[&str],
        fixture: &str,
        slot: &str,
    ) -> Vec<(TenantFixture, Api)> {
        let mut tenants = Vec::new();
        for slug in slugs {
            let tenant = self.create_tenant(slug).await;
            let api = self.client_for(&self.login_owner(&tenant).await.access);
            tenants.push((tenant, api));
        }
        let digest = self
            .publish_module(&fixture_component(fixture), slugs)
            .await;
        for (_, api) in &tenants {
            bind(api, slot, &digest).await;
        }
        tenants
    }
}

/// Binds the tenant's `slot` to `version` (a digest or `name@version`). An upload needs the
/// tenant's consent: when the server answers `consent_required`, the grants it shows are
/// accepted, as an admin would after reading them. An upload for a core slot binds once its
/// conformance pack passed: while it runs (`conformance_pending`) the bind is tried again.
pub async fn bind(api: &Api, slot: &str, version: &str) {
    let path = format!("/v1/tenant/modules/{slot}");
    let mut body = json!({ "version": version });
    let answer = eventually("the upload's conformance run", async || {
        let mut answer = send(api.request(Method::PUT, &path).json(&body)).await;
        if answer.code() == "consent_required" {
            body["accept"] = answer.json["grants"].clone();
            answer = send(api.request(Method::PUT, &path).json(&body)).await;
        }
        (answer.code() != "conformance_pending").then_some(answer)
    })
    .await;
    assert_eq!(
        answer.status.as_u16(),
        200,
        "binding {slot} to {version}: {}",
        answer.text
    );
}

impl TestServer {
    /// A tenant whose `sink` slot is the event-sink fixture: it hears of every customer created
    /// (and tags it `seen:<event>`), so a test can count deliveries.
    pub async fn sink_tenant(&self, slug: &str) -> Scenario<'_> {
        let scenario = self.scenario(slug).await;
        let digest = self
            .publish_module(&fixture_component("event-sink"), &[slug])
            .await;
        bind(&scenario.owner, "sink", &digest).await;
        scenario
    }
}
