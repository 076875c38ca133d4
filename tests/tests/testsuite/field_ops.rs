//! Field operations end to end (issue 4): the built-in `technicians`, `jobs`, `work-orders`
//! and `agreements` components, published by the real server at start-up, over PostgreSQL.
//! Lifecycles, conflict detection and its override permission, recurrence (exact dates,
//! month ends, BYDAY, a DST change, idempotent regeneration), technician scoping enforced by
//! row-level security, cross-tenant 404s, outbox events, and 422s naming the fields.

use std::ops::Deref;

use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;
use verofield_tests::{Api, Resp, SCENARIO_ZONE as ZONE, Scenario, ServerOptions, TestServer};

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A scenario with a customer, a location, and a service type needing `termite`.
struct Shop<'s> {
    scenario: Scenario<'s>,
    customer: String,
    location: String,
    service: String,
}

/// The shop's steps are its scenario's (`shop.owner`, `shop.technician(..)`, ...).
impl<'s> Deref for Shop<'s> {
    type Target = Scenario<'s>;

    fn deref(&self) -> &Scenario<'s> {
        &self.scenario
    }
}

async fn shop<'s>(server: &'s TestServer, slug: &str) -> Shop<'s> {
    let scenario = server.scenario(slug).await;
    let customer = scenario.customer("Green Acres").await;
    let location = scenario.location(&customer, "Main house").await;
    let service = scenario
        .create(
            "/v1/jobs/service-types",
            &json!({"name": "Termite inspection", "default_duration_minutes": 60,
                    "default_price_minor": 12500, "currency": "USD", "required_skills": ["Termite"]}),
        )
        .await;
    assert_eq!(service.json["required_skills"], json!(["termite"]));
    Shop {
        scenario,
        customer,
        location,
        service: service.id(),
    }
}

impl Shop<'_> {
    /// A scheduled job at the shop's location on `date` from `start` to `end` (New York time).
    async fn job(&self, date: &str, start: &str, end: &str) -> String {
        let created = self
            .create(
                "/v1/jobs",
                &json!({"customer_id": self.customer, "location_id": self.location,
                        "service_type_ids": [self.service], "scheduled_date": date,
                        "window_start_local": start, "window_end_local": end, "time_zone": ZONE}),
            )
            .await;
        assert_eq!(created.json["status"], json!("scheduled"));
        created.id()
    }
}

async fn events(db: &mut PgConnection, tenant: Uuid) -> Vec<(String, Value)> {
    sqlx::query_as("SELECT event_type, payload FROM event_outbox WHERE tenant_id = $1 ORDER BY occurred_at, id")
        .bind(tenant)
        .fetch_all(db)
        .await
        .unwrap()
}

async fn count(db: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn a_job_goes_through_its_lifecycle_with_history_and_events() {
    let server = server().await;
    let shop = shop(&server, "fo-life").await;
    let (tech_user, tech_api) = shop.user("tess@fo.test", &["technician"]).await;
    let tess = shop
        .technician("Tess", &["termite"], Some(&tech_user))
        .await;

    // Created without a date: unscheduled; scheduling sets the local window and the UTC instants.
    let created = shop
        .create(
            "/v1/jobs",
            &json!({"customer_id": shop.customer, "location_id": shop.location,
                    "service_type_ids": [shop.service], "priority": 2, "notes": "dog in yard"}),
        )
        .await;
    assert_eq!(created.json["status"], json!("unscheduled"));
    assert_eq!(created.json["duration_minutes"], json!(60));
    assert_eq!(created.json["required_skills"], json!(["termite"]));
    let id = created.id();
    // Illegal: straight to completed, or dispatched before it is scheduled.
    shop.owner
        .job_status(&id, "dispatched")
        .await
        .expect_problem(409, "invalid_transition");
    let scheduled = shop
        .owner
        .schedule(
            &id,
            &json!({"scheduled_date": "2030-01-08", "window_start_local": "09:00",
                    "window_end_local": "11:00", "time_zone": ZONE}),
        )
        .await;
    scheduled.expect_status(200);
    assert_eq!(scheduled.json["status"], json!("scheduled"));
    assert_eq!(scheduled.json["window_start_local"], json!("09:00"));
    // Dispatching needs a technician.
    shop.owner
        .job_status(&id, "dispatched")
        .await
        .expect_problem(409, "invalid_transition");
    let assigned = shop.owner.assign(&id, &[&tess]).await;
    assigned.expect_status(200);
    assert_eq!(assigned.json["technician_ids"], json!([tess]));
    shop.owner
        .job_status_with(&id, &json!({"status": "dispatched", "note": "go"}))
        .await
        .expect_status(200);
    // The technician works the job from the field, and may not skip a step.
    let mine = tech_api.get("/v1/jobs/mine?date=2030-01-08").await;
    mine.expect_status(200);
    assert_eq!(mine.json["items"].as_array().unwrap().len(), 1);
    tech_api
        .my_job_status(&id, "in_progress")
        .await
        .expect_problem(409, "invalid_transition");
    tech_api
        .my_job_status(&id, "en_route")
        .await
        .expect_status(200);
    tech_api
        .my_job_status(&id, "in_progress")
        .await
        .expect_status(200);
    // Completion needs its record.
    tech_api
        .my_job_status(&id, "completed")
        .await
        .expect_problem(422, "validation_failed");
    let done = tech_api
        .my_job_status_with(
            &id,
            &json!({"status": "completed", "completion": {
                "notes": "treated perimeter", "work_minutes": 55,
                "materials": [{"name": "Termidor SC", "quantity": 0.5, "unit": "l"}],
                "signature_ref": "uploads/signatures/abc.png"}}),
        )
        .await;
    done.expect_status(200);
    assert_eq!(done.json["status"], json!("completed"));
    assert_eq!(done.json["completion"]["work_minutes"], json!(55));
    for column in [
        "scheduled_at",
        "dispatched_at",
        "en_route_at",
        "started_at",
        "completed_at",
    ] {
        assert!(done.json[column].is_string(), "{column}: {}", done.text);
    }
    // Closed: no way back.
    for to in ["scheduled", "in_progress", "canceled", "on_hold"] {
        shop.owner
            .job_status(&id, to)
            .await
            .expect_problem(409, "invalid_transition");
    }
    let history = shop.owner.get(&format!("/v1/jobs/{id}/history")).await;
    history.expect_status(200);
    let steps: Vec<(Value, Value)> = history.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from_status"].clone(), h["to_status"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!(null), json!("unscheduled")),
            (json!("unscheduled"), json!("scheduled")),
            (json!("scheduled"), json!("dispatched")),
            (json!("dispatched"), json!("en_route")),
            (json!("en_route"), json!("in_progress")),
            (json!("in_progress"), json!("completed")),
        ]
    );
    assert_eq!(history.json["items"][3]["changed_by"], json!(tech_user));

    // Queries: by date range, technician, status, customer; the technician's day.
    for query in [
        "from=2030-01-08&to=2030-01-08".to_owned(),
        format!("technician_id={tess}"),
        "status=completed".to_owned(),
        format!("customer_id={}", shop.customer),
    ] {
        let found = jobs_query(&shop.owner, &query).await;
        found.expect_status(200);
        assert_eq!(found.json["items"].as_array().unwrap().len(), 1, "{query}");
    }
    assert_eq!(
        jobs_query(&shop.owner, "from=2030-01-09").await.json["items"],
        json!([])
    );
    jobs_query(&shop.owner, "status=bogus")
        .await
        .expect_problem(400, "invalid_query_parameter");
    let day = shop
        .owner
        .get(&format!("/v1/jobs/technicians/{tess}/day?date=2030-01-08"))
        .await;
    day.expect_status(200);
    assert_eq!(day.json["items"][0]["id"], json!(id));

    let mut db = server.db().await;
    let window: bool = sqlx::query_scalar(
        "SELECT window_start = '2030-01-08T14:00:00Z' FROM store.jobs WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(window, "09:00 New York in January is 14:00 UTC");
    // Events of one request share a timestamp: compare as sets.
    let mut kinds: Vec<String> = events(&mut db, shop.tenant.id)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t.starts_with("job."))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "job.assigned",
            "job.completed",
            "job.scheduled",
            "job.status_changed",
            "job.status_changed",
            "job.status_changed",
            "job.status_changed",
            "job.status_changed",
        ]
    );
    let (_, completed) = events(&mut db, shop.tenant.id)
        .await
        .into_iter()
        .find(|(t, _)| t == "job.completed")
        .unwrap();
    assert_eq!(completed["technician_ids"], json!([tess]));
    assert_eq!(completed["customer_id"], json!(shop.customer));
    assert_eq!(completed["work_minutes"], json!(55));
    assert_eq!(completed["service_type_ids"], json!([shop.service]));
    // Same transaction: now() is the transaction's start, and the event's occurred_at equals
    // the completed job's updated_at; the status-change event of every step matches too.
    let same_tx: Vec<bool> = sqlx::query_scalar(
        "SELECT o.occurred_at = j.updated_at FROM event_outbox o
         JOIN store.jobs j ON j.tenant_id = o.tenant_id AND j.id = (o.payload->>'job_id')::uuid
         WHERE o.tenant_id = $1 AND (o.event_type = 'job.completed'
            OR (o.event_type = 'job.status_changed' AND o.payload->>'to' = 'completed'))",
    )
    .bind(shop.tenant.id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(same_tx, [true, true]);
    assert_eq!(completed["services"][0]["price_minor"], json!(12500));
    assert_eq!(completed["services"][0]["currency"], json!("USD"));
    assert_eq!(completed["materials"][0]["name"], json!("Termidor SC"));
    assert_eq!(
        completed["signature_ref"],
        json!("uploads/signatures/abc.png")
    );
}

