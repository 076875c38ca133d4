//! The kpis module against hand-computed fixtures: a small company is built through the API
//! (two technicians, two service types, jobs on fixed dates ending completed, canceled or
//! still scheduled, invoices finalized today, agreements activated and canceled), and every
//! number `GET /v1/kpis` answers is compared exactly with the count worked out in the
//! comments (formulas: docs/KPIS.md). Another tenant's rows never enter a tenant's numbers;
//! bad parameters are 422 naming each one.

use std::ops::Deref;

use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A tenant in New York with a customer and location, the service types `lawn` and
/// `termite`, and the technicians Tess and Tom.
struct Company<'s> {
    scenario: Scenario<'s>,
    customer: String,
    location: String,
    lawn: String,
    termite: String,
    tess: String,
    tom: String,
}

impl<'s> Deref for Company<'s> {
    type Target = Scenario<'s>;

    fn deref(&self) -> &Scenario<'s> {
        &self.scenario
    }
}

async fn company<'s>(server: &'s TestServer, slug: &str) -> Company<'s> {
    let scenario = server.scenario_in(&unique(slug), SCENARIO_ZONE).await;
    let customer = scenario.customer("Green Acres").await;
    let location = scenario.location(&customer, "Main house").await;
    let lawn = scenario.service_type("Lawn", 60, 5_000, &[]).await;
    let termite = scenario.service_type("Termite", 60, 12_500, &[]).await;
    let tess = scenario.technician("Tess", &[], None).await;
    let tom = scenario.technician("Tom", &[], None).await;
    Company {
        scenario,
        customer,
        location,
        lawn,
        termite,
        tess,
        tom,
    }
}

impl Company<'_> {
    /// A job of `service` on `date` (09:00-11:00) for `technician`, taken to `end`:
    /// `completed`, `canceled` or `scheduled` (left as it is).
    async fn job(&self, date: &str, service: &str, technician: &str, end: &str) -> String {
        let job = self
            .create(
                "/v1/jobs",
                &json!({"customer_id": self.customer, "location_id": self.location,
                        "service_type_ids": [service], "scheduled_date": date,
                        "window_start_local": "09:00", "window_end_local": "11:00",
                        "time_zone": SCENARIO_ZONE}),
            )
            .await
            .id();
        // Overridden: the fixture's dates need not fall in the technicians' working hours
        // (today may be a Sunday).
        let assignment = json!({"technician_ids": [technician], "reason": "fixture"});
        self.owner
            .assign_override(&job, &assignment)
            .await
            .expect_status(200);
        let steps: &[&str] = match end {
            "completed" => &["dispatched", "en_route", "in_progress"],
            "canceled" => &["canceled"],
            _ => &[],
        };
        for to in steps {
            self.status(&job, to).await;
        }
        if end == "completed" {
            let completion = json!({"status": "completed", "completion": {"work_minutes": 50}});
            self.owner
                .job_status_with(&job, &completion)
                .await
                .expect_status(200);
        }
        job
    }

    /// An invoice to `customer` of one line at `unit_minor` (with `tax_rate`, if any),
    /// finalized: its body.
    async fn invoice(
        &self,
        customer: &str,
        currency: &str,
        unit_minor: i64,
        tax_rate: Option<&str>,
    ) -> Value {
        let draft = self
            .create(
                "/v1/billing/invoices",
                &json!({"customer_id": customer, "currency": currency,
                        "lines": [{"description": "Service", "unit_price_minor": unit_minor,
                                   "tax_rate_id": tax_rate}]}),
            )
            .await;
        let path = format!("/v1/billing/invoices/{}/finalize", draft.id());
        let finalized = self.owner.action(&path).await;
        finalized.expect_status(200);
        finalized.json.clone()
    }

    /// An agreement billed monthly at `price_minor` a period from today, activated: its id.
    async fn agreement(&self, price_minor: i64) -> String {
        let today = chrono::Utc::now().date_naive().to_string();
        let agreement = self
            .create(
                "/v1/agreements",
                &json!({"customer_id": self.customer, "name": "Lawn plan",
                        "location_ids": [self.location], "service_type_ids": [self.lawn],
                        "recurrence": "FREQ=MONTHLY", "time_zone": "UTC", "pricing": "per_period",
                        "price_minor": price_minor, "currency": "USD",
                        "billing_frequency": "monthly", "starts_on": today, "horizon_days": 30}),
            )
            .await
            .id();
        self.owner
            .action(&format!("/v1/agreements/{agreement}/activate"))
            .await
            .expect_status(200);
        agreement
    }

    /// `GET /v1/kpis?{query}` as the owner, 200 asserted.
    async fn kpis(&self, query: &str) -> Value {
        let answer = self.owner.get(&format!("/v1/kpis?{query}")).await;
        answer.expect_status(200);
        answer.json.clone()
    }

    /// `metrics` over the one day `day`.
    async fn kpis_on(&self, metrics: &str, day: &str) -> Value {
        self.kpis(&format!("metrics={metrics}&from={day}&to={day}"))
            .await
    }
}

