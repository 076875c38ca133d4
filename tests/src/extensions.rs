//! Extensions: the operator's upload and a tenant's ordered list at a point.

use crate::*;

/// The bytes of a sample extension of `plugins/extensions` (built with the built-in modules'
/// workspace, of which they are members).
pub fn sample_extension(name: &str) -> Vec<u8> {
    let path = builtin_modules_dir().join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

impl TestServer {
    /// A server with the built-in modules and these extension components uploaded.
    pub async fn with_extensions(components: &[Vec<u8>]) -> Self {
        let server = Self::start_with(ServerOptions::new().with_builtin_modules()).await;
        for component in components {
            server.upload_extension(component).await.expect_status(201);
        }
        server
    }

    /// A server with the built-in modules, the sample extension `sample` and the hostile
    /// fixture `ext-hostile` (which serves every point) uploaded.
    pub async fn with_sample_and_hostile(sample: &str) -> Self {
        Self::with_extensions(&[sample_extension(sample), fixture_component("ext-hostile")]).await
    }

    /// Uploads an extension component as the operator; the answer, unasserted.
    pub async fn upload_extension(&self, component: &[u8]) -> Resp {
        self.upload_extension_granting(component, "").await
    }

    /// Uploads an extension component granting it a budget (`"fuel=..&memory_mib=.."`, or
    /// `""` for the default); the answer, unasserted.
    pub async fn upload_extension_granting(&self, component: &[u8], grant: &str) -> Resp {
        send(self.extension_upload(component, grant)).await
    }

    /// [`Self::upload_extension_granting`] for a component whose first compile may outlive
    /// the request (CPython's 18 MB on a loaded machine): the compile goes on in the server
    /// and lands in the code cache, so the upload is sent again until it is answered other
    /// than 503, within 15 minutes.
    pub async fn upload_large_extension(&self, component: &[u8], grant: &str) -> Resp {
        let started = std::time::Instant::now();
        loop {
            match try_send(self.extension_upload(component, grant)).await {
                Ok(answer) if answer.status != StatusCode::SERVICE_UNAVAILABLE => return answer,
                _ if started.elapsed() > std::time::Duration::from_secs(900) => {
                    panic!("the extension did not compile within 15 minutes")
                }
                _ => tokio::time::sleep(std::time::Duration::from_secs(5)).await,
            }
        }
    }

    fn extension_upload(&self, component: &[u8], grant: &str) -> reqwest::RequestBuilder {
        self.operator()
            .request(Method::POST, &format!("/v1/operator/extensions?{grant}"))
            .header("content-type", "application/wasm")
            .body(component.to_vec())
    }
}

impl Api {
    /// `PUT /v1/tenant/extensions/{point}` with these `(name, version)`s, in order; unasserted.
    pub async fn install_extensions(&self, point: &str, extensions: &[(&str, &str)]) -> Resp {
        let list: Vec<Value> = extensions
            .iter()
            .map(|(name, version)| json!({"name": name, "version": version}))
            .collect();
        send(
            self.request(Method::PUT, &format!("/v1/tenant/extensions/{point}"))
                .json(&json!({ "extensions": list })),
        )
        .await
    }

    /// The `kind`s of the tenant's recorded extension failures, sorted.
    pub async fn extension_failure_kinds(&self) -> Vec<String> {
        let failures = self.get("/v1/tenant/extensions/failures").await;
        failures.expect_status(200);
        let mut kinds: Vec<String> = failures
            .items()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        kinds
    }
}

impl Api {
    /// Waits until the tenant's recorded extension failures are of exactly these `kind`s
    /// (sorted): failures are recorded in the background, after the request.
    pub async fn expect_extension_failures(&self, kinds: &[&str]) {
        eventually("every extension failure to be recorded", async || {
            (self.extension_failure_kinds().await == kinds).then_some(())
        })
        .await;
    }
}