#[tokio::test]
async fn conflicting_assignments_are_refused_with_the_conflicts_named_and_override_needs_the_permission()
 {
    let server = server().await;
    let shop = shop(&server, "fo-conflict").await;
    let tess = shop.technician("Tess", &["termite"], None).await;
    let novice = shop.technician("Nick", &[], None).await;
    // Monday 2030-01-07 09:00-11:00 New York, assigned.
    let first = shop.job("2030-01-07", "09:00", "11:00").await;
    shop.assign(&first, &[&tess]).await;
    // Overlapping the first.
    let overlapping = shop.job("2030-01-07", "10:00", "12:00").await;
    let refused = shop.owner.assign(&overlapping, &[&tess]).await;
    refused.expect_problem(409, "assignment_conflict");
    assert_eq!(
        refused.json["conflicts"][0]["type"],
        json!("overlapping_job")
    );
    assert_eq!(refused.json["conflicts"][0]["job_id"], json!(first));
    // Missing skill.
    let skill = shop.owner.assign(&overlapping, &[&novice]).await;
    skill.expect_problem(409, "assignment_conflict");
    assert_eq!(skill.json["conflicts"][0]["type"], json!("missing_skill"));
    assert_eq!(skill.json["conflicts"][0]["skills"], json!(["termite"]));
    // Saturday, and past 17:00 on a weekday: outside working hours.
    for (date, start, end) in [
        ("2030-01-12", "09:00", "11:00"),
        ("2030-01-08", "16:30", "18:00"),
    ] {
        let late = shop.job(date, start, end).await;
        let refused = shop.owner.assign(&late, &[&tess]).await;
        refused.expect_problem(409, "assignment_conflict");
        assert_eq!(
            refused.json["conflicts"][0]["type"],
            json!("outside_working_hours"),
            "{}",
            refused.text
        );
    }
    // Time off.
    shop.owner
        .post(
            &format!("/v1/technicians/{tess}/time-off"),
            &json!({"starts_at": "2030-01-09T00:00:00Z", "ends_at": "2030-01-10T00:00:00Z", "reason": "dentist"}),
        )
        .await
        .expect_status(201);
    let listed = shop
        .owner
        .get(&format!("/v1/technicians/{tess}/time-off"))
        .await;
    listed.expect_status(200);
    assert_eq!(listed.json["items"][0]["reason"], json!("dentist"));
    let away = shop.job("2030-01-09", "09:00", "10:00").await;
    let refused = shop.owner.assign(&away, &[&tess]).await;
    refused.expect_problem(409, "assignment_conflict");
    assert_eq!(refused.json["conflicts"][0]["type"], json!("time_off"));

    // Override: a role with jobs.write but not jobs.assign.override is refused by the host.
    shop.role(
        "scheduler",
        &["jobs.read", "jobs.write", "technicians.read"],
    )
    .await;
    let (_, scheduler) = shop.user("sched@fo.test", &["scheduler"]).await;
    scheduler
        .assign(&overlapping, &[&tess])
        .await
        .expect_problem(409, "assignment_conflict");
    scheduler
        .assign_override(&overlapping, &json!({"technician_ids": [tess]}))
        .await
        .expect_problem(403, "permission_denied");
    let mut db = server.db().await;
    let assignments = "SELECT count(*) FROM store.job_assignments";
    assert_eq!(
        count(&mut db, assignments).await,
        1,
        "refusals wrote nothing"
    );
    assert!(
        !events(&mut db, shop.tenant.id)
            .await
            .iter()
            .any(|(t, p)| t == "job.assigned" && p["job_id"] == json!(overlapping)),
        "refusals emitted nothing"
    );
    // A dispatcher holds the override.
    let (_, dispatcher) = shop.user("disp@fo.test", &["dispatcher"]).await;
    let overridden = dispatcher
        .assign_override(
            &overlapping,
            &json!({"technician_ids": [tess], "reason": "customer asked for Tess"}),
        )
        .await;
    overridden.expect_status(200);
    assert_eq!(
        overridden.json["overridden_conflicts"][0]["type"],
        json!("overlapping_job")
    );
    assert_eq!(count(&mut db, assignments).await, 2);
    let (_, event) = events(&mut db, shop.tenant.id)
        .await
        .into_iter()
        .rfind(|(t, _)| t == "job.assigned")
        .unwrap();
    assert_eq!(
        event["overridden_conflicts"][0]["type"],
        json!("overlapping_job")
    );
    assert_eq!(event["override_reason"], json!("customer asked for Tess"));
    // Rescheduling an assigned job re-checks its technicians: Saturday is refused, the job
    // keeps its time.
    let moved = shop
        .owner
        .schedule(
            &first,
            &json!({"scheduled_date": "2030-01-12", "window_start_local": "09:00", "window_end_local": "11:00"}),
        )
        .await;
    moved.expect_problem(409, "assignment_conflict");
    assert_eq!(
        moved.json["conflicts"][0]["type"],
        json!("outside_working_hours")
    );
    let kept: String =
        sqlx::query_scalar("SELECT scheduled_date::text FROM store.jobs WHERE id = $1::uuid")
            .bind(&first)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(kept, "2030-01-07");
    // Two dispatchers assigning the same technician to overlapping jobs at once: one wins, the
    // other is refused (409), never both.
    let pat = shop.technician("Pat", &["termite"], None).await;
    let left = shop.job("2030-01-14", "09:00", "11:00").await;
    let right = shop.job("2030-01-14", "10:00", "12:00").await;
    let only_pat = [&pat];
    let (a, b) = tokio::join!(
        dispatcher.assign(&left, &only_pat),
        dispatcher.assign(&right, &only_pat)
    );
    let mut outcomes = [a.status.as_u16(), b.status.as_u16()];
    outcomes.sort();
    assert_eq!(outcomes, [200, 409], "{} / {}", a.text, b.text);
    let pats: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM store.job_assignments WHERE technician_id = $1::uuid",
    )
    .bind(&pat)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(pats, 1);
    // Unassigning frees the slot.
    dispatcher
        .delete(&format!("/v1/jobs/{overlapping}/assignments/{tess}"))
        .await
        .expect_status(204);
    assert_eq!(
        count(&mut db, assignments).await,
        2,
        "Tess's first job and Pat's"
    );
}

