//! Usage metering (issue 24, item 4): a scripted workload (creates, lists, misses, and the
//! event deliveries the creates cause) counted by the test itself matches what
//! `GET /v1/tenant/usage` reports after a flush within 1 %; another tenant never sees it; the
//! operator sees each tenant's, and every tenant's totals page by page; CPU time is positive
//! and within the wall time; the storage bytes of a module's collections are each tenant's
//! own, as the test sums them itself; bad parameters are refused naming the parameter; and what a
//! host gathered since its last flush is written when it shuts down. A trap counts as a failed
//! call, and the Prometheus counters carry no tenant. Past a monthly quota the operator set,
//! module requests answer 429 `quota_exceeded` with `Retry-After`; other tenants go on.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use verofield_tests::*;

const USAGE: &str = "/v1/tenant/usage";
const CUSTOMERS: &str = "/v1/crm/customers";

/// Built-in modules, quick event delivery, and the meter flushed every 50 ms.
fn host() -> ServerOptions {
    ServerOptions::new()
        .with_builtin_modules()
        .quick_events()
        .args(["--usage-flush-ms", "50"])
}

/// What the test sent, counted on its side.
#[derive(Default)]
struct Workload {
    crm_calls: i64,
    /// Customers created: each emits one `customer.created`, delivered once to the sink.
    deliveries: i64,
    /// The requests' round trips as the client saw them: the modules' wall time is within.
    client_us: i64,
}

impl Workload {
    fn count(&mut self, response: Resp, started: Instant, status: u16) {
        response.expect_status(status);
        self.client_us += started.elapsed().as_micros() as i64;
        self.crm_calls += 1;
    }
}

/// `creates` customers (each one `customer.created` for the sink), `lists` lists and `misses`
/// reads of a customer that does not exist (a 404 the module answers).
async fn run(api: &Api, creates: i64, lists: i64, misses: i64) -> Workload {
    let mut work = Workload::default();
    for i in 0..creates {
        let started = Instant::now();
        let body = json!({"name": format!("Customer {i}")});
        work.count(api.post(CUSTOMERS, &body).await, started, 201);
    }
    for _ in 0..lists {
        let started = Instant::now();
        work.count(api.get(CUSTOMERS).await, started, 200);
    }
    for _ in 0..misses {
        let started = Instant::now();
        let missing = format!("{CUSTOMERS}/{}", uuid::Uuid::now_v7());
        work.count(api.get(&missing).await, started, 404);
    }
    work.deliveries = creates;
    work
}

/// The report's row for `module` (grouped by module), once its calls reach `at_least`.
async fn module_row(api: &Api, path: &str, module: &str, at_least: i64) -> Value {
    eventually(
        &format!("{module}'s usage to reach {at_least} calls"),
        async || {
            let report = api.get(path).await;
            report.expect_status(200);
            let items = report.json["items"].as_array().cloned().unwrap_or_default();
            items
                .into_iter()
                .find(|row| row["module"] == module && row["calls"].as_i64() >= Some(at_least))
        },
    )
    .await
}

fn assert_within_one_percent(what: &str, measured: i64, counted: i64) {
    let off = (measured - counted).abs() as f64;
    assert!(
        off <= counted as f64 * 0.01,
        "{what}: metered {measured}, counted {counted}"
    );
}

#[tokio::test]
async fn metered_figures_match_the_workloads_own_count() {
    let server = TestServer::start_with(host()).await;
    let a = server.sink_tenant("usage-a").await;
    let work = run(&a.owner, 40, 30, 30).await;
    let by_module = format!("{USAGE}?group_by=module");

    let crm = module_row(&a.owner, &by_module, "crm", work.crm_calls).await;
    assert_within_one_percent("crm calls", crm["calls"].as_i64().unwrap(), work.crm_calls);
    assert_eq!(crm["failures"], 0, "{crm}");
    let wall_us = crm["wall_us"].as_i64().unwrap();
    assert!(
        wall_us > 0 && wall_us <= work.client_us,
        "{crm} vs {}",
        work.client_us
    );
    // CPU cannot be counted from outside: a call's polls run one at a time within its wall time.
    let cpu_us = crm["cpu_us"].as_i64().unwrap();
    assert!(cpu_us > 0 && cpu_us <= wall_us, "{crm}");
    assert!(crm["host_calls"].as_i64() >= Some(work.crm_calls), "{crm}");
    assert!(crm["rows_read"].as_i64() > Some(0), "{crm}");
    let emitted = crm["events_emitted"].as_i64().unwrap();
    assert_within_one_percent("events emitted", emitted, work.deliveries);
    assert!(
        crm["rows_written"].as_i64() >= Some(work.deliveries),
        "{crm}"
    );
    assert_eq!(crm["outbound_requests"], 0, "{crm}");

    let sink = module_row(&a.owner, &by_module, "event-sink", work.deliveries).await;
    assert_within_one_percent(
        "deliveries",
        sink["calls"].as_i64().unwrap(),
        work.deliveries,
    );

    // The sink tags each customer it hears of: one update per delivery.
    let tagged = sink["rows_written"].as_i64().unwrap();
    assert_within_one_percent("rows the sink wrote", tagged, work.deliveries);

    println!(
        "counted {} crm calls, {} deliveries; metered crm {crm}, sink {sink}",
        work.crm_calls, work.deliveries
    );
    let hourly = a.owner.get(USAGE).await;
    hourly.expect_status(200);
    let calls: i64 = hourly.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["calls"].as_i64().unwrap())
        .sum();
    assert_within_one_percent("all calls by hour", calls, work.crm_calls + work.deliveries);
}

