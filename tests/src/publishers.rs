//! Publishers: one created by the operator, its key, uploads with it, and the tenant's side of
//! an upload (its detail, binding it with the grants accepted).

use crate::*;

/// A publisher and a client holding its owner's key.
pub struct PublisherFixture {
    pub namespace: String,
    pub key: String,
    pub api: Api,
}

impl TestServer {
    /// Creates a publisher owning `namespace` through the operator API.
    pub async fn create_publisher(&self, namespace: &str) -> PublisherFixture {
        let created = self
            .operator()
            .post(
                "/v1/operator/publishers",
                &json!({"namespace": namespace, "name": format!("{namespace} Inc"),
                        "owner_email": format!("dev@{namespace}.test")}),
            )
            .await;
        created.expect_status(201);
        let key = created.json["key"]["secret"].as_str().unwrap().to_owned();
        PublisherFixture {
            namespace: namespace.to_owned(),
            api: self.client_for(&key),
            key,
        }
    }
}

impl PublisherFixture {
    /// `POST /v1/publisher/modules` with the component as the body.
    pub async fn upload(&self, component: &[u8]) -> Resp {
        send(
            self.api
                .request(Method::POST, "/v1/publisher/modules?notes=first%20cut")
                .header("content-type", "application/wasm")
                .body(component.to_vec()),
        )
        .await
    }

    /// Uploads and returns the new version's digest; panics unless 201.
    pub async fn publish(&self, component: &[u8]) -> String {
        let uploaded = self.upload(component).await;
        uploaded.expect_status(201);
        uploaded.json["digest"].as_str().unwrap().to_owned()
    }

    /// Shares a version with a tenant (by slug); panics unless 201.
    pub async fn share(&self, digest: &str, tenant: &str) {
        self.api
            .post(
                &format!("/v1/publisher/modules/{digest}/shares"),
                &json!({"tenant": tenant}),
            )
            .await
            .expect_status(201);
    }
}

/// `PUT /v1/tenant/modules/{slot}` with this body.
pub async fn bind_with(api: &Api, slot: &str, body: &Value) -> Resp {
    send(
        api.request(Method::PUT, &format!("/v1/tenant/modules/{slot}"))
            .json(body),
    )
    .await
}

/// The grants a tenant is shown for a version (`name` is `namespace/module`); panics unless
/// 200.
pub async fn grants_of(api: &Api, name: &str, version: &str) -> Value {
    let detail = api.get(&format!("/v1/modules/{name}/{version}")).await;
    detail.expect_status(200);
    detail.json["grants"].clone()
}

/// Binds an upload, accepting exactly the grants shown; panics unless 200.
pub async fn consent_and_bind(api: &Api, slot: &str, name: &str, version: &str) {
    let grants = grants_of(api, name, version).await;
    bind_with(
        api,
        slot,
        &json!({"version": format!("{name}@{version}"), "accept": grants}),
    )
    .await
    .expect_status(200);
}
