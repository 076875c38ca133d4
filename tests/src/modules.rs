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

/// Binds the tenant's `slot` to `version` (a digest or `name@version`).
pub async fn bind(api: &Api, slot: &str, version: &str) {
    api.request(Method::PUT, &format!("/v1/tenant/modules/{slot}"))
        .json(&json!({ "version": version }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_or_else(|error| panic!("binding {slot} to {version}: {error}"));
}