#[tokio::test]
async fn a_technician_sees_and_changes_only_their_own_jobs() {
    let server = server().await;
    let shop = shop(&server, "fo-scope").await;
    let (x_user, x_api) = shop.user("x@fo.test", &["technician"]).await;
    let (y_user, _y_api) = shop.user("y@fo.test", &["technician"]).await;
    let x = shop.technician("X", &["termite"], Some(&x_user)).await;
    let y = shop.technician("Y", &["termite"], Some(&y_user)).await;
    let x_job = shop.job("2030-01-07", "09:00", "10:00").await;
    let y_job = shop.job("2030-01-07", "11:00", "12:00").await;
    for (job, tech) in [(&x_job, &x), (&y_job, &y)] {
        shop.assign(job, &[tech]).await;
        shop.status(job, "dispatched").await;
    }
    // X's own job: visible and workable.
    x_api
        .get(&format!("/v1/jobs/mine/{x_job}"))
        .await
        .expect_status(200);
    let day = x_api.get("/v1/jobs/mine?date=2030-01-07").await;
    day.expect_status(200);
    let ids: Vec<&Value> = day.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert_eq!(ids, [&json!(x_job)]);
    // Y's job: 404 on every field route; the dispatch routes are not theirs at all.
    x_api
        .get(&format!("/v1/jobs/mine/{y_job}"))
        .await
        .expect_problem(404, "not_found");
    x_api
        .my_job_status(&y_job, "en_route")
        .await
        .expect_problem(404, "not_found");
    x_api
        .get(&format!("/v1/jobs/{y_job}"))
        .await
        .expect_problem(403, "permission_denied");
    x_api
        .get("/v1/jobs")
        .await
        .expect_problem(403, "permission_denied");
    x_api
        .job_status(&y_job, "canceled")
        .await
        .expect_problem(403, "permission_denied");
    x_api
        .assign(&y_job, &[&x])
        .await
        .expect_problem(403, "permission_denied");
    x_api
        .post(
            "/v1/jobs",
            &json!({"customer_id": shop.customer, "location_id": shop.location}),
        )
        .await
        .expect_problem(403, "permission_denied");
    x_api
        .my_job_status(&x_job, "en_route")
        .await
        .expect_status(200);

    // The proof that the host, not the module, narrows the caller: a custom role with
    // `jobs.write` but not `jobs.read` uses the dispatch route, where the module checks no
    // ownership at all, and still cannot reach Y's job; its own assigned job it can move.
    shop.role("field-lead", &["jobs.own", "jobs.write"]).await;
    let (z_user, z_api) = shop.user("z@fo.test", &["field-lead"]).await;
    let z = shop.technician("Z", &["termite"], Some(&z_user)).await;
    let z_job = shop.job("2030-01-08", "09:00", "10:00").await;
    shop.assign(&z_job, &[&z]).await;
    z_api
        .job_status(&y_job, "canceled")
        .await
        .expect_problem(404, "not_found");
    z_api
        .patch(&format!("/v1/jobs/{y_job}"), &json!({"notes": "mine now"}))
        .await
        .expect_problem(404, "not_found");
    z_api.job_status(&z_job, "on_hold").await.expect_status(200);

    let mut db = server.db().await;
    let (status, version): (String, i64) =
        sqlx::query_as("SELECT status, version FROM store.jobs WHERE id = $1::uuid")
            .bind(&y_job)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(status, "dispatched");
    assert_eq!(version, 3, "Y's job untouched since its dispatch");

    // Below the module: the app role in X's technician scope sees one job, one assignment and
    // only that job's history, and can write no assignment nor create a job.
    let scoped = |sql: &str| {
        format!(
            "BEGIN; SET LOCAL app.tenant_id = '{}'; SET LOCAL app.user_id = '{x_user}'; \
             SET LOCAL ROLE verofield_app; SET LOCAL app.job_scope = 'own'; {sql}",
            shop.tenant.id
        )
    };
    for (sql, expected) in [
        ("SELECT count(*) FROM store.jobs", 1i64),
        ("SELECT count(*) FROM store.job_assignments", 1),
        (
            "SELECT count(DISTINCT job_id) FROM store.job_status_history",
            1,
        ),
    ] {
        let rows = sqlx::raw_sql(&scoped(sql))
            .fetch_all(&mut db)
            .await
            .unwrap();
        let found: i64 = sqlx::Row::get(rows.last().unwrap(), 0);
        assert_eq!(found, expected, "{sql}");
        sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();
    }
    let insert = format!(
        "INSERT INTO store.job_assignments (tenant_id, id, job_id, technician_id) VALUES ('{}', gen_random_uuid(), '{y_job}', '{x}')",
        shop.tenant.id
    );
    assert!(
        sqlx::raw_sql(&scoped(&insert))
            .execute(&mut db)
            .await
            .is_err()
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();
    // Without the scope (a principal holding jobs.read) the same role sees every job.
    let rows = sqlx::raw_sql(&format!(
        "BEGIN; SET LOCAL app.tenant_id = '{}'; SET LOCAL ROLE verofield_app; SELECT count(*) FROM store.jobs",
        shop.tenant.id
    ))
    .fetch_all(&mut db)
    .await
    .unwrap();
    let all: i64 = sqlx::Row::get(rows.last().unwrap(), 0);
    assert_eq!(all, 3, "X's, Y's and Z's jobs");
    sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();

    // The scope follows the assignments and the links: unassigned, X loses the job; X's
    // profile unlinked and Y's linked to X's user, X gets Y's job (and its history), and Y
    // loses it.
    shop.owner
        .delete(&format!("/v1/jobs/{x_job}/assignments/{x}"))
        .await
        .expect_status(204);
    x_api
        .get(&format!("/v1/jobs/mine/{x_job}"))
        .await
        .expect_problem(404, "not_found");
    // (One profile per user: X's own profile is unlinked first.)
    shop.owner
        .patch(&format!("/v1/technicians/{x}"), &json!({"user_id": null}))
        .await
        .expect_status(200);
    shop.owner
        .patch(&format!("/v1/technicians/{y}"), &json!({"user_id": x_user}))
        .await
        .expect_status(200);
    let y_job_for_x = x_api.get(&format!("/v1/jobs/mine/{y_job}")).await;
    y_job_for_x.expect_status(200);
    _y_api
        .get(&format!("/v1/jobs/mine/{y_job}"))
        .await
        .expect_problem(404, "not_found");
    let rows = sqlx::raw_sql(&scoped(
        "SELECT count(*) FROM store.job_status_history WHERE job_id = (SELECT id FROM store.jobs)",
    ))
    .fetch_all(&mut db)
    .await
    .unwrap();
    let history: i64 = sqlx::Row::get(rows.last().unwrap(), 0);
    assert!(history >= 2, "Y's job's history came with it: {history}");
    sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();
    // The scope column is the database's: modules neither see it nor name it.
    assert!(y_job_for_x.json.get("scope_user_ids").is_none());
}

async fn jobs_query(api: &Api, query: &str) -> Resp {
    api.get(&format!("/v1/jobs?{query}")).await
}

async fn statuses(db: &mut PgConnection, work_order: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT scheduled_date::text, status FROM store.jobs WHERE work_order_id = $1::uuid ORDER BY 1",
    )
    .bind(work_order)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Dates from PostgreSQL, the independent oracle for the recurrence.
async fn pg_dates(db: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(db).await.unwrap()
}

async fn job_dates(db: &mut PgConnection, work_order: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT scheduled_date::text FROM store.jobs WHERE work_order_id = $1::uuid ORDER BY scheduled_date",
    )
    .bind(work_order)
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_weekly_agreement_generates_exact_dates_across_dst_and_regenerates_nothing_twice() {
    let server = server().await;
    let shop = shop(&server, "fo-rrule").await;
    // Mondays and Thursdays for six months, 09:00-11:00 New York (DST starts 2030-03-10).
    let agreement = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Quarterly pest plan",
                    "location_ids": [shop.location], "service_type_ids": [shop.service],
                    "recurrence": "FREQ=WEEKLY;BYDAY=MO,TH", "start_time": "09:00", "end_time": "11:00",
                    "time_zone": ZONE, "pricing": "per_visit", "price_minor": 4500, "currency": "USD",
                    "billing_frequency": "monthly", "starts_on": "2030-01-07", "ends_on": "2030-07-06",
                    "horizon_days": 3660}),
        )
        .await;
    assert_eq!(agreement.json["status"], json!("draft"));
    // Mondays and Thursdays in the first year from 2030-01-07: 53 + 52.
    assert_eq!(agreement.json["annual_value_minor"], json!(4500 * 105));
    let id = agreement.id();
    let mut db = server.db().await;
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM store.jobs").await,
        0,
        "a draft generates nothing"
    );
    let active = shop
        .owner
        .action(&format!("/v1/agreements/{id}/activate"))
        .await;
    active.expect_status(200);
    assert_eq!(active.json["status"], json!("active"));
    let work_order = active.json["work_order_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();

    let expected = pg_dates(
        &mut db,
        "SELECT d::date::text FROM generate_series('2030-01-07'::date, '2030-07-06', '1 day') d
         WHERE extract(isodow FROM d) IN (1, 4) ORDER BY d",
    )
    .await;
    assert_eq!(expected.len(), 52);
    assert_eq!(job_dates(&mut db, &work_order).await, expected);
    assert_eq!(active.json["jobs_created"], json!(52));
    assert_eq!(active.json["generation_complete"], json!(true));
    // 09:00 local on both sides of the DST change: 14:00Z in winter, 13:00Z in summer.
    let local_nine = "SELECT count(*) FROM store.jobs WHERE (window_start AT TIME ZONE time_zone)::time = '09:00'
                      AND window_start_local = '09:00' AND window_end_local = '11:00'";
    assert_eq!(count(&mut db, local_nine).await, 52);
    let utc_hours: Vec<(String, i64)> = sqlx::query_as(
        "SELECT to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI'), count(*) FROM store.jobs GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        utc_hours,
        [("13:00".to_owned(), 34), ("14:00".to_owned(), 18)]
    );
    let march: Vec<(String, String)> = sqlx::query_as(
        "SELECT scheduled_date::text, to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI') FROM store.jobs
         WHERE scheduled_date IN ('2030-03-07', '2030-03-11') ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        march,
        [
            ("2030-03-07".into(), "14:00".into()),
            ("2030-03-11".into(), "13:00".into())
        ]
    );

    // Regeneration, twice: nothing new.
    for _ in 0..2 {
        let again = shop
            .owner
            .action(&format!("/v1/work-orders/{work_order}/generate"))
            .await;
        again.expect_status(200);
        assert_eq!(again.json["generation"]["created"], json!([]));
        assert_eq!(again.json["generation"]["existing"], json!(52));
    }
    assert_eq!(count(&mut db, "SELECT count(*) FROM store.jobs").await, 52);

    // Month ends and BYDAY ordinals, against PostgreSQL's calendar.
    let monthly = |rule: &str| {
        json!({"customer_id": shop.customer, "location_id": shop.location,
               "line_items": [{"service_type_id": shop.service}], "recurrence": rule,
               "starts_on": "2030-01-01", "ends_on": "2030-12-31", "time_zone": ZONE,
               "start_time": "08:00", "end_time": "09:00", "horizon_days": 3660})
    };
    let cases = [
        (
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "SELECT (date_trunc('month', d) + interval '1 month - 1 day')::date::text
             FROM generate_series('2030-01-01'::date, '2030-12-01', '1 month') d ORDER BY 1",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "SELECT d::date::text FROM generate_series('2030-01-01'::date, '2030-12-31', '1 day') d
             WHERE extract(day FROM d) = 31 ORDER BY 1",
        ),
        (
            "FREQ=MONTHLY;BYDAY=-1FR",
            "SELECT max(d)::date::text FROM generate_series('2030-01-01'::date, '2030-12-31', '1 day') d
             WHERE extract(isodow FROM d) = 5 GROUP BY date_trunc('month', d) ORDER BY 1",
        ),
        (
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO,3MO",
            "SELECT d::date::text FROM generate_series('2030-01-01'::date, '2030-12-31', '1 day') d
             WHERE extract(isodow FROM d) = 1 AND extract(month FROM d)::int % 2 = 1
               AND (extract(day FROM d)::int - 1) / 7 IN (0, 2) ORDER BY 1",
        ),
    ];
    for (rule, oracle) in cases {
        let created = shop.owner.post("/v1/work-orders", &monthly(rule)).await;
        created.expect_status(201);
        let wo = created.id();
        let expected = pg_dates(&mut db, oracle).await;
        assert!(!expected.is_empty());
        assert_eq!(job_dates(&mut db, &wo).await, expected, "{rule}");
    }
}

