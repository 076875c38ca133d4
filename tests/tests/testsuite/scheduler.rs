//! Scheduled work (issue 21, item 3): tasks appear for a tenant from its modules' manifests
//! and the host's own, a due task runs once although three hosts share the database (one
//! `schedule.tick` in the outbox for a module task; one run for the host's prune), the API
//! lists the last run, and another tenant never sees a tenant's tasks.

use sqlx::{PgConnection, Row};
use uuid::Uuid;
use verofield_tests::*;

const TASKS: &str = "/v1/scheduled-tasks";
const EXTEND: &str = "work-orders:extend-horizon";
const LAPSE: &str = "agreements:lapse";
const PRUNE: &str = "host:prune";
/// The host's prune and the built-ins' tasks: work orders' horizon, agreements' lapse,
/// billing's agreement periods and its dunning retries.
const TASKS_PER_TENANT: usize = 5;

/// A host ticking every 50 ms, with the built-in modules.
fn host() -> ServerOptions {
    ServerOptions::new()
        .with_builtin_modules()
        .args(["--scheduler-interval-ms", "50"])
}

async fn owner_api(server: &TestServer, tenant: &TenantFixture) -> Api {
    server.client_for(&server.login_owner(tenant).await.access)
}

/// The tenant's tasks by name, once the scheduler has reconciled them.
async fn listed(api: &Api) -> Vec<Value> {
    eventually("the tenant's scheduled tasks", async || {
        let response = api.get(TASKS).await;
        response.expect_status(200);
        let items = response.json["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (items.len() >= TASKS_PER_TENANT).then_some(items)
    })
    .await
}

fn task<'a>(tasks: &'a [Value], name: &str) -> &'a Value {
    tasks
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {tasks:#?}"))
}

