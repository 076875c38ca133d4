//! The agreement billing run benchmark: how long the `billing` module's nightly task takes to
//! draft one invoice for each of N agreements billed monthly in advance, and at how many drafts
//! a second. `scripts/bench-billing-run.sh` builds what it needs and runs it; BENCHMARKS.md has
//! the numbers.
//!
//! One server (`VEROFIELD_BIN`, the release binary) with the built-in modules, one tenant with
//! one customer, location and priced service type. The N agreements are written straight into
//! the store as active ([`seed_active_agreements`]: activating them over HTTP would also
//! generate their jobs, which the run does not read for agreements billed per period). The run is the real one: the scheduled task is made due
//! now, the scheduler appends its tick, the dispatcher delivers it to `billing`, whose handler
//! drafts through the store, a hundred agreements a delivery, each batch continuing the run on
//! billing's own `agreement_run.continued` event. Reported: from due to the first batch's
//! start (the earliest draft's `created_at`), the drafting (to the last batch's delivery
//! `finished_at`), the whole, and drafts per second of drafting.
//!
//! Usage: `bench-billing-run [AGREEMENTS...]` (default 10000).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use verofield_tests::*;

const TASK: &str = "billing:agreement-billing";
/// How long one run may take before the benchmark gives up and says so.
const GIVE_UP: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() {
    let sizes: Vec<i64> = std::env::args()
        .skip(1)
        .map(|n| n.parse().expect("a number of agreements"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    let options = ServerOptions::new()
        .with_builtin_modules()
        .args(["--scheduler-interval-ms", "50"]);
    let server = TestServer::start_with(options).await;
    println!(
        "| agreements | drafts | due to start (s) | drafting (s) | due to committed (s) | drafts/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        let shop = server.scenario(&unique("billrun")).await;
        let customer = shop.customer("Big Plan Co").await;
        let location = shop.location(&customer, "Depot").await;
        let service = shop.service_type("Monthly service", 60, 9_900, &[]).await;
        let mut db = server.db().await;
        let tenant = shop.tenant.id;
        seed_active_agreements(&mut db, tenant, &customer, &location, &service, size).await;
        eventually("the billing task", async || {
            task_runs(&mut db, tenant, TASK).await
        })
        .await;
        // Due from now on: the scheduler's hint is what makes the next tick run it.
        let due = Utc::now();
        make_task_due(&mut db, tenant, TASK).await;
        let started = Instant::now();
        let drafted = loop {
            let (count, first, last) = drafts(&mut db, shop.tenant.id).await;
            if count >= size {
                break Some((count, first, last));
            }
            if started.elapsed() > GIVE_UP {
                eprintln!(
                    "gave up with {count} of {size} drafts: {}",
                    last_error(&mut db, shop.tenant.id).await
                );
                break None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let done = delivered_at(&mut db, shop.tenant.id).await;
        match (drafted, done) {
            (Some((count, Some(first), _)), Some(done)) => {
                let seconds = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).as_seconds_f64();
                let drafting = seconds(first, done);
                println!(
                    "| {size} | {count} | {:.2} | {drafting:.2} | {:.2} | {:.0} |",
                    seconds(due, first),
                    seconds(due, done),
                    count as f64 / drafting
                );
            }
            _ => println!(
                "| {size} | not finished in {} s | | | | |",
                GIVE_UP.as_secs()
            ),
        }
    }
}

/// When billing's last delivery of the run (the tick, then its continuations) ended: its
/// drafts committed then.
async fn delivered_at(db: &mut PgConnection, tenant: Uuid) -> Option<DateTime<Utc>> {
    sqlx::query_scalar(
        "SELECT max(d.finished_at) FROM event_deliveries d JOIN event_outbox o
           ON o.tenant_id = d.tenant_id AND o.id = d.event_id
         WHERE d.tenant_id = $1 AND d.subscriber = 'module:billing' AND d.state = 'delivered'
           AND o.event_type IN ('schedule.tick', 'agreement_run.continued')",
    )
    .bind(tenant)
    .fetch_one(db)
    .await
    .expect("reading the run's deliveries")
}

/// How many agreement drafts exist, and when the first and the last were written.
async fn drafts(
    db: &mut PgConnection,
    tenant: Uuid,
) -> (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    sqlx::query_as(
        "SELECT count(*), min(created_at), max(created_at) FROM store.billing_invoices
         WHERE tenant_id = $1 AND source = 'agreement_period'",
    )
    .bind(tenant)
    .fetch_one(db)
    .await
    .expect("counting drafts")
}

/// The billing delivery's last error, when the run failed.
async fn last_error(db: &mut PgConnection, tenant: Uuid) -> String {
    let error: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(state || ': ' || coalesce(last_error, ''), '; ')
         FROM event_deliveries WHERE tenant_id = $1 AND subscriber = 'module:billing'",
    )
    .bind(tenant)
    .fetch_one(db)
    .await
    .expect("reading deliveries");
    error.unwrap_or_default()
}
