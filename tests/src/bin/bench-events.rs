//! The event-delivery benchmark: how many events a second go from the outbox to one module
//! subscriber and to one webhook receiver, and how long each takes from its transaction to
//! its delivery. `scripts/bench-events.sh` builds what it needs and runs it; BENCHMARKS.md
//! has the numbers.
//!
//! One server (`VEROFIELD_BIN`, the release binary) on the shared test cluster, production
//! event settings. Load is open-loop: customers created over HTTP at a fixed rate, spread over
//! the tenants, each create one `customer.created` event. Module run: every tenant's `sink`
//! slot is the event-sink fixture, which tags the customer (a write in the event's tenant
//! transaction). Webhook run: every tenant has one endpoint on a local receiver.
//!
//! Latency runs from the event's `occurred_at` (the start of the transaction that wrote it,
//! a little before its commit, so the figure errs high) to the subscriber's effect: the
//! delivery's `finished_at` (clock time as the sink's write commits) or the receiver's arrival
//! time. Both clocks are this machine's.
//!
//! Usage: `bench-events [module|webhook] [RATE...] [--seconds N] [--tenants N]`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use verofield_tests::*;

struct Args {
    runs: Vec<Target>,
    rates: Vec<u32>,
    seconds: u32,
    tenants: usize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Module,
    Webhook,
}

fn parse_args() -> Args {
    let mut args = Args {
        runs: Vec::new(),
        rates: Vec::new(),
        seconds: 20,
        tenants: 10,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || {
            given
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} takes a number"))
        };
        match arg.as_str() {
            "module" => args.runs.push(Target::Module),
            "webhook" => args.runs.push(Target::Webhook),
            "--seconds" => args.seconds = value(),
            "--tenants" => args.tenants = value() as usize,
            rate => args
                .rates
                .push(rate.parse().unwrap_or_else(|_| panic!("unknown `{rate}`"))),
        }
    }
    if args.runs.is_empty() {
        args.runs = vec![Target::Module, Target::Webhook];
    }
    if args.rates.is_empty() {
        args.rates = vec![100, 250, 500, 1000];
    }
    args
}

/// What one run at one rate measured.
struct Measured {
    target: Target,
    offered: f64,
    events: usize,
    created_per_sec: f64,
    delivered_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    fan_out_p50_ms: f64,
    fan_out_p99_ms: f64,
    failed_creates: usize,
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let receiver = Receiver::start();
    let server =
        TestServer::start_with(ServerOptions::new().with_builtin_modules().local_outbound()).await;
    let mut results = Vec::new();
    for target in &args.runs {
        let tenants = setup(&server, *target, args.tenants, &receiver).await;
        for rate in &args.rates {
            let measured = run(&server, &tenants, *target, *rate, args.seconds, &receiver).await;
            print_row(&measured);
            results.push(measured);
        }
    }
    println!();
    println!(
        "| subscriber | offered/s | events | created/s | delivered/s | p50 ms | p99 ms | max ms \
         | fanned out p50 / p99 ms | creates failed |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in &results {
        print_row(m);
    }
}

fn print_row(m: &Measured) {
    println!(
        "| {:?} | {:.0} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {} |",
        m.target,
        m.offered,
        m.events,
        m.created_per_sec,
        m.delivered_per_sec,
        m.p50_ms,
        m.p99_ms,
        m.max_ms,
        m.fan_out_p50_ms,
        m.fan_out_p99_ms,
        m.failed_creates,
    );
}

/// A tenant of the run: its fixture and its owner's client.
struct Tenant {
    fixture: TenantFixture,
    api: Api,
}

async fn setup(
    server: &TestServer,
    target: Target,
    count: usize,
    receiver: &Receiver,
) -> Vec<Tenant> {
    let mut tenants = Vec::new();
    for n in 0..count {
        let scenario = server.scenario(&unique(&format!("bench{n}"))).await;
        tenants.push(Tenant {
            fixture: scenario.tenant.clone(),
            api: scenario.owner.clone(),
        });
    }
    match target {
        Target::Module => {
            let slugs: Vec<&str> = tenants.iter().map(|t| t.fixture.slug.as_str()).collect();
            let digest = server
                .publish_module(&fixture_component("event-sink"), &slugs)
                .await;
            for tenant in &tenants {
                bind(&tenant.api, "sink", &digest).await;
            }
        }
        Target::Webhook => {
            for tenant in &tenants {
                tenant
                    .api
                    .post(
                        "/v1/webhooks/endpoints",
                        &json!({"url": receiver.url("/hook"), "event_types": ["customer.created"]}),
                    )
                    .await
                    .expect_status(201);
            }
        }
    }
    tenants
}