#[tokio::test]
async fn another_tenant_sees_none_of_it_and_the_operator_sees_each() {
    let server = TestServer::start_with(host()).await;
    let a = server.scenario("usage-iso-a").await;
    let b = server.scenario("usage-iso-b").await;
    let work = run(&a.owner, 5, 5, 0).await;
    let by_module = format!("{USAGE}?group_by=module");
    module_row(&a.owner, &by_module, "crm", work.crm_calls).await;

    let seen_by_b = b.owner.get(&by_module).await;
    seen_by_b.expect_status(200);
    assert_eq!(seen_by_b.json["items"], json!([]), "{}", seen_by_b.text);
    let naming_a = b.owner.get(&format!("{USAGE}?tenant=usage-iso-a")).await;
    naming_a.expect_problem(422, "validation_failed");
    assert_eq!(naming_a.json["errors"][0]["field"], "tenant");

    let operator = server.operator();
    let of_a = "/v1/operator/usage?tenant=usage-iso-a&group_by=module";
    let crm = module_row(&operator, of_a, "crm", work.crm_calls).await;
    assert_eq!(crm["calls"], work.crm_calls);
    let of_b = operator.get("/v1/operator/usage?tenant=usage-iso-b").await;
    assert_eq!(of_b.json["items"], json!([]), "{}", of_b.text);
    operator.get(USAGE).await.expect_status(401);
}

/// Every tenant's total calls in the operator's view across tenants, read page by page
/// (`limit=1`): slug to calls, each tenant once.
async fn every_tenants_calls(operator: &Api) -> std::collections::BTreeMap<String, i64> {
    let mut calls = std::collections::BTreeMap::new();
    let mut path = "/v1/operator/usage?limit=1".to_owned();
    loop {
        let page = operator.get(&path).await;
        page.expect_status(200);
        for row in page.items() {
            let slug = row["tenant"].as_str().unwrap().to_owned();
            assert!(calls.insert(slug, row["calls"].as_i64().unwrap()).is_none());
        }
        let Some(cursor) = page.json["next_cursor"].as_str() else {
            return calls;
        };
        path = format!("/v1/operator/usage?limit=1&cursor={cursor}");
    }
}

#[tokio::test]
async fn the_operator_reads_every_tenants_totals_page_by_page() {
    let server = TestServer::start_with(host()).await;
    let a = server.scenario("usage-all-a").await;
    let b = server.scenario("usage-all-b").await;
    let (work_a, work_b) = (run(&a.owner, 4, 3, 0).await, run(&b.owner, 0, 2, 1).await);
    let operator = server.operator();
    let seen = eventually("every tenant's calls flushed", async || {
        let seen = every_tenants_calls(&operator).await;
        let flushed = seen.get("usage-all-a") == Some(&work_a.crm_calls)
            && seen.get("usage-all-b") == Some(&work_b.crm_calls);
        flushed.then_some(seen)
    })
    .await;
    assert_eq!((seen["usage-all-a"], seen["usage-all-b"]), (7, 3));
    b.owner
        .get("/v1/operator/usage")
        .await
        .expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_the_parameter() {
    let server = TestServer::start_with(host()).await;
    let a = server.scenario("usage-bad").await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("group_by=week", "group_by"),
        ("from=2026-12-07T00:00:00Z&to=2026-12-06T00:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ] {
        let refused = a.owner.get(&format!("{USAGE}?{query}")).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(
            refused.json["errors"][0]["field"], field,
            "{query}: {}",
            refused.text
        );
    }
    let unknown = a.owner.get(&format!("{USAGE}?bucket=hour")).await;
    unknown.expect_problem(400, "invalid_query_parameter");
    for (query, field) in [
        ("group_by=module", "group_by"),
        ("tenant=usage-bad&limit=5", "limit"),
    ] {
        let refused = server
            .operator()
            .get(&format!("/v1/operator/usage?{query}"))
            .await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(refused.json["errors"][0]["field"], field, "{query}");
    }
    let nobody = server
        .operator()
        .get("/v1/operator/usage?tenant=no-such")
        .await;
    nobody.expect_status(404);
}

#[tokio::test]
async fn shutdown_flushes_what_the_interval_had_not() {
    let mut server = TestServer::start_with(
        ServerOptions::new()
            .with_builtin_modules()
            .args(["--usage-flush-ms", "3600000"]),
    )
    .await;
    let a = server.scenario("usage-stop").await;
    let work = run(&a.owner, 3, 4, 0).await;
    let tenant = a.tenant.id;
    server.signal(Signal::SIGTERM);
    server
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the server stops");

    let mut db = server.db().await;
    let mut tx = as_app_role(&mut db, &format!("SET LOCAL app.tenant_id = '{tenant}'")).await;
    let calls: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0)::bigint FROM module_usage WHERE module = 'crm'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(calls, work.crm_calls);
}