#[tokio::test]
async fn editing_the_rule_changes_only_future_unscheduled_jobs() {
    let server = server().await;
    let shop = shop(&server, "fo-edit").await;
    let created = shop
        .create(
            "/v1/work-orders",
            &json!({"customer_id": shop.customer, "location_id": shop.location, "title": "Lawn",
                    "line_items": [{"service_type_id": shop.service, "quantity": 2}],
                    "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "starts_on": "2030-01-07",
                    "time_zone": ZONE, "horizon_days": 3660}),
        )
        .await;
    assert_eq!(created.json["line_items"][0]["total_minor"], json!(25000));
    let wo = created.id();
    let mut db = server.db().await;
    assert_eq!(
        job_dates(&mut db, &wo).await,
        ["2030-01-07", "2030-01-14", "2030-01-21", "2030-01-28"]
    );
    // The dispatcher confirms the second visit.
    let confirmed: String = sqlx::query_scalar(
        "SELECT id::text FROM store.jobs WHERE work_order_id = $1::uuid AND scheduled_date = '2030-01-14'",
    )
    .bind(&wo)
    .fetch_one(&mut db)
    .await
    .unwrap();
    shop.owner
        .schedule(
            &confirmed,
            &json!({"scheduled_date": "2030-01-14", "window_start_local": "10:00", "window_end_local": "12:00"}),
        )
        .await
        .expect_status(200);
    // Now Tuesdays: the unscheduled Mondays go, the confirmed one stays, Tuesdays come.
    let edited = shop
        .owner
        .patch(
            &format!("/v1/work-orders/{wo}"),
            &json!({"recurrence": "FREQ=WEEKLY;BYDAY=TU;COUNT=4"}),
        )
        .await;
    edited.expect_status(200);
    assert_eq!(edited.json["generation"]["retracted"], json!(3));
    assert_eq!(
        job_dates(&mut db, &wo).await,
        [
            "2030-01-08",
            "2030-01-14",
            "2030-01-15",
            "2030-01-22",
            "2030-01-29"
        ]
    );
    let kept: (String, String) =
        sqlx::query_as("SELECT status, window_start_local FROM store.jobs WHERE id = $1::uuid")
            .bind(&confirmed)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(kept, ("scheduled".into(), "10:00".into()));
    // Bad rules are 422 naming the field; nothing changed.
    let bad = shop
        .owner
        .patch(
            &format!("/v1/work-orders/{wo}"),
            &json!({"recurrence": "FREQ=HOURLY"}),
        )
        .await;
    bad.expect_problem(422, "validation_failed");
    assert_eq!(bad.json["errors"][0]["field"], json!("recurrence"));
    assert_eq!(job_dates(&mut db, &wo).await.len(), 5);
    // Closing: the unscheduled visits go, the confirmed one is canceled with its history.
    let closed = shop
        .owner
        .action(&format!("/v1/work-orders/{wo}/close"))
        .await;
    closed.expect_status(200);
    assert_eq!(closed.json["status"], json!("closed"));
    assert_eq!(
        (
            closed.json["retracted"].clone(),
            closed.json["canceled"].clone()
        ),
        (json!(4), json!(1))
    );
    assert_eq!(
        statuses(&mut db, &wo).await,
        [("2030-01-14".to_owned(), "canceled".to_owned())]
    );
    let last: (String, String) = sqlx::query_as(
        "SELECT to_status, note FROM store.job_status_history WHERE job_id = $1::uuid ORDER BY changed_at DESC, created_at DESC LIMIT 1",
    )
    .bind(&confirmed)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(last, ("canceled".into(), "work order closed".into()));
    shop.owner
        .action(&format!("/v1/work-orders/{wo}/close"))
        .await
        .expect_problem(409, "invalid_transition");
}