/// The points of `metric` in an answer.
fn points<'a>(answer: &'a Value, metric: &str) -> &'a Vec<Value> {
    answer["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {answer}"))["points"]
        .as_array()
        .unwrap()
}

/// The values of `metric`, bucket by bucket.
fn values(answer: &Value, metric: &str) -> Vec<Value> {
    points(answer, metric)
        .iter()
        .map(|p| p["value"].clone())
        .collect()
}

/// The numerator and denominator of `metric`, bucket by bucket.
fn fractions(answer: &Value, metric: &str) -> Vec<(i64, i64)> {
    points(answer, metric)
        .iter()
        .map(|p| {
            (
                p["numerator"].as_i64().unwrap(),
                p["denominator"].as_i64().unwrap(),
            )
        })
        .collect()
}

const JOB_METRICS: &str =
    "metrics=jobs_completed,jobs_per_technician_per_day,cancellation_rate,technician_utilisation";

/// The jobs of the fixture, by scheduled date (2030-01-07 is a Monday):
///
/// | date       | service | technician | end       |
/// |------------|---------|------------|-----------|
/// | 2030-01-07 | lawn    | Tess       | completed |
/// | 2030-01-07 | lawn    | Tom        | completed |
/// | 2030-01-08 | termite | Tess       | completed |
/// | 2030-01-08 | lawn    | Tom        | canceled  |
/// | 2030-01-09 | termite | Tess       | scheduled |
/// | 2030-01-15 | lawn    | Tom        | completed |
async fn six_jobs(shop: &Company<'_>) {
    let (lawn, termite, tess, tom) = (&shop.lawn, &shop.termite, &shop.tess, &shop.tom);
    shop.job("2030-01-07", lawn, tess, "completed").await;
    shop.job("2030-01-07", lawn, tom, "completed").await;
    shop.job("2030-01-08", termite, tess, "completed").await;
    shop.job("2030-01-08", lawn, tom, "canceled").await;
    shop.job("2030-01-09", termite, tess, "scheduled").await;
    shop.job("2030-01-15", lawn, tom, "completed").await;
}

