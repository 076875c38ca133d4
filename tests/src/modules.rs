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
