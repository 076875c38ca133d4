//! `verofield module publish PATH --server URL --key vfp_...`: uploads a component to
//! `POST /v1/publisher/modules` as a publisher, prints the host's validation, then polls
//! `GET /v1/publisher/modules/{digest}` until conformance is no longer `pending` and prints
//! it. A refused upload prints the problem's `code` and `detail`; a failed conformance pack
//! is an error too (exit status 1), so that a partner's CI can gate on the command.
//!
//! The key is a secret: it is refused before anything is sent unless it looks like a
//! publisher key, and it is never sent over plain HTTP except to this machine.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// The publisher endpoints (contract: H1's publisher API).
const UPLOAD_PATH: &str = "/v1/publisher/modules";

/// How often the version is polled while its conformance pack runs.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

pub struct Publisher {
    http: reqwest::Client,
    server: Url,
    key: String,
}

impl Publisher {
    /// A client for `server` (its base URL) with a publisher key (`vfp_...`).
    pub fn new(server: &str, key: &str) -> anyhow::Result<Self> {
        let server = Url::parse(server).with_context(|| format!("`{server}` is not a URL"))?;
        let loopback = matches!(server.host(), Some(url::Host::Domain("localhost")))
            || matches!(server.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(server.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        match server.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                bail!("refusing to send a publisher key over plain http to {server}; use https")
            }
            other => bail!("`{other}` is not http or https"),
        }
        if !key.starts_with("vfp_") || key.len() < 8 || !key.chars().all(|c| c.is_ascii_graphic()) {
            bail!("the key is not a publisher key (`vfp_...`)");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            server,
            key: key.to_owned(),
        })
    }

    fn url(&self, path: &str) -> anyhow::Result<Url> {
        self.server
            .join(path)
            .with_context(|| format!("joining {path} to {}", self.server))
    }

    /// `POST /v1/publisher/modules?notes=...` with the component as the body.
    fn upload_request(
        &self,
        component: Vec<u8>,
        notes: Option<&str>,
    ) -> anyhow::Result<reqwest::Request> {
        let mut url = self.url(UPLOAD_PATH)?;
        if let Some(notes) = notes {
            url.query_pairs_mut().append_pair("notes", notes);
        }
        Ok(self
            .http
            .request(Method::POST, url)
            .bearer_auth(&self.key)
            .header("content-type", "application/wasm")
            .body(component)
            .build()?)
    }

    /// `GET /v1/publisher/modules/{digest}`.
    fn version_request(&self, digest: &str) -> anyhow::Result<reqwest::Request> {
        // The digest comes from the server's answer: only a sha256 may go into the path.
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the server answered a digest that is not a sha256: {digest:?}");
        }
        let url = self.url(&format!("{UPLOAD_PATH}/{digest}"))?;
        Ok(self
            .http
            .request(Method::GET, url)
            .bearer_auth(&self.key)
            .build()?)
    }

    async fn send(&self, request: reqwest::Request, expected: StatusCode) -> anyhow::Result<Value> {
        let what = format!("{} {}", request.method(), request.url().path());
        let response = self
            .http
            .execute(request)
            .await
            .with_context(|| format!("{what}: no answer"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != expected {
            let code = body["code"].as_str().unwrap_or("unknown");
            let detail = body["detail"].as_str().unwrap_or("no detail");
            return Err(anyhow!("{what} refused: {status} `{code}`: {detail}"));
        }
        Ok(body)
    }

    /// Uploads the component; the version record the server answered (201).
    pub async fn upload(&self, component: Vec<u8>, notes: Option<&str>) -> anyhow::Result<Value> {
        self.send(self.upload_request(component, notes)?, StatusCode::CREATED)
            .await
    }

    /// Polls the version until its conformance is no longer `pending` (or `timeout` passes).
    pub async fn settled(
        &self,
        digest: &str,
        interval: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let started = std::time::Instant::now();
        loop {
            let record = self
                .send(self.version_request(digest)?, StatusCode::OK)
                .await?;
            if conformance_status(&record) != "pending" {
                return Ok(record);
            }
            if started.elapsed() >= timeout {
                bail!(
                    "conformance still pending after {} s; poll again later",
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(interval).await;
        }
    }
}

fn conformance_status(record: &Value) -> &str {
    record["conformance"]["status"]
        .as_str()
        .unwrap_or("unknown")
}

/// Uploads `component`, prints what the server says, waits for conformance. Errs when the
/// upload is refused or conformance fails.
pub async fn run(
    publisher: &Publisher,
    component: Vec<u8>,
    notes: Option<&str>,
    wait: Duration,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Value> {
    let record = publisher.upload(component, notes).await?;
    writeln!(
        out,
        "uploaded {} {} (slot {}, {}) digest {}",
        record["name"].as_str().unwrap_or("?"),
        record["version"].as_str().unwrap_or("?"),
        record["slot"].as_str().unwrap_or("?"),
        record["visibility"].as_str().unwrap_or("?"),
        record["digest"].as_str().unwrap_or("?"),
    )?;
    writeln!(out, "validation: {}", record["validation"])?;
    let mut record = record;
    if conformance_status(&record) == "pending" {
        writeln!(out, "conformance: pending; waiting")?;
        let digest = record["digest"].as_str().unwrap_or_default().to_owned();
        record = publisher.settled(&digest, POLL_INTERVAL, wait).await?;
    }
    writeln!(out, "conformance: {}", record["conformance"])?;
    if conformance_status(&record) == "failed" {
        bail!("the conformance pack failed; see the report above");
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Path, Query, State};
    use axum::http::HeaderMap;
    use axum::routing::{get, post};
    use serde_json::json;

    use super::*;

    const KEY: &str = "vfp_test_secret";
    const DIGEST: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    #[test]
    fn builds_the_contracts_upload_request() {
        let publisher = Publisher::new("https://api.example.com/", KEY).unwrap();
        let request = publisher
            .upload_request(b"\0asm".to_vec(), Some("first & best"))
            .unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.url().as_str(),
            "https://api.example.com/v1/publisher/modules?notes=first+%26+best"
        );
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("authorization"), format!("Bearer {KEY}"));
        assert_eq!(header("content-type"), "application/wasm");
        assert_eq!(request.body().unwrap().as_bytes(), Some(&b"\0asm"[..]));
        let poll = publisher.version_request(DIGEST).unwrap();
        assert_eq!(poll.url().path(), format!("/v1/publisher/modules/{DIGEST}"));
        assert!(publisher.version_request("../operator/x").is_err());
    }

    #[test]
    fn refuses_to_leak_the_key() {
        assert!(Publisher::new("http://api.example.com", KEY).is_err());
        assert!(Publisher::new("http://127.0.0.1:8080", KEY).is_ok());
        assert!(Publisher::new("http://localhost:8080", KEY).is_ok());
        assert!(Publisher::new("ftp://api.example.com", KEY).is_err());
        assert!(Publisher::new("https://api.example.com", "sk_live_x").is_err());
        assert!(Publisher::new("https://api.example.com", "vfp_a\nb").is_err());
    }

    /// A publisher API that answers uploads as the contract says and keeps conformance
    /// pending for `pending_polls` polls.
    async fn contract_server(pending_polls: usize, outcome: &'static str) -> String {
        let polls = Arc::new(AtomicUsize::new(0));
        let record = |status: &str| {
            json!({"digest": DIGEST, "name": "acme/notes", "version": "0.1.0", "slot": "notes",
                   "visibility": "private", "notes": null, "validation": {"passed": true},
                   "conformance": {"status": status}})
        };
        let app = axum::Router::new()
            .route(
                UPLOAD_PATH,
                post(move |headers: HeaderMap, Query(query): Query<Vec<(String, String)>>, body: axum::body::Bytes| async move {
                    let authorized = headers["authorization"] == format!("Bearer {KEY}").as_str();
                    if !authorized || body.as_ref() != b"\0asm" {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"code": "unauthorized"})));
                    }
                    if query.contains(&("notes".into(), "refuse me".into())) {
                        let problem = json!({"code": "module_imports_forbidden", "detail": "imports wasi:filesystem"});
                        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(problem));
                    }
                    (StatusCode::CREATED, axum::Json(record("pending")))
                }),
            )
            .route(
                &format!("{UPLOAD_PATH}/{{digest}}"),
                get(move |State(polls): State<Arc<AtomicUsize>>, Path(digest): Path<String>| async move {
                    assert_eq!(digest, DIGEST);
                    let seen = polls.fetch_add(1, Ordering::SeqCst);
                    let status = if seen < pending_polls { "pending" } else { outcome };
                    axum::Json(record(status))
                }),
            )
            .with_state(polls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn uploads_then_polls_until_conformance_settles() {
        let server = contract_server(2, "passed").await;
        let publisher = Publisher::new(&server, KEY).unwrap();
        let mut out = Vec::new();
        let record = publisher
            .upload(b"\0asm".to_vec(), Some("notes"))
            .await
            .unwrap();
        assert_eq!(conformance_status(&record), "pending");
        let settled = publisher
            .settled(DIGEST, Duration::from_millis(10), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(conformance_status(&settled), "passed");
        let failing = contract_server(0, "failed").await;
        let failing = Publisher::new(&failing, KEY).unwrap();
        let error = run(
            &failing,
            b"\0asm".to_vec(),
            None,
            Duration::from_secs(5),
            &mut out,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("conformance pack failed"));
        let printed = String::from_utf8(out).unwrap();
        assert!(
            printed.contains("uploaded acme/notes 0.1.0 (slot notes, private)"),
            "{printed}"
        );
    }

    #[tokio::test]
    async fn a_refused_upload_names_the_code_and_detail() {
        let server = contract_server(0, "passed").await;
        let publisher = Publisher::new(&server, KEY).unwrap();
        let error = publisher
            .upload(b"\0asm".to_vec(), Some("refuse me"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("422"), "{error}");
        assert!(
            error.contains("`module_imports_forbidden`: imports wasi:filesystem"),
            "{error}"
        );
    }
}
