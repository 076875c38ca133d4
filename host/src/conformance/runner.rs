//! Running a pack's steps, in order, through the real router in process
//! (`tower::ServiceExt::oneshot`), so authentication, RBAC, idempotency and the module's
//! answer filter apply exactly as for a client over HTTP. A step's references are resolved
//! from what earlier steps captured; a step whose reference is missing fails (it names it)
//! and the run goes on, so one broken field does not hide the rest of the contract.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use serde::Serialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::expect::{self, Answer, Mismatch, Variables};
use super::pack::{ExpectEvent, Pack, Step};

/// How long an expected event may take to reach the feed (the dispatcher fans events out
/// after the commit; it polls every 500 ms and is woken at commit).
const EVENT_WAIT: Duration = Duration::from_secs(10);
const EVENT_POLL: Duration = Duration::from_millis(200);
/// The most of an answer's body a step reads.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: String,
    pub method: String,
    pub path: String,
    /// The answer's status; none when the step could not be sent.
    pub status: Option<u16>,
    pub passed: bool,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    /// Why the step could not be run (an unknown reference, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A pack's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub pack: String,
    pub pack_digest: String,
    pub passed: usize,
    pub failed: usize,
    pub duration_ms: u64,
    pub steps: Vec<StepResult>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// A report of a run that could not start (the sandbox failed), as one failed step.
    pub fn not_run(pack: &Pack, why: String) -> Self {
        Self {
            pack: pack.name.clone(),
            pack_digest: pack.digest.clone(),
            passed: 0,
            failed: 1,
            duration_ms: 0,
            steps: vec![StepResult {
                name: "prepare the conformance tenant".into(),
                method: String::new(),
                path: String::new(),
                status: None,
                passed: false,
                duration_ms: 0,
                mismatches: Vec::new(),
                error: Some(why),
            }],
        }
    }
}

/// Sends requests as one user of one tenant.
pub struct Client {
    router: Router,
    token: String,
}

impl Client {
    pub fn new(router: Router, token: String) -> Self {
        Self { router, token }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &BTreeMap<String, String>,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let method =
            Method::from_bytes(method.as_bytes()).map_err(|_| format!("bad method `{method}`"))?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = match body {
            Some(body) => Body::from(body.to_string()),
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| format!("building the request: {e}"))?;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        let body = match bytes.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The tenant's whole event feed (a conformance tenant's is short).
    async fn events(&self) -> Result<Vec<Value>, String> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(after) => format!("/v1/events?limit=100&after={after}"),
                None => "/v1/events?limit=100".to_owned(),
            };
            let answer = self.send("GET", &path, &BTreeMap::new(), None).await?;
            if answer.status != 200 {
                return Err(format!(
                    "the event feed answered {}: {}",
                    answer.status, answer.body
                ));
            }
            let items = answer.body["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                return Ok(events);
            }
            events.extend(items);
            cursor = answer.body["next_cursor"].as_str().map(str::to_owned);
        }
    }
}

/// Runs every step of `pack` in order; `vars` carries captures across packs of one run (an
/// author's scenarios may use what the slot's pack captured).
pub async fn run(client: &Client, pack: &Pack, vars: &mut Variables) -> Report {
    let started = Instant::now();
    let mut steps = Vec::with_capacity(pack.steps.len());
    for step in &pack.steps {
        steps.push(run_step(client, step, vars).await);
    }
    let passed = steps.iter().filter(|s| s.passed).count();
    Report {
        pack: pack.name.clone(),
        pack_digest: pack.digest.clone(),
        passed,
        failed: steps.len() - passed,
        duration_ms: started.elapsed().as_millis() as u64,
        steps,
    }
}

async fn run_step(client: &Client, step: &Step, vars: &mut Variables) -> StepResult {
    let started = Instant::now();
    let mut result = StepResult {
        name: step.name.clone(),
        method: step.request.method.clone(),
        path: step.request.path.clone(),
        status: None,
        passed: false,
        duration_ms: 0,
        mismatches: Vec::new(),
        error: None,
    };
    match send_and_check(client, step, vars, &mut result).await {
        Ok(mismatches) => {
            result.passed = mismatches.is_empty();
            result.mismatches = mismatches;
        }
        Err(error) => result.error = Some(error),
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

async fn send_and_check(
    client: &Client,
    step: &Step,
    vars: &mut Variables,
    result: &mut StepResult,
) -> Result<Vec<Mismatch>, String> {
    let request = &step.request;
    let path = expect::substitute_str(&request.path, vars)?;
    result.path = path.clone();
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| Ok((name.clone(), expect::substitute_str(value, vars)?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    let body = request
        .body
        .as_ref()
        .map(|b| expect::substitute(b, vars))
        .transpose()?;
    let answer = client
        .send(&request.method, &path, &headers, body.as_ref())
        .await?;
    result.status = Some(answer.status);
    // Captured first: a step's own expectations may name what it captures (its Location).
    let mut missing = Vec::new();
    for (name, source) in &step.capture {
        match expect::capture(&answer, source) {
            Some(value) => {
                vars.insert(name.clone(), value);
            }
            None => missing.push(Mismatch {
                check: format!("capture {name}"),
                expected: json!(source),
                actual: Value::Null,
            }),
        }
    }
    let mut mismatches = expect::check(&step.expect, &answer, vars);
    mismatches.extend(missing);
    for wanted in &step.expect.events {
        let data = wanted
            .data
            .iter()
            .map(|(path, value)| Ok((path.clone(), expect::substitute(value, vars)?)))
            .collect::<Result<_, String>>();
        let wanted = match data {
            Ok(data) => ExpectEvent {
                kind: wanted.kind.clone(),
                data,
            },
            Err(error) => {
                let check = format!("event {}", wanted.kind);
                mismatches.push(expect::unresolved(check, &wanted.data, error));
                continue;
            }
        };
        if let Some(mismatch) = await_event(client, &wanted).await? {
            mismatches.push(mismatch);
        }
    }
    Ok(mismatches)
}

/// Polls the feed until an event like `wanted` is there, or says what was there instead.
async fn await_event(client: &Client, wanted: &ExpectEvent) -> Result<Option<Mismatch>, String> {
    let deadline = Instant::now() + EVENT_WAIT;
    loop {
        let events = client.events().await?;
        if events
            .iter()
            .any(|event| expect::event_matches(wanted, event))
        {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            let same_type: Vec<&Value> = events
                .iter()
                .filter(|e| e.get("type") == Some(&json!(wanted.kind)))
                .map(|e| &e["data"])
                .collect();
            return Ok(Some(Mismatch {
                check: format!("event {}", wanted.kind),
                expected: json!(wanted.data),
                actual: json!(same_type),
            }));
        }
        tokio::time::sleep(EVENT_POLL).await;
    }
}