#[tokio::test]
async fn a_trapped_call_is_a_failure_and_metrics_name_no_tenant() {
    let server = TestServer::start_with(host()).await;
    let a = server.scenario("usage-trap").await;
    let digest = server
        .publish_module(&fixture_component("panic"), &["usage-trap"])
        .await;
    bind(&a.owner, "panic", &digest).await;
    for _ in 0..3 {
        let trapped = a.owner.get("/v1/panic").await;
        trapped.expect_problem(500, "module_trap");
    }

    let row = module_row(&a.owner, &format!("{USAGE}?group_by=module"), "panic", 3).await;
    assert_eq!(
        (&row["calls"], &row["failures"]),
        (&json!(3), &json!(3)),
        "{row}"
    );
    let metrics = server.anon().get("/metrics").await.text;
    assert!(
        metrics.contains("module_calls_total{module=\"panic\"} 3"),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&a.tenant.id.to_string()),
        "a tenant id in /metrics"
    );
}

/// The bytes of `tenant`'s rows in the collection-probe's `tickets`, counted by the test as
/// the database's admin, outside the host and its RLS.
async fn ticket_bytes(server: &TestServer, tenant: uuid::Uuid) -> i64 {
    let mut db = server.db().await;
    sqlx::query_scalar(
        "SELECT coalesce(sum(pg_column_size(t.*)), 0)::bigint
         FROM mod_collection_probe.tickets t WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&mut db)
    .await
    .unwrap()
}

#[tokio::test]
async fn storage_bytes_of_module_collections_are_each_tenants_own() {
    let server =
        TestServer::start_with(ServerOptions::new().args(["--usage-flush-ms", "50"])).await;
    let tenants = server
        .tenants_on_fixture(
            &["usage-rows-a", "usage-rows-b"],
            "collection-probe",
            "cprobe",
        )
        .await;
    for (count, (_, api)) in [(6, &tenants[0]), (2, &tenants[1])] {
        for i in 0..count {
            let body = json!({"title": format!("Ticket number {i}"), "meta": {"i": i}});
            api.post("/v1/cprobe/rows/tickets", &body)
                .await
                .expect_status(201);
        }
    }
    for (tenant, api) in &tenants {
        let counted = ticket_bytes(&server, tenant.id).await;
        let path = format!("{USAGE}?group_by=module");
        let row = eventually("the storage sample", async || {
            let report = api.get(&path).await;
            let items = report.json["items"].as_array().cloned().unwrap_or_default();
            items
                .into_iter()
                .find(|row| row["storage_bytes"].as_i64() == Some(counted))
        })
        .await;
        assert_eq!(row["module"], "collection-probe", "{row}");
    }
    assert!(
        ticket_bytes(&server, tenants[0].0.id).await > ticket_bytes(&server, tenants[1].0.id).await
    );
}

const QUOTA: &str = "/v1/operator/usage/quota";

async fn set_quota(server: &TestServer, tenant: &str, monthly_calls: Value) -> Resp {
    let body = json!({"tenant": tenant, "monthly_calls": monthly_calls});
    send(server.operator().request(Method::PUT, QUOTA).json(&body)).await
}

#[tokio::test]
async fn past_its_monthly_quota_a_tenant_gets_429_until_the_next_month() {
    let server = TestServer::start_with(host()).await;
    let a = server.scenario("usage-quota-a").await;
    let b = server.scenario("usage-quota-b").await;
    set_quota(&server, "usage-quota-a", json!(3))
        .await
        .expect_status(200);
    for _ in 0..3 {
        a.owner.get(CUSTOMERS).await.expect_status(200);
    }

    let refused = a.owner.get(CUSTOMERS).await;
    refused.expect_problem(429, "quota_exceeded");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31 * 86_400).contains(&retry_after), "{retry_after}");
    b.owner.get(CUSTOMERS).await.expect_status(200);

    set_quota(&server, "usage-quota-a", Value::Null)
        .await
        .expect_status(200);
    a.owner.get(CUSTOMERS).await.expect_status(200);
    let zero = set_quota(&server, "usage-quota-a", json!(0)).await;
    zero.expect_problem(422, "validation_failed");
    set_quota(&server, "no-such", json!(5))
        .await
        .expect_status(404);
}