/// Waits until the task has run `runs` times, and a scheduler has visited the tenant since
/// (its hint points at a later run), so that a second run would have happened by then.
async fn ran(db: &mut PgConnection, tenant: Uuid, name: &str, runs: i64) {
    eventually(&format!("{name} to run {runs} time(s)"), async || {
        let row = sqlx::query(
            "SELECT s.runs, s.lease_until IS NULL AS idle, d.due_at > now() AS hinted
             FROM scheduled_tasks s JOIN dispatch.due_tasks d ON d.tenant_id = s.tenant_id
             WHERE s.tenant_id = $1 AND s.name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_one(&mut *db)
        .await
        .unwrap();
        let done = row.get::<i64, _>("runs") >= runs
            && row.get::<bool, _>("idle")
            && row.get::<Option<bool>, _>("hinted") == Some(true);
        done.then_some(())
    })
    .await;
}

async fn ticks(db: &mut PgConnection, tenant: Uuid) -> Vec<(String, Option<String>, Value)> {
    sqlx::query_as(
        "SELECT source, target, payload FROM event_outbox
         WHERE tenant_id = $1 AND event_type = 'schedule.tick' ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_due_task_runs_once_across_three_hosts_and_is_listed_with_its_run() {
    let first = TestServer::start_with(host()).await;
    let url = first.test_db().url.clone();
    let _second = TestServer::start_with(host().env("DATABASE_URL", &url)).await;
    let _third = TestServer::start_with(host().env("DATABASE_URL", &url)).await;
    let tenant = first.create_tenant(&unique("sched")).await;
    let api = owner_api(&first, &tenant).await;

    // The modules' manifests and the host declare the tasks; each gets its first run.
    let tasks = listed(&api).await;
    let extend = task(&tasks, EXTEND);
    assert_eq!(extend["kind"], "module");
    assert_eq!(extend["slot"], "work-orders");
    assert_eq!(extend["schedule"], "daily 01:00");
    assert_eq!(extend["timezone"], "UTC");
    assert_eq!(extend["runs"], 0);
    assert!(extend["last_run_at"].is_null());
    let next: chrono::DateTime<chrono::Utc> =
        extend["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.format("%H:%M:%S").to_string(), "01:00:00");
    assert!(next > chrono::Utc::now() && next - chrono::Utc::now() <= chrono::Duration::days(1));
    assert_eq!(task(&tasks, LAPSE)["schedule"], "daily 00:05");
    assert_eq!(task(&tasks, PRUNE)["kind"], "host");
    assert!(task(&tasks, PRUNE)["slot"].is_null());

    // Due now: three hosts ticking every 50 ms, one tick in the outbox.
    let mut db = first.db().await;
    let scheduled_for = make_task_due(&mut db, tenant.id, EXTEND).await;
    ran(&mut db, tenant.id, EXTEND, 1).await;
    let outbox = ticks(&mut db, tenant.id).await;
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    let (source, target, payload) = &outbox[0];
    assert_eq!(source, "host");
    assert_eq!(target.as_deref(), Some("module:work-orders"));
    assert_eq!(payload["task"], "extend-horizon");
    assert_eq!(payload["timezone"], "UTC");
    let when: chrono::DateTime<chrono::Utc> =
        payload["scheduled_for"].as_str().unwrap().parse().unwrap();
    assert_eq!(when, scheduled_for);

    // The listing shows the run, and the next one tomorrow-or-today at 01:00 again.
    let tasks = listed(&api).await;
    let extend = task(&tasks, EXTEND);
    assert_eq!(extend["runs"], 1);
    assert!(extend["last_run_at"].is_string());
    assert!(extend["last_error"].is_null());
    let next: chrono::DateTime<chrono::Utc> =
        extend["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now());

    // The host's own task runs on one host too, and records its outcome.
    make_task_due(&mut db, tenant.id, PRUNE).await;
    ran(&mut db, tenant.id, PRUNE, 1).await;
    let tasks = listed(&api).await;
    let prune = task(&tasks, PRUNE);
    assert_eq!(prune["runs"], 1, "{prune:#?}");
    assert!(prune["last_error"].is_null(), "{prune:#?}");
    assert!(prune["last_duration_ms"].is_i64());
    assert_eq!(
        ticks(&mut db, tenant.id).await.len(),
        1,
        "pruning appends no tick"
    );

    // The operator sees the same list by slug.
    let operator = first
        .operator()
        .get(&format!(
            "/v1/operator/scheduled-tasks?tenant={}",
            tenant.slug
        ))
        .await;
    operator.expect_status(200);
    assert_eq!(
        task(operator.json["items"].as_array().unwrap(), EXTEND)["runs"],
        1
    );
}

#[tokio::test]
async fn another_tenant_never_sees_a_tenants_tasks() {
    let server = TestServer::start_with(host()).await;
    let a = server.create_tenant(&unique("sched-a")).await;
    let b = server.create_tenant(&unique("sched-b")).await;
    let (api_a, api_b) = (owner_api(&server, &a).await, owner_api(&server, &b).await);
    listed(&api_a).await;
    listed(&api_b).await;

    let mut db = server.db().await;
    make_task_due(&mut db, a.id, LAPSE).await;
    ran(&mut db, a.id, LAPSE, 1).await;
    assert_eq!(ticks(&mut db, a.id).await.len(), 1);
    assert!(
        ticks(&mut db, b.id).await.is_empty(),
        "B's outbox holds none of A's ticks"
    );

    // B's list: its own tasks, none of them run.
    for tasks in [listed(&api_b).await, {
        let response = server
            .operator()
            .get(&format!("/v1/operator/scheduled-tasks?tenant={}", b.slug))
            .await;
        response.expect_status(200);
        response.json["items"].as_array().unwrap().clone()
    }] {
        assert_eq!(tasks.len(), TASKS_PER_TENANT, "{tasks:#?}");
        assert!(
            tasks
                .iter()
                .all(|t| t["runs"] == 0 && t["last_run_at"].is_null())
        );
    }
    assert_eq!(task(&listed(&api_a).await, LAPSE)["runs"], 1);

    // Listing needs modules.manage; the operator route needs the operator token and a tenant.
    let token_a = server.login_owner(&a).await.access;
    server
        .create_user(
            &token_a,
            "viewer@sched.test",
            &["viewer"],
            Some("pw-viewer-0123456789"),
        )
        .await;
    let viewer = server
        .login(&a.slug, "viewer@sched.test", "pw-viewer-0123456789")
        .await;
    server
        .client_for(&viewer.access)
        .get(TASKS)
        .await
        .expect_problem(403, "permission_denied");
    api_b
        .get(&format!("/v1/operator/scheduled-tasks?tenant={}", a.slug))
        .await
        .expect_status(401);
    server
        .operator()
        .get("/v1/operator/scheduled-tasks?tenant=no-such-tenant")
        .await
        .expect_problem(404, "not_found");
}