#[tokio::test]
async fn an_agreement_lifecycle_stops_future_jobs_and_keeps_history() {
    let server = server().await;
    let shop = shop(&server, "fo-agree").await;
    let tess = shop.technician("Tess", &["termite"], None).await;
    let draft = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Monthly plan", "location_ids": [shop.location],
                    "service_type_ids": [shop.service], "recurrence": "FREQ=MONTHLY;BYMONTHDAY=15",
                    "time_zone": ZONE, "pricing": "per_period", "price_minor": 3000,
                    "billing_frequency": "monthly", "starts_on": "2030-01-01", "ends_on": "2030-06-30",
                    "auto_renew": true, "horizon_days": 3660}),
        )
        .await;
    assert_eq!(draft.json["annual_value_minor"], json!(36000));
    let id = draft.id();
    // Illegal moves from draft.
    for action in ["pause", "expire"] {
        shop.owner
            .action(&format!("/v1/agreements/{id}/{action}"))
            .await
            .expect_problem(409, "invalid_transition");
    }
    let active = shop
        .owner
        .action(&format!("/v1/agreements/{id}/activate"))
        .await;
    active.expect_status(200);
    assert_eq!(active.json["jobs_created"], json!(6));
    shop.owner
        .action(&format!("/v1/agreements/{id}/activate"))
        .await
        .expect_problem(409, "invalid_transition");
    shop.owner
        .patch(&format!("/v1/agreements/{id}"), &json!({"price_minor": 1}))
        .await
        .expect_problem(409, "agreement_not_draft");
    let wo = active.json["work_order_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let mut db = server.db().await;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM store.jobs WHERE work_order_id = $1::uuid ORDER BY scheduled_date",
    )
    .bind(&wo)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(ids.len(), 6);
    // January's visit is done; February's is confirmed.
    let (done, confirmed) = (&ids[0], &ids[1]);
    for job in [done, confirmed] {
        shop.status(job, "scheduled").await;
    }
    shop.assign(done, &[&tess]).await;
    for status in ["dispatched", "en_route", "in_progress"] {
        shop.status(done, status).await;
    }
    shop.owner
        .job_status_with(
            done,
            &json!({"status": "completed", "completion": {"work_minutes": 40}}),
        )
        .await
        .expect_status(200);

    // Pause: the unscheduled visits are retracted, the confirmed one canceled, the done one kept.
    let paused = shop
        .owner
        .action(&format!("/v1/agreements/{id}/pause"))
        .await;
    paused.expect_status(200);
    assert_eq!(paused.json["status"], json!("paused"));
    assert_eq!(paused.json["jobs_retracted"], json!(4));
    assert_eq!(paused.json["jobs_canceled"], json!(1));
    assert_eq!(
        statuses(&mut db, &wo).await,
        [
            ("2030-01-15".into(), "completed".into()),
            ("2030-02-15".into(), "canceled".into())
        ]
    );
    // Resume regenerates the missing visits (February's stays canceled), cancel stops them again.
    let resumed = shop
        .owner
        .action(&format!("/v1/agreements/{id}/activate"))
        .await;
    resumed.expect_status(200);
    assert_eq!(resumed.json["jobs_created"], json!(4));
    let canceled = shop
        .owner
        .action(&format!("/v1/agreements/{id}/cancel"))
        .await;
    canceled.expect_status(200);
    assert_eq!(canceled.json["status"], json!("canceled"));
    assert_eq!(canceled.json["jobs_retracted"], json!(4));
    shop.owner
        .action(&format!("/v1/agreements/{id}/activate"))
        .await
        .expect_problem(409, "invalid_transition");
    assert_eq!(statuses(&mut db, &wo).await.len(), 2);
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM store.job_status_history WHERE job_id = $1::uuid")
            .bind(done)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(history, 6, "the done job's history stays");
    let wo_status: String =
        sqlx::query_scalar("SELECT status FROM store.work_orders WHERE id = $1::uuid")
            .bind(&wo)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(wo_status, "canceled");
    // Regenerating a canceled work order creates nothing.
    let again = shop
        .owner
        .action(&format!("/v1/work-orders/{wo}/generate"))
        .await;
    again.expect_status(200);
    assert_eq!(statuses(&mut db, &wo).await.len(), 2);

    // Renewal: an auto-renewing agreement runs twelve months longer and gets the new visits.
    let renewing = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Renewing plan", "location_ids": [shop.location],
                    "service_type_ids": [shop.service], "recurrence": "FREQ=MONTHLY;BYMONTHDAY=1",
                    "time_zone": ZONE, "starts_on": "2031-01-01", "ends_on": "2031-03-31",
                    "auto_renew": true, "horizon_days": 3660}),
        )
        .await;
    let renewing = renewing.id();
    let first_term = shop
        .owner
        .action(&format!("/v1/agreements/{renewing}/activate"))
        .await;
    first_term.expect_status(200);
    assert_eq!(first_term.json["jobs_created"], json!(3));
    shop.owner
        .action(&format!("/v1/agreements/{renewing}/expire"))
        .await
        .expect_problem(409, "invalid_transition");
    let renewed = shop
        .owner
        .action(&format!("/v1/agreements/{renewing}/renew"))
        .await;
    renewed.expect_status(200);
    assert_eq!(renewed.json["ends_on"], json!("2032-03-31"));
    assert_eq!(renewed.json["jobs_created"], json!(12));

    let all = events(&mut db, shop.tenant.id).await;
    let activated: Vec<&Value> = all
        .iter()
        .filter(|(t, _)| t == "agreement.activated")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(activated.len(), 3);
    assert_eq!(activated[0]["annual_value_minor"], json!(36000));
    assert_eq!(activated[0]["work_order_ids"], json!([wo]));
    assert_eq!(activated[0]["billing_frequency"], json!("monthly"));
    let done_event = all
        .iter()
        .find(|(t, _)| t == "job.completed")
        .map(|(_, p)| p)
        .unwrap();
    assert_eq!(done_event["agreement_id"], json!(id));
    assert_eq!(done_event["work_order_id"], json!(wo));
    let canceled_event = all.iter().find(|(t, _)| t == "agreement.canceled").unwrap();
    assert_eq!(canceled_event.1["agreement_id"], json!(id));
    assert_eq!(canceled_event.1["previous_status"], json!("active"));
}