async fn run(
    server: &TestServer,
    tenants: &[Tenant],
    target: Target,
    rate: u32,
    seconds: u32,
    receiver: &Receiver,
) -> Measured {
    let total = (rate * seconds) as usize;
    let since = Utc::now();
    let started = Instant::now();
    let mut creates = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        tick.tick().await;
        let api = tenants[n % tenants.len()].api.clone();
        creates.spawn(async move {
            api.post("/v1/crm/customers", &json!({"name": format!("c{n}")}))
                .await
                .status
                == StatusCode::CREATED
        });
    }
    let mut failed_creates = 0;
    while let Some(created) = creates.join_next().await {
        failed_creates += usize::from(!created.unwrap());
    }
    let generating = started.elapsed().as_secs_f64();
    let expected = total - failed_creates;
    let latencies = wait_for_deliveries(server, tenants, target, since, expected, receiver).await;
    let first = latencies.iter().map(|l| l.occurred).min().unwrap();
    let last = latencies.iter().map(|l| l.delivered).max().unwrap();
    let span = (last - first).as_seconds_f64();
    let mut ms: Vec<f64> = latencies.iter().map(|l| l.millis()).collect();
    ms.sort_by(f64::total_cmp);
    let mut fan_out: Vec<f64> = latencies.iter().map(|l| l.fan_out_millis()).collect();
    fan_out.sort_by(f64::total_cmp);
    Measured {
        target,
        offered: f64::from(rate),
        events: ms.len(),
        created_per_sec: expected as f64 / generating,
        delivered_per_sec: ms.len() as f64 / span,
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        max_ms: *ms.last().unwrap(),
        fan_out_p50_ms: percentile(&fan_out, 0.50),
        fan_out_p99_ms: percentile(&fan_out, 0.99),
        failed_creates,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One event: when its transaction wrote it, when a dispatcher fanned it out, and when its
/// subscriber's effect happened.
struct Latency {
    occurred: DateTime<Utc>,
    fanned_out: DateTime<Utc>,
    delivered: DateTime<Utc>,
}

impl Latency {
    fn millis(&self) -> f64 {
        (self.delivered - self.occurred).as_seconds_f64() * 1000.0
    }

    fn fan_out_millis(&self) -> f64 {
        (self.fanned_out - self.occurred).as_seconds_f64() * 1000.0
    }
}

/// Polls until every event of the run reached its subscriber, then pairs the times.
async fn wait_for_deliveries(
    server: &TestServer,
    tenants: &[Tenant],
    target: Target,
    since: DateTime<Utc>,
    expected: usize,
    receiver: &Receiver,
) -> Vec<Latency> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let occurred = occurred_since(server, tenants, since).await;
        let delivered = match target {
            Target::Module => module_deliveries(server, tenants, since).await,
            Target::Webhook => webhook_arrivals(receiver),
        };
        let latencies: Vec<Latency> = occurred
            .iter()
            .filter_map(|(id, (occurred, fanned_out))| {
                let fanned_out = (*fanned_out)?;
                delivered.get(id).map(|delivered| Latency {
                    occurred: *occurred,
                    fanned_out,
                    delivered: *delivered,
                })
            })
            .collect();
        if latencies.len() >= expected {
            return latencies;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {expected} delivered after 10 minutes",
            latencies.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The run's `customer.created` events: id -> (occurred_at, fanned out at).
async fn occurred_since(
    server: &TestServer,
    tenants: &[Tenant],
    since: DateTime<Utc>,
) -> HashMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut all = HashMap::new();
    for tenant in tenants {
        let rows: Vec<(uuid::Uuid, DateTime<Utc>, Option<DateTime<Utc>>)> = tenant_rows(
            server,
            &tenant.fixture,
            "SELECT id, occurred_at, delivered_at FROM event_outbox
             WHERE event_type = 'customer.created' AND occurred_at >= $1",
            since,
        )
        .await;
        all.extend(
            rows.into_iter()
                .map(|(id, at, out)| (id.to_string(), (at, out))),
        );
    }
    all
}

/// The module subscriber's deliveries since `since`: event id -> finished_at.
async fn module_deliveries(
    server: &TestServer,
    tenants: &[Tenant],
    since: DateTime<Utc>,
) -> HashMap<String, DateTime<Utc>> {
    let mut all = HashMap::new();
    for tenant in tenants {
        let rows: Vec<(uuid::Uuid, DateTime<Utc>)> = tenant_rows(
            server,
            &tenant.fixture,
            "SELECT event_id, finished_at FROM event_deliveries
             WHERE subscriber = 'module:sink' AND state = 'delivered' AND created_at >= $1",
            since,
        )
        .await;
        all.extend(rows.into_iter().map(|(id, at)| (id.to_string(), at)));
    }
    all
}

/// The receiver's first arrival of each event (its `webhook-id`): event id -> arrival.
fn webhook_arrivals(receiver: &Receiver) -> HashMap<String, DateTime<Utc>> {
    let mut all = HashMap::new();
    for received in receiver.received() {
        let id = received.header("webhook-id").to_owned();
        let at: DateTime<Utc> = received.arrived.into();
        all.entry(id).or_insert(at);
    }
    all
}

async fn tenant_rows<Row>(
    server: &TestServer,
    tenant: &TenantFixture,
    sql: &str,
    since: DateTime<Utc>,
) -> Vec<Row>
where
    Row: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut db = server.db().await;
    let mut tx = as_app_role(
        &mut db,
        &format!("SET LOCAL app.tenant_id = '{}'", tenant.id),
    )
    .await;
    sqlx::query_as(sql)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}
