//! The routing module's date path end to end: a day's plan built from the tenant's
//! technicians (working hours in their own time zone, skills, home) and jobs (CRM location
//! coordinates, windows, durations), then applied in one transaction: assignments, planned
//! times (beside the promised window, which stays) and status set, `job.assigned` events in
//! the outbox; refused with 409 and the changed job
//! ids, writing nothing, when a job changed since the plan was made.

use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;
use verofield_tests::{Api, Resp, ServerOptions, TestServer};

/// The built-in modules; `VEROFIELD_ROUTING_TEST_MODULES` points at an already built
/// directory of components instead (while the guest workspace is being edited).
fn options() -> ServerOptions {
    match std::env::var("VEROFIELD_ROUTING_TEST_MODULES") {
        Ok(dir) => ServerOptions::new().env("VEROFIELD_BUILTIN_MODULES", &dir),
        Err(_) => ServerOptions::new().with_builtin_modules(),
    }
}

/// A Monday.
const DAY: &str = "2026-12-07";

struct Fixture {
    tenant: Uuid,
    ann: Uuid,
    bob: Uuid,
    /// Jobs of the day, by name.
    jobs: Vec<(&'static str, Uuid)>,
}

impl Fixture {
    fn job(&self, name: &str) -> Uuid {
        self.jobs.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

async fn location(
    db: &mut PgConnection,
    tenant: Uuid,
    customer: Uuid,
    at: Option<(f64, f64)>,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO store.crm_locations (tenant_id, id, customer_id, latitude, longitude) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(id)
    .bind(customer)
    .bind(at.map(|a| a.0))
    .bind(at.map(|a| a.1))
    .execute(db)
    .await
    .unwrap();
    id
}

#[allow(clippy::too_many_arguments)]
async fn job(
    db: &mut PgConnection,
    tenant: Uuid,
    customer: Uuid,
    location: Uuid,
    date: &str,
    skills: &[&str],
    window: Option<(&str, &str)>,
    status: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO store.jobs (tenant_id, id, customer_id, location_id, required_skills, scheduled_date,
                                 window_start, window_end, duration_minutes, priority, status)
         VALUES ($1, $2, $3, $4, $5, $6::date, $7::timestamptz, $8::timestamptz, 45, 3, $9)",
    )
    .bind(tenant)
    .bind(id)
    .bind(customer)
    .bind(location)
    .bind(skills.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .bind(date)
    .bind(window.map(|w| w.0))
    .bind(window.map(|w| w.1))
    .bind(status)
    .execute(db)
    .await
    .unwrap();
    id
}

async fn technician(db: &mut PgConnection, tenant: Uuid, name: &str, skills: &[&str]) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO store.technicians (tenant_id, id, name, skills, working_hours, time_zone, home_latitude, home_longitude)
         VALUES ($1, $2, $3, $4, $5, 'America/New_York', 40.75, -73.99)",
    )
    .bind(tenant)
    .bind(id)
    .bind(name)
    .bind(skills.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .bind(json!({"mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]}))
    .execute(db)
    .await
    .unwrap();
    id
}

/// Two technicians in New York (Ann does HVAC), five open jobs that day (one needs HVAC, one
/// has a 09:00-10:00 EST window, one is at a place without coordinates, one needs a skill
/// nobody has), plus a job of another day and a canceled one, which the plan leaves alone.
async fn fixture(server: &TestServer, tenant: Uuid) -> Fixture {
    let mut db = server.db().await;
    let customer = Uuid::now_v7();
    sqlx::query("INSERT INTO store.crm_customers (tenant_id, id, name) VALUES ($1, $2, 'Acme')")
        .bind(tenant)
        .bind(customer)
        .execute(&mut db)
        .await
        .unwrap();
    let ann = technician(&mut db, tenant, "Ann", &["hvac"]).await;
    let bob = technician(&mut db, tenant, "Bob", &[]).await;
    let mut sites = Vec::new();
    for (lat, lon) in [
        (40.76, -73.98),
        (40.73, -74.00),
        (40.78, -73.96),
        (40.70, -74.01),
    ] {
        sites.push(location(&mut db, tenant, customer, Some((lat, lon))).await);
    }
    let nowhere = location(&mut db, tenant, customer, None).await;
    let mut jobs = Vec::new();
    for (name, site, skills, window) in [
        ("plain", sites[0], &[][..], None),
        ("hvac", sites[1], &["hvac"][..], None),
        (
            "windowed",
            sites[2],
            &[][..],
            Some(("2026-12-07T09:00:00-05:00", "2026-12-07T10:00:00-05:00")),
        ),
        ("nowhere", nowhere, &[][..], None),
        ("pool", sites[3], &["pool"][..], None),
    ] {
        jobs.push((
            name,
            job(
                &mut db,
                tenant,
                customer,
                site,
                DAY,
                skills,
                window,
                "unscheduled",
            )
            .await,
        ));
    }
    job(
        &mut db,
        tenant,
        customer,
        sites[0],
        "2026-12-08",
        &[],
        None,
        "unscheduled",
    )
    .await;
    job(
        &mut db,
        tenant,
        customer,
        sites[0],
        DAY,
        &[],
        None,
        "canceled",
    )
    .await;
    Fixture {
        tenant,
        ann,
        bob,
        jobs,
    }
}

/// A job's status, promised window (if any) and planned interval, as UTC `...Z` text.
async fn scheduled_times(
    db: &mut PgConnection,
    tenant: Uuid,
    job: Uuid,
) -> (String, Option<(String, String)>, (String, String)) {
    let utc = |column: &str| {
        format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    };
    let sql = format!(
        "SELECT status, {}, {}, {}, {} FROM store.jobs WHERE tenant_id = $1 AND id = $2",
        utc("window_start"),
        utc("window_end"),
        utc("planned_start"),
        utc("planned_end")
    );
    let (status, start, end, planned_start, planned_end): (
        String,
        Option<String>,
        Option<String>,
        String,
        String,
    ) = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(job)
        .fetch_one(db)
        .await
        .unwrap();
    (status, start.zip(end), (planned_start, planned_end))
}

fn planned_jobs(plan: &Value) -> Vec<(String, String, String, String)> {
    let mut planned = Vec::new();
    for route in plan["routes"].as_array().unwrap() {
        for stop in route["stops"].as_array().unwrap() {
            if let Some(job) = stop["job_id"].as_str() {
                planned.push((
                    job.to_owned(),
                    route["technician_id"].as_str().unwrap().to_owned(),
                    stop["start_at"].as_str().unwrap().to_owned(),
                    stop["departure_at"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    planned.sort();
    planned
}

async fn optimize(api: &Api, body: Value) -> Resp {
    api.post("/v1/routing/optimize", &body).await
}

#[tokio::test]
async fn a_days_plan_is_built_from_the_tables_and_applied() {
    let server = TestServer::start_with(options()).await;
    let tenant = server.create_tenant("routing-day").await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);
    let f = fixture(&server, tenant.id).await;

    let created = optimize(&api, json!({"date": DAY, "max_iterations": 300})).await;
    created.expect_status(201);
    let plan = &created.json;
    assert_eq!(plan["source"], "date");
    assert_eq!(plan["plan_date"], DAY);
    let versions = plan["job_versions"].as_object().unwrap();
    assert_eq!(versions.len(), 5, "only the day's open jobs: {versions:?}");
    let unassigned = crate::routing::reasons(plan);
    let mut expected = vec![
        (f.job("nowhere").to_string(), "no_location".to_owned()),
        (
            f.job("pool").to_string(),
            "no_skilled_technician".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(unassigned, expected);

    let planned = planned_jobs(plan);
    assert_eq!(planned.len(), 3, "{planned:?}");
    for (job, technician, start, end) in &planned {
        // Inside the EST shift (13:00Z to 22:00Z), 45 minutes of service.
        assert!(
            start.as_str() >= "2026-12-07T13:00:00Z" && end.as_str() <= "2026-12-07T22:00:00Z",
            "{start} {end}"
        );
        if *job == f.job("hvac").to_string() {
            assert_eq!(*technician, f.ann.to_string());
        }
        if *job == f.job("windowed").to_string() {
            assert!(
                start.as_str() >= "2026-12-07T14:00:00Z"
                    && start.as_str() <= "2026-12-07T15:00:00Z",
                "{start}"
            );
        }
    }
    for route in plan["routes"].as_array().unwrap() {
        let stops = route["stops"].as_array().unwrap();
        assert_eq!(stops[0]["kind"], "start");
        assert!(route["distance"].as_f64().unwrap() > 0.0);
        assert!(
            stops
                .iter()
                .skip(1)
                .all(|s| s["travel_duration"].as_f64().is_some())
        );
    }

    // A subset: only Bob, so the HVAC job has nobody skilled.
    let bob_only = optimize(
        &api,
        json!({"date": DAY, "technician_ids": [f.bob], "max_iterations": 100}),
    )
    .await;
    bob_only.expect_status(201);
    assert!(
        bob_only.json["routes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["technician_id"] == f.bob.to_string())
    );
    assert!(
        bob_only.json["unassigned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["job_id"] == f.job("hvac").to_string()
                && u["reason"] == "no_skilled_technician")
    );

    // Apply the first plan: one transaction, every routed job assigned and scheduled.
    let id = plan["id"].as_str().unwrap();
    let applied = api
        .post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await;
    applied.expect_status(200);
    assert_eq!(applied.json["plan"]["status"], "applied");
    assert_eq!(applied.json["applied"].as_array().unwrap().len(), 3);
    let mut db = server.db().await;
    for (job, technician, start, end) in &planned {
        let promised = (job == &f.job("windowed").to_string()).then(|| {
            (
                "2026-12-07T14:00:00Z".to_owned(),
                "2026-12-07T15:00:00Z".to_owned(),
            )
        });
        let job = Uuid::parse_str(job).unwrap();
        assert_eq!(
            scheduled_times(&mut db, f.tenant, job).await,
            (
                "scheduled".to_owned(),
                promised,
                (start.clone(), end.clone())
            ),
            "the promised window is kept, the plan's times stored beside it"
        );
        let answered = api.get(&format!("/v1/jobs/{job}")).await;
        answered.expect_status(200);
        assert!(
            answered.json["planned_start"].is_string() && answered.json["eta"].is_null(),
            "{}",
            answered.json
        );
        let assigned: Vec<Uuid> = sqlx::query_scalar(
            "SELECT technician_id FROM store.job_assignments WHERE tenant_id = $1 AND job_id = $2",
        )
        .bind(f.tenant)
        .bind(job)
        .fetch_all(&mut db)
        .await
        .unwrap();
        assert_eq!(assigned, [Uuid::parse_str(technician).unwrap()]);
    }
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_outbox WHERE tenant_id = $1 AND event_type = 'job.assigned'",
    )
    .bind(f.tenant)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(events, 3);
    // `job.scheduled` carries the planned times beside the promised window.
    let scheduled: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM event_outbox WHERE tenant_id = $1 AND event_type = 'job.scheduled'",
    )
    .bind(f.tenant)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(scheduled.len(), 3);
    assert!(scheduled.iter().all(|e| e["planned_start"].is_string()));
    // Each route's distance is split over its jobs, in whole metres.
    for route in plan["routes"].as_array().unwrap() {
        let jobs: Vec<Uuid> = route["stops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["job_id"].as_str())
            .map(|j| Uuid::parse_str(j).unwrap())
            .collect();
        let metres: i64 = sqlx::query_scalar(
            "SELECT sum(planned_travel_meters) FROM store.jobs WHERE tenant_id = $1 AND id = ANY($2)",
        )
        .bind(f.tenant)
        .bind(&jobs)
        .fetch_one(&mut db)
        .await
        .unwrap();
        let distance = route["distance"].as_f64().unwrap();
        assert!(
            (metres as f64 - distance).abs() <= jobs.len() as f64,
            "{metres} {distance}"
        );
    }
    // Scheduling went through the jobs' status transition: a history row and an event each.
    let (history, status_events): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM store.job_status_history WHERE tenant_id = $1
                   AND from_status = 'unscheduled' AND to_status = 'scheduled' AND note = $2),
                (SELECT count(*) FROM event_outbox WHERE tenant_id = $1
                   AND event_type = 'job.status_changed')",
    )
    .bind(f.tenant)
    .bind(format!("routing plan {id}"))
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((history, status_events), (3, 3));
    api.post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await
        .expect_problem(409, "plan_already_applied");
    // The second plan saw the jobs before the first was applied: stale now.
    let second = bob_only.json["id"].as_str().unwrap();
    let stale = api
        .post(&format!("/v1/routing/plans/{second}/apply"), &json!({}))
        .await;
    stale.expect_problem(409, "plan_stale");
    let _ = f.ann;
}

#[tokio::test]
async fn a_plan_whose_jobs_changed_is_refused_and_nothing_is_applied() {
    let server = TestServer::start_with(options()).await;
    let tenant = server.create_tenant("routing-stale").await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);
    let f = fixture(&server, tenant.id).await;
    let created = optimize(&api, json!({"date": DAY, "max_iterations": 100})).await;
    created.expect_status(201);
    let id = created.json["id"].as_str().unwrap();

    let mut db = server.db().await;
    let changed = f.job("windowed");
    sqlx::query("UPDATE store.jobs SET version = version + 1, notes = 'moved' WHERE tenant_id = $1 AND id = $2")
        .bind(f.tenant)
        .bind(changed)
        .execute(&mut db)
        .await
        .unwrap();

    let refused = api
        .post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await;
    refused.expect_problem(409, "plan_stale");
    assert_eq!(
        refused.json["changed_job_ids"],
        json!([changed.to_string()])
    );
    let (assignments, scheduled, events): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM store.job_assignments WHERE tenant_id = $1),
                (SELECT count(*) FROM store.jobs WHERE tenant_id = $1 AND status = 'scheduled'),
                (SELECT count(*) FROM event_outbox WHERE tenant_id = $1 AND event_type = 'job.assigned')",
    )
    .bind(f.tenant)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        (assignments, scheduled, events),
        (0, 0, 0),
        "nothing applied"
    );
    let plan = api.get(&format!("/v1/routing/plans/{id}")).await;
    plan.expect_status(200);
    assert_eq!(plan.json["status"], "proposed");

    // Another tenant cannot see or apply it.
    let other = server.create_tenant("routing-stale-other").await;
    let other_api = server.client_for(&server.login_owner(&other).await.access);
    other_api
        .get(&format!("/v1/routing/plans/{id}"))
        .await
        .expect_problem(404, "not_found");
    other_api
        .post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn bad_date_requests_answer_422_with_the_fields() {
    let server = TestServer::start_with(options()).await;
    let tenant = server.create_tenant("routing-day-bad").await;
    let api = server.client_for(&server.login_owner(&tenant).await.access);
    let f = fixture(&server, tenant.id).await;
    let fields = |response: &Resp| -> Vec<String> {
        assert_eq!(response.status.as_u16(), 422, "{}", response.text);
        response.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    };

    let unknown = optimize(
        &api,
        json!({"date": DAY, "technician_ids": [f.ann, Uuid::now_v7(), "not-a-uuid"], "job_ids": [f.job("plain"), Uuid::now_v7()]}),
    )
    .await;
    assert_eq!(
        fields(&unknown),
        ["technician_ids[1]", "technician_ids[2]", "job_ids[1]"]
    );
    let empty = optimize(&api, json!({"date": DAY, "technician_ids": []})).await;
    assert_eq!(fields(&empty), ["technician_ids"]);
    let bad_date = optimize(&api, json!({"date": "2026-02-30"})).await;
    assert_eq!(fields(&bad_date), ["date"]);
    let sunday = optimize(&api, json!({"date": "2026-12-06"})).await;
    assert_eq!(
        fields(&sunday),
        ["date"],
        "nobody works on Sundays: the fleet is empty"
    );
    let inline_only = optimize(&api, json!({"date": DAY, "speed_kmh": -3})).await;
    assert_eq!(fields(&inline_only), ["speed_kmh"]);

    let mut db = server.db().await;
    let plans: i64 =
        sqlx::query_scalar("SELECT count(*) FROM store.routing_plans WHERE tenant_id = $1")
            .bind(f.tenant)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(plans, 0);
}