#[tokio::test]
async fn bad_input_is_422_with_the_fields_and_nothing_is_written() {
    let server = server().await;
    let shop = shop(&server, "fo-bad").await;
    let tess = shop.technician("Tess", &["termite"], None).await;
    let job_id = shop.job("2030-01-07", "09:00", "10:00").await;
    let draft = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Plan", "location_ids": [shop.location],
                    "service_type_ids": [shop.service], "recurrence": "FREQ=MONTHLY", "starts_on": "2030-01-01"}),
        )
        .await;
    let draft = draft.id();
    let wo = shop
        .create(
            "/v1/work-orders",
            &json!({"customer_id": shop.customer, "location_id": shop.location,
                    "line_items": [{"service_type_id": shop.service}]}),
        )
        .await;
    assert_eq!(wo.json["recurrence"], json!(null));
    let wo = wo.id();
    let mut db = server.db().await;
    let before = events(&mut db, shop.tenant.id).await.len();
    let totals = "SELECT (SELECT count(*) FROM store.technicians) * 1000000 + (SELECT count(*) FROM store.service_types) * 10000
                 + (SELECT count(*) FROM store.jobs) * 100 + (SELECT count(*) FROM store.work_orders) * 10
                 + (SELECT count(*) FROM store.service_agreements) + (SELECT count(*) FROM store.technician_time_off)
                 + (SELECT count(*) FROM store.job_assignments) + (SELECT count(*) FROM store.job_status_history)";
    let snapshot = count(&mut db, totals).await;
    let unknown = Uuid::now_v7().to_string();
    let cases: Vec<(&str, String, Value, Vec<&str>)> = vec![
        (
            "POST",
            "/v1/technicians".into(),
            json!({"skills": "x"}),
            vec!["skills"],
        ),
        (
            "POST",
            "/v1/technicians".into(),
            json!({"name": "T", "time_zone": "Mars/Base", "working_hours": {"mon": [{"start": "9", "end": "8"}]}}),
            vec!["time_zone", "working_hours.mon[0]"],
        ),
        (
            "POST",
            "/v1/technicians".into(),
            json!({"name": "T", "user_id": unknown}),
            vec!["user_id"],
        ),
        (
            "PATCH",
            format!("/v1/technicians/{tess}"),
            json!({"name": "", "home_latitude": 91, "home_longitude": 0}),
            vec!["name", "home_latitude"],
        ),
        (
            "POST",
            format!("/v1/technicians/{tess}/time-off"),
            json!({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}),
            vec!["ends_at"],
        ),
        (
            "POST",
            "/v1/jobs/service-types".into(),
            json!({"name": "", "default_duration_minutes": 0, "currency": "usd"}),
            vec!["name", "default_duration_minutes", "currency"],
        ),
        (
            "PATCH",
            format!("/v1/jobs/service-types/{}", shop.service),
            json!({"default_price_minor": -1}),
            vec!["default_price_minor"],
        ),
        (
            "POST",
            "/v1/jobs".into(),
            json!({"customer_id": unknown, "location_id": shop.location, "service_type_ids": [unknown]}),
            vec!["customer_id", "service_type_ids[0]"],
        ),
        (
            "POST",
            "/v1/jobs".into(),
            json!({"customer_id": shop.customer, "location_id": shop.location, "service_type_ids": [shop.service], "scheduled_date": "2030-02-30", "window_start_local": "11:00", "window_end_local": "10:00", "priority": 9}),
            vec!["priority", "scheduled_date"],
        ),
        (
            "PATCH",
            format!("/v1/jobs/{job_id}"),
            json!({"duration_minutes": 0, "status": "completed"}),
            vec!["status"],
        ),
        (
            "PATCH",
            format!("/v1/jobs/{job_id}"),
            json!({"duration_minutes": 0}),
            vec!["duration_minutes"],
        ),
        (
            "POST",
            format!("/v1/jobs/{job_id}/schedule"),
            json!({"scheduled_date": "x", "window_start_local": "10:00", "window_end_local": "09:00"}),
            vec!["scheduled_date"],
        ),
        (
            "POST",
            format!("/v1/jobs/{job_id}/status"),
            json!({"status": "flying"}),
            vec!["status"],
        ),
        (
            "POST",
            format!("/v1/jobs/{job_id}/assignments"),
            json!({"technician_ids": [unknown]}),
            vec!["technician_ids[0]"],
        ),
        (
            "POST",
            "/v1/work-orders".into(),
            json!({"customer_id": shop.customer, "location_id": shop.location, "line_items": [], "recurrence": "FREQ=WEEKLY;BYDAY=XX"}),
            vec!["line_items", "recurrence", "starts_on"],
        ),
        (
            "PATCH",
            format!("/v1/agreements/{draft}"),
            json!({"price_minor": -5, "pricing": "monthly", "time_zone": "Nowhere"}),
            vec!["price_minor", "pricing", "time_zone"],
        ),
        (
            "PATCH",
            format!("/v1/work-orders/{wo}"),
            json!({"start_time": "25:00", "horizon_days": 0, "recurrence": "FREQ=DAILY"}),
            vec!["start_time", "horizon_days", "starts_on"],
        ),
        (
            "POST",
            "/v1/agreements".into(),
            json!({"customer_id": shop.customer, "name": "A", "location_ids": [unknown], "service_type_ids": [shop.service], "recurrence": "FREQ=WEEKLY", "starts_on": "2030-01-01", "ends_on": "2029-01-01", "pricing": "per_period", "billing_frequency": "per_visit"}),
            vec!["location_ids[0]", "ends_on", "billing_frequency"],
        ),
    ];
    for (method, path, body, fields) in cases {
        let response = shop.owner.send_json(method, &path, &body).await;
        response.expect_problem(422, "validation_failed");
        let named: Vec<&str> = response.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for field in fields {
            assert!(
                named.contains(&field),
                "{method} {path}: {field} not in {named:?}"
            );
        }
    }
    // Unknown ids are 404 on every route that takes one.
    for path in [
        format!("/v1/technicians/{unknown}"),
        format!("/v1/technicians/{unknown}/time-off"),
        format!("/v1/jobs/{unknown}"),
        format!("/v1/jobs/{unknown}/history"),
        format!("/v1/jobs/service-types/{unknown}"),
        format!("/v1/jobs/technicians/{unknown}/day"),
        format!("/v1/work-orders/{unknown}"),
        format!("/v1/agreements/{unknown}"),
    ] {
        shop.owner.get(&path).await.expect_problem(404, "not_found");
    }
    for (path, body) in [
        (
            format!("/v1/jobs/{unknown}/status"),
            json!({"status": "canceled"}),
        ),
        (
            format!("/v1/jobs/{unknown}/schedule"),
            json!({"scheduled_date": "2030-01-01", "window_start_local": "09:00", "window_end_local": "10:00"}),
        ),
        (
            format!("/v1/jobs/{unknown}/assignments"),
            json!({"technician_ids": [tess]}),
        ),
        (format!("/v1/work-orders/{unknown}/generate"), json!({})),
        (format!("/v1/agreements/{unknown}/activate"), json!({})),
    ] {
        shop.owner
            .post(&path, &body)
            .await
            .expect_problem(404, "not_found");
    }
    assert_eq!(
        count(&mut db, totals).await,
        snapshot,
        "nothing half-written"
    );
    assert_eq!(
        events(&mut db, shop.tenant.id).await.len(),
        before,
        "no event from a failed request"
    );
    // A technician with assignments cannot be deleted (deactivate instead); one without can.
    shop.assign(&job_id, &[&tess]).await;
    shop.owner
        .delete(&format!("/v1/technicians/{tess}"))
        .await
        .expect_problem(409, "technician_in_use");
    let spare = shop.technician("Spare", &[], None).await;
    shop.owner
        .delete(&format!("/v1/technicians/{spare}"))
        .await
        .expect_status(204);
    shop.owner
        .get(&format!("/v1/technicians/{spare}"))
        .await
        .expect_problem(404, "not_found");
}