#[tokio::test]
async fn job_metrics_equal_the_hand_count_by_week_day_technician_and_service() {
    let server = server().await;
    let shop = company(&server, "kpi-jobs").await;
    six_jobs(&shop).await;
    // Tess is off on Wednesday 2030-01-09 from 12:00 to 17:00 New York time (EST, UTC-5).
    shop.create(
        &format!("/v1/technicians/{}/time-off", shop.tess),
        &json!({"starts_at": "2030-01-09T17:00:00Z", "ends_at": "2030-01-09T22:00:00Z"}),
    )
    .await;

    // Weeks of 01-07..01-13 and 01-14..01-20. Week 1: 5 jobs, 3 completed, 1 canceled;
    // week 2: 1 job, completed. 2 active technicians x 7 days = 14 technician-days a week.
    let weeks = shop
        .kpis(&format!(
            "{JOB_METRICS}&from=2030-01-07&to=2030-01-20&bucket=week"
        ))
        .await;
    assert_eq!(weeks["time_zone"], SCENARIO_ZONE);
    assert_eq!(points(&weeks, "jobs_completed")[1]["start"], "2030-01-14");
    assert_eq!(values(&weeks, "jobs_completed"), [json!(3), json!(1)]);
    assert_eq!(
        fractions(&weeks, "jobs_per_technician_per_day"),
        [(3, 14), (1, 14)]
    );
    assert_eq!(
        values(&weeks, "jobs_per_technician_per_day")[0],
        json!(3.0 / 14.0)
    );
    assert_eq!(fractions(&weeks, "cancellation_rate"), [(1, 5), (0, 1)]);
    assert_eq!(
        values(&weeks, "cancellation_rate"),
        [json!(0.2), json!(0.0)]
    );

    // Days 01-07, 01-08, 01-09: completed 2, 1, 0; canceled 0 of 2, 1 of 2, 0 of 1.
    let days = shop
        .kpis(&format!(
            "{JOB_METRICS}&from=2030-01-07&to=2030-01-09&bucket=day"
        ))
        .await;
    assert_eq!(
        values(&days, "jobs_completed"),
        [json!(2), json!(1), json!(0)]
    );
    assert_eq!(
        fractions(&days, "cancellation_rate"),
        [(0, 2), (1, 2), (0, 1)]
    );
    assert_eq!(
        fractions(&days, "jobs_per_technician_per_day"),
        [(2, 2), (1, 2), (0, 2)]
    );

    // Tess alone, week 1: her 3 jobs (01-07, 01-08 completed; 01-09 scheduled) over 1 x 7 days.
    let tess = shop
        .kpis(&format!(
            "{JOB_METRICS}&from=2030-01-07&to=2030-01-20&bucket=week&technician_id={}",
            shop.tess
        ))
        .await;
    assert_eq!(
        fractions(&tess, "jobs_per_technician_per_day"),
        [(2, 7), (0, 7)]
    );
    assert_eq!(fractions(&tess, "cancellation_rate"), [(0, 3), (0, 0)]);
    // Her 3 jobs' 180 minutes over 5 x 540 - 300 = 2,400; week 2: none over 2,700.
    assert_eq!(
        fractions(&tess, "technician_utilisation"),
        [(180, 2_400), (0, 2_700)]
    );

    // Termite only: 01-08 completed and 01-09 scheduled, both in week 1.
    let termite = shop
        .kpis(&format!(
            "{JOB_METRICS}&from=2030-01-07&to=2030-01-20&bucket=week&service_type_id={}",
            shop.termite
        ))
        .await;
    assert_eq!(values(&termite, "jobs_completed"), [json!(1), json!(0)]);
    assert_eq!(fractions(&termite, "cancellation_rate"), [(0, 2), (0, 0)]);
}

/// Sets columns of job `job` directly (what a day in the field would have written: when work
/// started, what an applied plan routed), through the database so the dates can be 2030's.
async fn set_job(server: &TestServer, shop: &Company<'_>, job: &str, set: &str) {
    let sql = format!("UPDATE store.jobs SET {set} WHERE tenant_id = $1 AND id = $2::uuid");
    sqlx::query(&sql)
        .bind(shop.tenant.id)
        .bind(job)
        .execute(&mut server.db().await)
        .await
        .unwrap();
}

const FIELD_METRICS: &str = "metrics=on_time_arrival_rate,reschedule_rate,travel_distance_per_job";

