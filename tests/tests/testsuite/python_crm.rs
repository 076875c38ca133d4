//! The Python twin of the CRM (`plugins/crm-python`, built with componentize-py on the Python
//! SDK) end to end: the operator uploads it, tenants bind their `crm` slot to it, and the CRM
//! suite's scenarios run against it unchanged. Then the twin test sends one long list of
//! requests, good and bad, to a tenant served by the Rust CRM and to one served by the
//! Python CRM and requires the same answers (status, headers, body, ids and times aside) and
//! the same events: what the conformance pack checks, and more.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value, json};
use verofield_tests::{Api, Method, Resp, ServerOptions, TestServer, bind, python_module, send};

use crate::crm::{self, Crm};

fn python_crm() -> Crm {
    static COMPONENT: OnceLock<Vec<u8>> = OnceLock::new();
    Crm::Uploaded(COMPONENT.get_or_init(|| python_module("crm-python")))
}

#[tokio::test]
async fn the_crm_scenarios_pass_on_the_python_twin() {
    crm::customers_locations_and_contacts(python_crm()).await;
}

#[tokio::test]
async fn another_tenant_never_reaches_the_python_crms_data() {
    crm::another_tenant_gets_404_and_changes_nothing(python_crm()).await;
}

#[tokio::test]
async fn the_host_checks_permissions_before_the_python_crm_runs() {
    crm::the_host_checks_route_permissions(python_crm()).await;
}