/// Issue 19, item 11. The black-box suite runs the release-built components (the harness
/// points `VEROFIELD_BUILTIN_MODULES` at `plugins/target/wasm32-wasip2/release`), where an
/// unchecked product or sum wraps silently instead of trapping: this is the release-mode test
/// that money is computed with checked arithmetic.
#[tokio::test]
async fn amounts_past_the_largest_integer_are_422_naming_the_field_never_a_wrapped_total() {
    let server = server().await;
    let shop = shop(&server, "fo-money").await;
    let order = |lines: Value| json!({"customer_id": shop.customer, "location_id": shop.location, "line_items": lines});
    let mut db = server.db().await;
    let stored = "SELECT (SELECT count(*) FROM store.work_orders) * 1000
                  + (SELECT count(*) FROM store.service_agreements) * 100
                  + (SELECT count(*) FROM store.jobs)";
    let before = count(&mut db, stored).await;

    // 1,000 x 10^16 = 10^19, past i64::MAX (about 9.2 x 10^18): it wrapped to a negative total.
    let product = shop
        .owner
        .post(
            "/v1/work-orders",
            &order(json!([{"service_type_id": shop.service, "quantity": 1000,
                           "unit_price_minor": 10_000_000_000_000_000i64}])),
        )
        .await;
    product.expect_problem(422, "validation_failed");
    assert_eq!(product.error_fields(), ["line_items[0].unit_price_minor"]);
    // Three lines of 4 x 10^18 each fit; the order's total does not.
    let line =
        json!({"service_type_id": shop.service, "unit_price_minor": 4_000_000_000_000_000_000i64});
    let sum = shop
        .owner
        .post("/v1/work-orders", &order(json!([line, line, line])))
        .await;
    sum.expect_problem(422, "validation_failed");
    assert_eq!(sum.error_fields(), ["line_items"]);
    // An agreement's annual value: 12 monthly periods of 10^18.
    let agreement = shop
        .owner
        .post(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Dear plan", "location_ids": [shop.location],
                    "service_type_ids": [shop.service], "recurrence": "FREQ=MONTHLY", "starts_on": "2030-01-01",
                    "pricing": "per_period", "billing_frequency": "monthly",
                    "price_minor": 1_000_000_000_000_000_000i64}),
        )
        .await;
    agreement.expect_problem(422, "validation_failed");
    assert_eq!(agreement.error_fields(), ["price_minor"]);
    assert_eq!(count(&mut db, stored).await, before, "nothing was stored");

    // The largest amounts that fit are kept exactly.
    let largest = i64::MAX / 1000;
    let fits = shop
        .create(
            "/v1/work-orders",
            &order(json!([{"service_type_id": shop.service, "quantity": 1000, "unit_price_minor": largest}])),
        )
        .await;
    assert_eq!(
        fits.json["line_items"][0]["total_minor"],
        json!(largest * 1000)
    );
}