/// Windows are 09:00-11:00 New York time (14:00-16:00 UTC). Work started 09:30 on the first
/// 01-07 job (on time), 11:30 on the second (late), 10:00 on the 01-08 completed job (on
/// time); the canceled and scheduled jobs never started. An unassigned job of 01-09 was
/// rescheduled twice (through the API), the scheduled one never. The applied plan routed
/// 1,201 m and 800 m to the 01-07 jobs, 1,000 m to the 01-08 completed one and 5,000 m to
/// the canceled one (not counted: nobody drove there).
#[tokio::test]
async fn arrival_reschedule_and_travel_metrics_equal_the_hand_count() {
    let server = server().await;
    let shop = company(&server, "kpi-field").await;
    let (lawn, tess, tom) = (&shop.lawn, &shop.tess, &shop.tom);
    let early = shop.job("2030-01-07", lawn, tess, "completed").await;
    let late = shop.job("2030-01-07", lawn, tom, "completed").await;
    let next_day = shop.job("2030-01-08", lawn, tess, "completed").await;
    let dropped = shop.job("2030-01-08", lawn, tom, "canceled").await;
    shop.job("2030-01-09", lawn, tess, "scheduled").await;
    for (job, set) in [
        (
            &early,
            "started_at = '2030-01-07T14:30:00Z', planned_travel_meters = 1201",
        ),
        (
            &late,
            "started_at = '2030-01-07T16:30:00Z', planned_travel_meters = 800",
        ),
        (
            &next_day,
            "started_at = '2030-01-08T15:00:00Z', planned_travel_meters = 1000",
        ),
        (&dropped, "planned_travel_meters = 5000"),
    ] {
        set_job(&server, &shop, job, set).await;
    }
    let moved = shop
        .create(
            "/v1/jobs",
            &json!({"customer_id": shop.customer, "location_id": shop.location,
                    "service_type_ids": [lawn], "scheduled_date": "2030-01-09",
                    "window_start_local": "09:00", "window_end_local": "11:00",
                    "time_zone": SCENARIO_ZONE}),
        )
        .await
        .id();
    for start in ["13:00", "15:00"] {
        let window = json!({"scheduled_date": "2030-01-09", "window_start_local": start,
                            "window_end_local": "17:00"});
        shop.owner
            .schedule(&moved, &window)
            .await
            .expect_status(200);
    }
    // Another tenant's routed, late, rescheduled job on 01-07 never counts.
    let other = company(&server, "kpi-field-b").await;
    let theirs = other
        .job("2030-01-07", &other.lawn, &other.tess, "completed")
        .await;
    set_job(
        &server,
        &other,
        &theirs,
        "started_at = '2030-01-07T20:00:00Z', planned_travel_meters = 9999",
    )
    .await;

    let days = shop
        .kpis(&format!("{FIELD_METRICS}&from=2030-01-07&to=2030-01-09"))
        .await;
    assert_eq!(
        fractions(&days, "on_time_arrival_rate"),
        [(1, 2), (1, 1), (0, 0)]
    );
    assert_eq!(
        fractions(&days, "reschedule_rate"),
        [(0, 2), (0, 2), (1, 2)]
    );
    // (1,201 + 800) / 2 = 1,000.5, rounded half away from zero.
    assert_eq!(
        fractions(&days, "travel_distance_per_job"),
        [(2_001, 2), (1_000, 1), (0, 0)]
    );
    assert_eq!(values(&days, "travel_distance_per_job")[0], json!(1_001));
    // Tom alone: his late arrival, his 800 m; the rescheduled job is nobody's.
    let toms = shop
        .kpis(&format!(
            "{FIELD_METRICS}&from=2030-01-07&to=2030-01-09&technician_id={tom}"
        ))
        .await;
    assert_eq!(fractions(&toms, "on_time_arrival_rate")[0], (0, 1));
    assert_eq!(fractions(&toms, "travel_distance_per_job")[0], (800, 1));
    assert_eq!(fractions(&toms, "reschedule_rate")[2], (0, 0));
    let seen_by_other = other
        .kpis(&format!("{FIELD_METRICS}&from=2030-01-07&to=2030-01-07"))
        .await;
    assert_eq!(fractions(&seen_by_other, "on_time_arrival_rate"), [(0, 1)]);
    assert_eq!(
        fractions(&seen_by_other, "travel_distance_per_job"),
        [(9_999, 1)]
    );
}