#[tokio::test]
async fn the_python_crm_answers_exactly_as_the_rust_crm() {
    let options = ServerOptions::new().with_builtin_modules().large_uploads();
    let server = TestServer::start_with(options).await;
    let rust = owner_api(&server, "twin-rust").await;
    let python = owner_api(&server, "twin-python").await;
    let Crm::Uploaded(component) = python_crm() else {
        unreachable!()
    };
    let digest = server.publish_module(component, &["twin-python"]).await;
    // The same conformance pack as the Rust CRM's, run by the host on upload.
    let conformance = server.conformance_result(&digest).await;
    assert_eq!(conformance["status"], "passed", "{conformance:#}");
    bind(&python, "crm", &digest).await;
    let (mut rust_ids, mut python_ids) = (HashMap::new(), HashMap::new());
    let mut differences = Vec::new();
    for step in steps() {
        let expected = step.send(&rust, &mut rust_ids).await;
        let answered = step.send(&python, &mut python_ids).await;
        if expected != answered {
            differences.push(format!(
                "{} {}\n  rust:   {expected}\n  python: {answered}",
                step.method, step.path
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    let mut db = server.db().await;
    let events: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT t.slug, e.event_type, e.payload FROM event_outbox e JOIN tenants t ON t.id = e.tenant_id ORDER BY e.id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let of = |slug: &str| -> Vec<Value> {
        let mine = events.iter().filter(|(tenant, ..)| tenant == slug);
        mine.map(|(_, kind, payload)| json!([kind, masked(payload.clone())]))
            .collect()
    };
    assert!(!of("twin-rust").is_empty());
    assert_eq!(of("twin-rust"), of("twin-python"));
}

async fn owner_api(server: &TestServer, slug: &str) -> Api {
    let tenant = server.create_tenant(slug).await;
    server.client_for(&server.login_owner(&tenant).await.access)
}

/// One request of the twin test. `{c}`, `{l}`, `{k}` in the path stand for the ids of the
/// tenant's own customer, location and contact, captured from earlier answers.
struct Step {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    content_type: &'static str,
    if_match: Option<&'static str>,
    capture: Option<&'static str>,
}

fn step(method: Method, path: &'static str, body: Option<&'static str>) -> Step {
    Step {
        method,
        path,
        body,
        content_type: "application/json",
        if_match: None,
        capture: None,
    }
}

impl Step {
    fn capture(self, name: &'static str) -> Self {
        Self {
            capture: Some(name),
            ..self
        }
    }

    fn if_match(self, etag: &'static str) -> Self {
        Self {
            if_match: Some(etag),
            ..self
        }
    }

    fn content_type(self, content_type: &'static str) -> Self {
        Self {
            content_type,
            ..self
        }
    }

    /// Sends the step for one tenant; the answer with what differs between tenants masked.
    async fn send(&self, api: &Api, ids: &mut HashMap<&'static str, String>) -> Value {
        let mut path = format!("/v1/crm{}", self.path);
        for (name, id) in ids.iter() {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        let mut request = api.request(self.method.clone(), &path);
        if let Some(body) = self.body {
            request = request
                .header("content-type", self.content_type)
                .body(body.to_owned());
        }
        if let Some(etag) = self.if_match {
            request = request.header("if-match", etag);
        }
        let response = send(request).await;
        if let Some(name) = self.capture {
            let id = response.json["id"].as_str().unwrap_or_default().to_owned();
            ids.insert(name, id);
        }
        answer(&response)
    }
}

/// Status, the headers a module sets, and the body, ids and times masked.
fn answer(response: &Resp) -> Value {
    let header = |name: &str| response.header(name).map(masked_text);
    json!({
        "status": response.status.as_u16(),
        "content-type": header("content-type"),
        "etag": header("etag"),
        "location": header("location"),
        "body": masked(response.json.clone()),
    })
}

fn masked(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(masked_text(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(masked).collect()),
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, value)| match key.as_str() {
                    "next_cursor" if !value.is_null() => (key, json!("<cursor>")),
                    _ => (key, masked(value)),
                })
                .collect(),
        ),
        other => other,
    }
}

/// Ids (UUIDs, also inside paths) and timestamps replaced by placeholders.
fn masked_text(text: &str) -> String {
    let looks_like_time = text.len() >= 20 && text.as_bytes()[4] == b'-' && text.contains('T');
    if looks_like_time && chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return "<time>".into();
    }
    text.split('/')
        .map(|part| match uuid::Uuid::try_parse(part) {
            Ok(_) if part.len() == 36 => "<uuid>",
            _ => part,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn steps() -> Vec<Step> {
    use Method as M;
    let post = |path, body| step(M::POST, path, Some(body));
    let patch = |path, body| step(M::PATCH, path, Some(body));
    let get = |path| step(M::GET, path, None);
    let delete = |path| step(M::DELETE, path, None);
    vec![
        post(
            "/customers",
            r#"{"name": " Ada ", "email": " ADA@Example.com ", "phone": " ", "tags": ["vip", " vip", "gold"],
                "kind": "commercial", "billing_address": {"line1": "1 Main St", "city": null}}"#,
        )
        .capture("c"),
        post("/customers", r#"{"name": "Bob", "status": "lead", "tags": ["gold"]}"#),
        post("/customers", "{}"),
        post("/customers", r#"{"name": "", "email": "x", "phone": "abc", "tags": [""]}"#),
        post("/customers", r#"{"name": 5}"#),
        post("/customers", r#"{"name": "a", "kind": "alien"}"#),
        post("/customers", r#"{"name": "a", "tags": "vip"}"#),
        post("/customers", r#"{"name": "a", "tags": ["ok", 7]}"#),
        post("/customers", r#"{"name": "a", "nickname": "x"}"#),
        post("/customers", r#"{"name": "a", "balance_minor": 5, "id": "x"}"#),
        post("/customers", r#"{"name": "a", "billing_address": {"zip": "1"}}"#),
        post("/customers", r#"{"name": "a", "billing_address": "nowhere"}"#),
        post("/customers", r#"{"name": "a\u0000b", "notes": "ok"}"#),
        post("/customers", r#"{"name": "a", "status": null}"#),
        post("/customers", "{"),
        post("/customers", r#"{"name": NaN}"#),
        post("/customers", "[]"),
        post("/customers", r#"{"name": "a"}"#).content_type("text/plain"),
        get("/customers"),
        get("/customers?q=ada"),
        get("/customers?q=%20%20"),
        get("/customers?q=%00"),
        get("/customers?status=lead&sort=-name"),
        get("/customers?status=gone"),
        get("/customers?tag=vip&tag=gold"),
        get("/customers?created_after=2020-01-01T00:00:00Z&created_before=2999-01-01T00:00:00.5%2B01:00"),
        get("/customers?created_after=yesterday"),
        get("/customers?sort=email"),
        get("/customers?limit=1"),
        get("/customers?limit=%2B2"),
        get("/customers?limit=0"),
        get("/customers?limit=201"),
        get("/customers?cursor=not-a-cursor"),
        get("/customers/{c}"),
        get("/customers/not-a-uuid"),
        get("/customers/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        patch("/customers/{c}", r#"{"notes": "n", "status": null}"#),
        patch("/customers/{c}", r#"{"notes": "gate code", "phone": " +1 555 0100 "}"#)
            .if_match("\"1\""),
        patch("/customers/{c}", r#"{"notes": "stale"}"#).if_match("\"1\""),
        patch("/customers/{c}", r#"{"currency": "EUR"}"#),
        post(
            "/customers/{c}/locations",
            r#"{"label": " Home ", "address": {"line1": " 12 St James's Square ", "line2": "", "city": "London"},
                "latitude": 51.507, "longitude": -0.134, "property": {"gate": "1234"}}"#,
        )
        .capture("l"),
        post(
            "/customers/{c}/locations",
            r#"{"label": "Depot", "latitude": 51.52, "longitude": -0.1}"#,
        ),
        post("/customers/{c}/locations", r#"{"latitude": 10}"#),
        post("/customers/{c}/locations", r#"{"latitude": 91, "longitude": 0}"#),
        post("/customers/{c}/locations", r#"{"address_text": "x", "customer_id": "y"}"#),
        post("/customers/{c}/locations", r#"{"property": null, "label": "x"}"#),
        post("/customers/{c}/locations", r#"{"latitude": "north", "longitude": 1}"#),
        post("/customers/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/locations", r#"{"label": "x"}"#),
        get("/customers/{c}/locations"),
        get("/locations"),
        get("/locations?near=51.5,-0.13&radius_km=5"),
        get("/locations?near=51.5,-0.13&radius_km=50&limit=1"),
        get("/locations?near=51.5,-0.13&radius_km=50&limit=1&cursor=1"),
        get("/locations?near=51.5,-0.13&cursor=x"),
        get("/locations?near=north"),
        get("/locations?near=91,0"),
        get("/locations?near=51.5,-0.13&radius_km=0"),
        get("/locations?near=51.5,-0.13&radius_km=inf"),
        get("/locations?near=51.5,-0.13&radius_km=far"),
        get("/locations/{l}"),
        patch("/locations/{l}", r#"{"latitude": null, "longitude": null, "access_notes": "ring"}"#),
        patch("/locations/{l}", r#"{"latitude": 1}"#),
        post(
            "/customers/{c}/contacts",
            r#"{"name": " Pat ", "email": " P@X.io ", "role": " owner ", "is_primary": true}"#,
        )
        .capture("k"),
        post("/customers/{c}/contacts", r#"{"role": "x"}"#),
        post("/customers/{c}/contacts", r#"{"name": "Sam", "is_primary": "yes"}"#),
        patch("/contacts/{k}", r#"{"is_primary": null, "email": "nope"}"#),
        patch("/contacts/{k}", r#"{"phone": "+44 20 7946 0958"}"#),
        get("/customers/{c}/contacts"),
        get("/contacts/{k}"),
        delete("/contacts/{k}"),
        get("/contacts/{k}"),
        delete("/locations/{l}").if_match("\"9\""),
        delete("/locations/{l}"),
        delete("/customers/{c}").if_match("\"9\""),
        delete("/customers/{c}").if_match("\"2\""),
        get("/customers/{c}"),
        delete("/customers/{c}"),
    ]
}