/// Issue 19, item 12: a NUL (which PostgreSQL cannot store in text) in a query parameter or
/// a body field is the client's error, 422 naming it, in every module; never a 503 and never
/// an ERROR in the server's log.
#[tokio::test]
async fn a_nul_in_a_parameter_or_a_field_is_422_naming_it_and_logs_no_error() {
    let server = server().await;
    let shop = shop(&server, "fo-nul").await;
    let tess = shop.technician("Tess", &["termite"], None).await;
    let mut db = server.db().await;
    let stored = "SELECT (SELECT count(*) FROM store.crm_customers) * 1000
                  + (SELECT count(*) FROM store.technicians) * 100 + (SELECT count(*) FROM store.jobs)";
    let before = count(&mut db, stored).await;
    for (path, field) in [
        ("/v1/technicians?q=ab%00c", "q"),
        ("/v1/crm/customers?q=%00", "q"),
        ("/v1/crm/customers?tag=vip%00", "tag"),
        ("/v1/jobs?status=scheduled%00", "status"),
    ] {
        let response = shop.owner.get(path).await;
        response.expect_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), [field], "{path}");
    }
    for (method, path, body, field) in [
        (
            "POST",
            "/v1/crm/customers".to_owned(),
            json!({"name": "Ab\u{0}c"}),
            "name",
        ),
        (
            "PATCH",
            format!("/v1/crm/customers/{}", shop.customer),
            json!({"tags": ["ok", "\u{0}"]}),
            "tags[1]",
        ),
        (
            "POST",
            "/v1/technicians".to_owned(),
            json!({"name": "T\u{0}"}),
            "name",
        ),
        (
            "PATCH",
            format!("/v1/technicians/{tess}"),
            json!({"skills": ["x\u{0}"]}),
            "skills[0]",
        ),
        (
            "POST",
            "/v1/jobs".to_owned(),
            json!({"customer_id": shop.customer, "location_id": shop.location,
                   "service_type_ids": [shop.service], "notes": "gate code \u{0}"}),
            "notes",
        ),
    ] {
        let response = shop.owner.send_json(method, &path, &body).await;
        response.expect_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), [field], "{method} {path}");
    }
    assert_eq!(count(&mut db, stored).await, before, "nothing was stored");
    server.assert_no_error_logged();
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_route_and_changes_nothing() {
    let server = server().await;
    let a = shop(&server, "fo-owner").await;
    let b = shop(&server, "fo-intruder").await;
    let tess = a.technician("Tess", &["termite"], None).await;
    let job_id = a.job("2030-01-07", "09:00", "10:00").await;
    a.assign(&job_id, &[&tess]).await;
    let time_off = a
        .create(
            &format!("/v1/technicians/{tess}/time-off"),
            &json!({"starts_at": "2030-02-01T00:00:00Z", "ends_at": "2030-02-02T00:00:00Z"}),
        )
        .await;
    let time_off = time_off.id();
    let wo = a
        .create(
            "/v1/work-orders",
            &json!({"customer_id": a.customer, "location_id": a.location,
                    "line_items": [{"service_type_id": a.service}], "recurrence": "FREQ=WEEKLY;COUNT=2",
                    "starts_on": "2030-03-04", "horizon_days": 3660}),
        )
        .await;
    let wo = wo.id();
    let agreement = a
        .create(
            "/v1/agreements",
            &json!({"customer_id": a.customer, "name": "Plan", "location_ids": [a.location],
                    "service_type_ids": [a.service], "recurrence": "FREQ=MONTHLY", "starts_on": "2030-01-01"}),
        )
        .await;
    let agreement = agreement.id();
    let mut db = server.db().await;
    let fingerprint = "SELECT string_agg(t || ':' || v, ',' ORDER BY t) FROM (
        SELECT 'technicians' t, sum(version)::text v FROM store.technicians
        UNION ALL SELECT 'time_off', count(*)::text FROM store.technician_time_off
        UNION ALL SELECT 'service_types', sum(version)::text FROM store.service_types
        UNION ALL SELECT 'jobs', sum(version)::text || '/' || count(*) FROM store.jobs
        UNION ALL SELECT 'assignments', count(*)::text FROM store.job_assignments
        UNION ALL SELECT 'history', count(*)::text FROM store.job_status_history
        UNION ALL SELECT 'work_orders', sum(version)::text FROM store.work_orders
        UNION ALL SELECT 'agreements', sum(version)::text FROM store.service_agreements) s";
    let before: String = sqlx::query_scalar(fingerprint)
        .fetch_one(&mut db)
        .await
        .unwrap();
    let events_before = events(&mut db, a.tenant.id).await.len();

    for path in [
        format!("/v1/technicians/{tess}"),
        format!("/v1/technicians/{tess}/time-off"),
        format!("/v1/jobs/service-types/{}", a.service),
        format!("/v1/jobs/{job_id}"),
        format!("/v1/jobs/{job_id}/history"),
        format!("/v1/jobs/technicians/{tess}/day?date=2030-01-07"),
        format!("/v1/jobs/mine/{job_id}"),
        format!("/v1/work-orders/{wo}"),
        format!("/v1/agreements/{agreement}"),
    ] {
        b.owner.get(&path).await.expect_problem(404, "not_found");
    }
    for path in [
        format!("/v1/jobs?technician_id={tess}"),
        format!("/v1/jobs?customer_id={}", a.customer),
        format!("/v1/work-orders?customer_id={}", a.customer),
        format!("/v1/agreements?customer_id={}", a.customer),
        "/v1/technicians".to_owned(),
    ] {
        let listed = b.owner.get(&path).await;
        listed.expect_status(200);
        assert_eq!(listed.json["items"], json!([]), "{path}");
    }
    let patches = [
        (format!("/v1/technicians/{tess}"), json!({"name": "Stolen"})),
        (
            format!("/v1/jobs/service-types/{}", a.service),
            json!({"name": "Stolen"}),
        ),
        (format!("/v1/jobs/{job_id}"), json!({"notes": "Stolen"})),
        (format!("/v1/work-orders/{wo}"), json!({"notes": "Stolen"})),
        (
            format!("/v1/agreements/{agreement}"),
            json!({"notes": "Stolen"}),
        ),
    ];
    for (path, body) in patches {
        b.owner
            .patch(&path, &body)
            .await
            .expect_problem(404, "not_found");
    }
    let posts = [
        (
            format!("/v1/technicians/{tess}/time-off"),
            json!({"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}),
        ),
        (
            format!("/v1/jobs/{job_id}/schedule"),
            json!({"scheduled_date": "2030-01-08", "window_start_local": "09:00", "window_end_local": "10:00"}),
        ),
        (
            format!("/v1/jobs/{job_id}/status"),
            json!({"status": "canceled"}),
        ),
        (
            format!("/v1/jobs/{job_id}/assignments"),
            json!({"technician_ids": [b.service]}),
        ),
        (
            format!("/v1/jobs/{job_id}/assignments/override"),
            json!({"technician_ids": [b.service]}),
        ),
        (format!("/v1/work-orders/{wo}/generate"), json!({})),
        (format!("/v1/work-orders/{wo}/close"), json!({})),
        (format!("/v1/agreements/{agreement}/activate"), json!({})),
        (format!("/v1/agreements/{agreement}/pause"), json!({})),
        (format!("/v1/agreements/{agreement}/cancel"), json!({})),
        (format!("/v1/agreements/{agreement}/expire"), json!({})),
        (format!("/v1/agreements/{agreement}/renew"), json!({})),
        (
            format!("/v1/jobs/mine/{job_id}/status"),
            json!({"status": "en_route"}),
        ),
    ];
    for (path, body) in posts {
        b.owner
            .post(&path, &body)
            .await
            .expect_problem(404, "not_found");
    }
    // B cannot point its own job at A's rows either.
    let crossing = b
        .owner
        .post(
            "/v1/jobs",
            &json!({"customer_id": a.customer, "location_id": a.location, "service_type_ids": [a.service]}),
        )
        .await;
    crossing.expect_problem(422, "validation_failed");
    for path in [
        format!("/v1/technicians/{tess}/time-off/{time_off}"),
        format!("/v1/technicians/{tess}"),
        format!("/v1/jobs/{job_id}/assignments/{tess}"),
    ] {
        b.owner.delete(&path).await.expect_problem(404, "not_found");
    }
    let after: String = sqlx::query_scalar(fingerprint)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(after, before, "tenant A's rows are untouched");
    assert_eq!(events(&mut db, a.tenant.id).await.len(), events_before);
    let b_jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM store.jobs WHERE tenant_id = $1")
        .bind(b.tenant.id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(b_jobs, 0);
}

/// One call of a long generation: how many jobs it created, whether the horizon is now
/// complete, why it stopped otherwise, and how far it reached.
struct GenerationCall {
    created: usize,
    complete: bool,
    stopped: Option<String>,
    until: String,
}

impl GenerationCall {
    fn of(response: &Resp) -> Self {
        let generation = &response.json["generation"];
        Self {
            created: generation["created"].as_array().unwrap().len(),
            complete: generation["complete"].as_bool().unwrap(),
            stopped: generation["stopped"].as_str().map(str::to_owned),
            until: response.json["generated_until"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }
}

/// Creates an 18-month daily work order (546 visits, more than one call creates) and calls
/// generate until the horizon is complete. Checks what holds whatever the host's speed: a
/// call creates at most 200 and says why it stopped short, `generated_until` only moves
/// forward, and the horizon ends with exactly one job per date. Returns every call.
async fn fill_a_long_horizon(server: &TestServer, slug: &str) -> Vec<GenerationCall> {
    let shop = shop(server, slug).await;
    let created = shop
        .create(
            "/v1/work-orders",
            &json!({"customer_id": shop.customer, "location_id": shop.location,
                    "line_items": [{"service_type_id": shop.service}], "recurrence": "FREQ=DAILY",
                    "starts_on": "2030-01-01", "ends_on": "2031-06-30", "time_zone": ZONE,
                    "horizon_days": 3660}),
        )
        .await;
    let wo = created.id();
    let mut calls = vec![GenerationCall::of(&created)];
    while !calls.last().unwrap().complete {
        assert!(calls.len() < 200, "the generation makes no progress");
        let next = shop
            .owner
            .action(&format!("/v1/work-orders/{wo}/generate"))
            .await;
        next.expect_status(200);
        calls.push(GenerationCall::of(&next));
    }
    for pair in calls.windows(2) {
        assert!(pair[0].until <= pair[1].until, "generated_until went back");
    }
    for call in &calls {
        assert!(call.created <= 200);
        match (call.complete, call.stopped.as_deref()) {
            (true, None) | (false, Some("deadline")) => {}
            (false, Some("batch_limit")) => assert_eq!(call.created, 200),
            other => panic!("complete / stopped: {other:?}"),
        }
    }
    assert_eq!(calls.iter().map(|c| c.created).sum::<usize>(), 546);
    assert_eq!(calls.last().unwrap().until, "2031-06-30");
    let last = shop
        .owner
        .action(&format!("/v1/work-orders/{wo}/generate"))
        .await;
    assert_eq!(last.json["generation"]["created"], json!([]));
    assert_eq!(last.json["generation"]["existing"], json!(546));
    let mut db = server.db().await;
    let (jobs, dates): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT scheduled_date) FROM store.jobs WHERE work_order_id = $1::uuid",
    )
    .bind(&wo)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((jobs, dates), (546, 546));
    calls
}

#[tokio::test]
async fn a_long_horizon_is_generated_over_several_calls_without_duplicates() {
    let server = server().await;
    let calls = fill_a_long_horizon(&server, "fo-long").await;
    // With the default 2 s deadline the batch limit is what usually stops a call
    // (200, 200, 146); a loaded host may stop one earlier, at its deadline.
    assert!(calls.len() >= 3);
}

#[tokio::test]
async fn a_generation_short_of_time_stops_at_its_deadline_and_the_next_call_goes_on() {
    // 600 ms leaves a module about 290 ms of work per call. Every store statement waits 4 ms
    // first (a debug-build test setting), so at most about 72 inserts fit in a call on any
    // machine, idle or loaded: fewer than the batch limit of 200.
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules().args([
        "--module-deadline-ms",
        "600",
        "--test-store-delay-ms",
        "4",
    ]))
    .await;
    let calls = fill_a_long_horizon(&server, "fo-deadline").await;
    assert!(
        calls
            .iter()
            .any(|c| c.stopped.as_deref() == Some("deadline") && c.created < 200),
        "no call stopped at its deadline: {:?}",
        calls.iter().map(|c| c.created).collect::<Vec<_>>()
    );
}