#[tokio::test]
async fn money_and_agreement_metrics_equal_the_hand_count() {
    let server = server().await;
    let shop = company(&server, "kpi-money").await;
    let sales_tax = shop
        .create(
            "/v1/billing/tax-rates",
            &json!({"name": "NY sales", "percentage": "8.875", "inclusive": false}),
        )
        .await
        .id();
    // Counted (USD, finalized today): 100.00, 75.50 (+ 6.70 tax, not revenue) and 20.01.
    let us = &shop.customer;
    let first = shop.invoice(us, "USD", 10_000, None).await;
    let taxed = shop.invoice(us, "USD", 7_550, Some(&sales_tax)).await;
    assert_eq!(taxed["tax_minor"], 670);
    shop.invoice(us, "USD", 2_001, None).await;
    // Not counted: another currency (a customer paying in euros), a voided invoice, a draft.
    let european = shop.customer("Grüne Wiese").await;
    shop.invoice(&european, "EUR", 50_000, None).await;
    let voided = shop.invoice(us, "USD", 90_000, None).await;
    let void_path = format!(
        "/v1/billing/invoices/{}/void",
        voided["id"].as_str().unwrap()
    );
    shop.owner.action(&void_path).await.expect_status(200);
    shop.create(
        "/v1/billing/invoices",
        &json!({"customer_id": shop.customer, "lines": [{"description": "Draft", "unit_price_minor": 80_000}]}),
    )
    .await;
    // Two jobs of today completed (revenue per job).
    let today = first["issue_date"].as_str().unwrap().to_owned();
    shop.job(&today, &shop.lawn, &shop.tess, "completed").await;
    shop.job(&today, &shop.lawn, &shop.tom, "completed").await;

    // Revenue 10,000 + 7,550 + 2,001 = 19,551 over 3 invoices: 6,517 each; over 2 jobs:
    // 9,775.5, rounded half away from zero to 9,776.
    let money = shop
        .kpis_on("revenue,average_ticket,revenue_per_job", &today)
        .await;
    assert_eq!(values(&money, "revenue"), [json!(19_551)]);
    assert_eq!(values(&money, "average_ticket"), [json!(6_517)]);
    assert_eq!(values(&money, "revenue_per_job"), [json!(9_776)]);
    assert_eq!(fractions(&money, "revenue_per_job"), [(19_551, 2)]);
    // The euro invoice, asked for in euros.
    let euros = shop
        .kpis(&format!(
            "metrics=revenue&from={today}&to={today}&currency=EUR"
        ))
        .await;
    assert_eq!(values(&euros, "revenue"), [json!(50_000)]);

    // Agreements billed monthly: 99.00 (annual 1,188.00) and 50.00 (annual 600.00) in
    // force; a third at 20.00 canceled today. The first and the canceled one were
    // activated 40 days ago (moved back in the database: the API activates now).
    let kept = shop.agreement(9_900).await;
    shop.agreement(5_000).await;
    let lost = shop.agreement(2_000).await;
    shop.owner
        .action(&format!("/v1/agreements/{lost}/cancel"))
        .await
        .expect_status(200);
    let mut db = server.db().await;
    sqlx::query(
        "UPDATE store.service_agreements SET activated_at = now() - interval '40 days'
         WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
    )
    .bind(shop.tenant.id)
    .bind(vec![
        kept.parse::<uuid::Uuid>().unwrap(),
        lost.parse().unwrap(),
    ])
    .execute(&mut db)
    .await
    .unwrap();
    // ARR at the end of today: 118,800 + 60,000 = 178,800; MRR 178,800 / 12 = 14,900.
    // Churn today: in force at midnight were the two activated 40 days ago; one was
    // canceled today: 1 / 2.
    let recurring = shop.kpis_on("mrr,arr,agreement_churn", &today).await;
    assert_eq!(values(&recurring, "arr"), [json!(178_800)]);
    assert_eq!(values(&recurring, "mrr"), [json!(14_900)]);
    assert_eq!(fractions(&recurring, "agreement_churn"), [(1, 2)]);
}

/// Invoices of 100.00 and 50.00 finalized today, 40.00 paid on the first today; one of 30.00
/// issued two days ago (moved back in the database: finalizing issues today). Asked from
/// yesterday: 30.00 was owed before the range; yesterday nothing was billed (0 days, the
/// 30.00 shown as the numerator over 0); today 30 + 150 - 40 = 140.00 owed over 150.00
/// billed, times 1 day. Another tenant's invoice is never owed to this one.
#[tokio::test]
async fn days_sales_outstanding_equals_the_hand_count() {
    let server = server().await;
    let shop = company(&server, "kpi-dso").await;
    let us = &shop.customer;
    let first = shop.invoice(us, "USD", 10_000, None).await;
    shop.invoice(us, "USD", 5_000, None).await;
    let older = shop.invoice(us, "USD", 3_000, None).await;
    let today: chrono::NaiveDate = first["issue_date"].as_str().unwrap().parse().unwrap();
    let payment = json!({"amount_minor": 4_000, "currency": "USD", "method": "cash",
                         "received_on": today.to_string()});
    shop.create(
        &format!(
            "/v1/billing/invoices/{}/payments",
            first["id"].as_str().unwrap()
        ),
        &payment,
    )
    .await;
    sqlx::query(
        "UPDATE store.billing_invoices SET issue_date = issue_date - 2 WHERE tenant_id = $1 AND id = $2::uuid",
    )
    .bind(shop.tenant.id)
    .bind(older["id"].as_str().unwrap())
    .execute(&mut server.db().await)
    .await
    .unwrap();
    let other = company(&server, "kpi-dso-b").await;
    other.invoice(&other.customer, "USD", 99_999, None).await;

    let yesterday = today.pred_opt().unwrap();
    let dso = shop
        .kpis(&format!(
            "metrics=days_sales_outstanding&from={yesterday}&to={today}"
        ))
        .await;
    assert_eq!(points(&dso, "days_sales_outstanding").len(), 2);
    assert_eq!(
        fractions(&dso, "days_sales_outstanding"),
        [(3_000, 0), (14_000, 15_000)]
    );
    assert_eq!(
        values(&dso, "days_sales_outstanding")[1],
        json!(14_000.0 / 15_000.0)
    );
    let theirs = other
        .kpis_on("days_sales_outstanding", &today.to_string())
        .await;
    assert_eq!(
        fractions(&theirs, "days_sales_outstanding"),
        [(99_999, 99_999)]
    );
}

#[tokio::test]
async fn another_tenants_rows_never_enter_a_tenants_kpis() {
    let server = server().await;
    let a = company(&server, "kpi-iso-a").await;
    six_jobs(&a).await;
    let b = company(&server, "kpi-iso-b").await;
    b.job("2030-01-08", &b.lawn, &b.tess, "completed").await;
    let query = format!("{JOB_METRICS}&from=2030-01-07&to=2030-01-20&bucket=week");

    // B: its one job only; A's six are not counted, and A's technicians are not B's.
    let seen_by_b = b.kpis(&query).await;
    assert_eq!(values(&seen_by_b, "jobs_completed"), [json!(1), json!(0)]);
    assert_eq!(fractions(&seen_by_b, "cancellation_rate"), [(0, 1), (0, 0)]);
    // Filtering by A's technician reaches nothing of A's.
    let a_tess = b.kpis(&format!("{query}&technician_id={}", a.tess)).await;
    assert_eq!(values(&a_tess, "jobs_completed"), [json!(0), json!(0)]);
    // And A still counts exactly its own.
    let seen_by_a = a.kpis(&query).await;
    assert_eq!(values(&seen_by_a, "jobs_completed"), [json!(3), json!(1)]);
}

#[tokio::test]
async fn bad_parameters_are_422_naming_each_and_an_empty_range_answers_zeros() {
    let server = server().await;
    let shop = server.scenario(&unique("kpi-bad")).await;
    let refused = |query: &'static str, fields: &'static [&'static str]| {
        let owner = shop.owner.clone();
        async move {
            let answer = owner.get(&format!("/v1/kpis?{query}")).await;
            answer.expect_problem(422, "validation_failed");
            assert_eq!(answer.error_fields(), fields, "{query}: {}", answer.text);
        }
    };
    refused(
        "metrics=revenue,speed&from=2030-01-01&to=2030-01-02",
        &["metrics"],
    )
    .await;
    refused("from=2030-01-01&to=2030-01-02", &["metrics"]).await;
    refused(
        "metrics=revenue&from=2030-13-01&to=tomorrow",
        &["from", "to"],
    )
    .await;
    refused("metrics=revenue&from=2030-01-02&to=2030-01-01", &["to"]).await;
    refused(
        "metrics=revenue&from=2030-01-01&to=2031-12-31&bucket=day",
        &["to"],
    )
    .await;
    refused(
        "metrics=revenue&from=2030-01-01&to=2030-01-02&bucket=hour",
        &["bucket"],
    )
    .await;
    refused(
        "metrics=revenue&from=2030-01-01&to=2030-01-02&currency=usd",
        &["currency"],
    )
    .await;
    refused(
        "metrics=jobs_completed&from=2030-01-01&to=2030-01-02&technician_id=7",
        &["technician_id"],
    )
    .await;
    // A technician filter cannot narrow invoices.
    refused(
        "metrics=revenue&from=2030-01-01&to=2030-01-02&technician_id=0190a000-0000-7000-8000-000000000000",
        &["technician_id"],
    )
    .await;

    // Nothing happened in this tenant: every metric is 0 in every bucket.
    let empty = shop
        .owner
        .get("/v1/kpis?metrics=jobs_completed,cancellation_rate,revenue,average_ticket,mrr,agreement_churn&from=2030-01-01&to=2030-03-31&bucket=month")
        .await;
    empty.expect_status(200);
    for metric in empty.json["metrics"].as_array().unwrap() {
        let points = metric["points"].as_array().unwrap();
        assert_eq!(points.len(), 3, "{metric}");
        assert!(
            points.iter().all(|p| p["value"].as_f64() == Some(0.0)),
            "{metric}"
        );
    }

    // A technician (no `kpi.read`) is refused.
    let (_, technician) = shop.user("tech@kpi.test", &["technician"]).await;
    technician
        .get("/v1/kpis?metrics=revenue&from=2030-01-01&to=2030-01-02")
        .await
        .expect_problem(403, "permission_denied");
}
