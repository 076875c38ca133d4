//! Billing end to end (issue 22): the built-in `billing` component over HTTP against the real
//! server and PostgreSQL. A completed job makes exactly one draft however often its event is
//! delivered; finalizing numbers invoices without gaps under concurrency; payments (partial,
//! over, 50 at once on one customer), refunds (and their permission) and credit notes keep the
//! customer's balance exact; money edge cases (JPY, inclusive tax, overflow, currencies);
//! Stripe from PaymentIntent to a replayed webhook and a dispute; the PDF; the nightly drafts
//! of agreement periods; autopay with a saved card (charged once, also overnight for an
//! agreement's period) and the dunning of a declined one to delinquency and back; and
//! another tenant reaching none of it.

use std::ops::Deref;
use std::time::Duration;

use serde_json::{Value, json};
use verofield_tests::*;

const INVOICES: &str = "/v1/billing/invoices";

/// A server with the built-in modules and quick event delivery; `extra` server arguments.
pub(crate) async fn server_with(extra: Vec<String>) -> TestServer {
    let options = ServerOptions::new()
        .with_builtin_modules()
        .quick_events()
        .args(extra);
    TestServer::start_with(options).await
}

async fn server() -> TestServer {
    server_with(Vec::new()).await
}

/// A tenant with a customer, a location, a priced service type and a technician.
pub(crate) struct Books<'s> {
    scenario: Scenario<'s>,
    pub(crate) customer: String,
    location: String,
    service: String,
    technician: String,
}

impl<'s> Deref for Books<'s> {
    type Target = Scenario<'s>;

    fn deref(&self) -> &Scenario<'s> {
        &self.scenario
    }
}

pub(crate) async fn books<'s>(server: &'s TestServer, slug: &str) -> Books<'s> {
    let scenario = server.scenario(&unique(slug)).await;
    let customer = scenario.customer("Green Acres").await;
    let location = scenario.location(&customer, "Main house").await;
    let service = scenario
        .service_type("Termite inspection", 60, 12_500, &["termite"])
        .await;
    let technician = scenario.technician("Tess", &["termite"], None).await;
    Books {
        scenario,
        customer,
        location,
        service,
        technician,
    }
}

/// Sends until the tenant's fair share admits the request (429 `tenant_busy` is refused
/// before anything runs, so sending again is safe).
async fn admitted(api: &Api, method: &str, path: &str, body: &Value) -> Resp {
    loop {
        // GETs carry no body; the tenant's event deliveries (its long calls too) may hold
        // its share for a moment, whatever the method.
        let request = api.request(method.parse().unwrap(), path);
        let answer = match method {
            "GET" => send(request).await,
            _ => send(request.json(body)).await,
        };
        if answer.status.as_u16() != 429 {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends every request at once (each admitted as by [`admitted`]); the answers in order.
async fn all_at_once(api: &Api, requests: Vec<(&str, String, Value)>) -> Vec<Resp> {
    let mut running = tokio::task::JoinSet::new();
    for (i, (method, path, body)) in requests.into_iter().enumerate() {
        let (api, method) = (api.clone(), method.to_owned());
        running.spawn(async move { (i, admitted(&api, &method, &path, &body).await) });
    }
    let mut answers: Vec<(usize, Resp)> = running.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

fn payment(amount: i64, method: &str) -> Value {
    json!({"amount_minor": amount, "currency": "USD", "method": method})
}

impl Books<'_> {
    /// A job on Tuesday 2030-01-08 worked and completed, with `materials` reported.
    async fn completed_job(&self, materials: Value) -> String {
        let job = self
            .create(
                "/v1/jobs",
                &json!({"customer_id": self.customer, "location_id": self.location,
                        "service_type_ids": [self.service], "scheduled_date": "2030-01-08",
                        "window_start_local": "09:00", "window_end_local": "11:00",
                        "time_zone": SCENARIO_ZONE}),
            )
            .await
            .id();
        self.assign(&job, &[&self.technician]).await;
        for to in ["dispatched", "en_route", "in_progress"] {
            self.status(&job, to).await;
        }
        self.owner
            .job_status_with(
                &job,
                &json!({"status": "completed", "completion": {"work_minutes": 50, "materials": materials}}),
            )
            .await
            .expect_status(200);
        job
    }

    /// An agreement billed monthly in advance at 99.00 from today (UTC), activated; its id
    /// and today's date.
    pub(crate) async fn active_monthly_agreement(&self) -> (String, String) {
        let today = chrono::Utc::now().date_naive().to_string();
        let agreement = self
            .create(
                "/v1/agreements",
                &json!({"customer_id": self.customer, "name": "Pest plan",
                        "location_ids": [self.location], "service_type_ids": [self.service],
                        "recurrence": "FREQ=MONTHLY", "time_zone": "UTC", "pricing": "per_period",
                        "price_minor": 9_900, "currency": "USD", "billing_frequency": "monthly",
                        "starts_on": today, "horizon_days": 30}),
            )
            .await
            .id();
        self.owner
            .action(&format!("/v1/agreements/{agreement}/activate"))
            .await
            .expect_status(200);
        (agreement, today)
    }

    /// A draft for the shop's customer with these lines (201 asserted).
    async fn draft(&self, lines: Value) -> Value {
        self.draft_with(json!({ "lines": lines })).await
    }

    async fn draft_with(&self, mut body: Value) -> Value {
        body["customer_id"] = json!(self.customer);
        let created = self.owner.post(INVOICES, &body).await;
        created.expect_status(201);
        created.json.clone()
    }

    /// Finalizes `invoice` (200 asserted, 429 waited out).
    async fn finalize(&self, invoice: &str) -> Value {
        let done = admitted(
            &self.owner,
            "POST",
            &format!("{INVOICES}/{invoice}/finalize"),
            &json!({}),
        )
        .await;
        done.expect_status(200);
        done.json.clone()
    }

    /// An open invoice of one line at `unit_minor`.
    pub(crate) async fn open_invoice(&self, unit_minor: i64) -> Value {
        let draft = self
            .draft(json!([{"description": "Service", "unit_price_minor": unit_minor}]))
            .await;
        self.finalize(draft["id"].as_str().unwrap()).await
    }

    pub(crate) async fn pay(&self, api: &Api, invoice: &str, amount: i64, method: &str) -> Resp {
        admitted(
            api,
            "POST",
            &format!("{INVOICES}/{invoice}/payments"),
            &payment(amount, method),
        )
        .await
    }

    async fn invoice(&self, invoice: &str) -> Value {
        let path = format!("{INVOICES}/{invoice}");
        let got = admitted(&self.owner, "GET", &path, &Value::Null).await;
        got.expect_status(200);
        got.json.clone()
    }

    /// The customer's `balance_minor`, as the CRM answers it.
    async fn balance(&self) -> i64 {
        let customer = self
            .owner
            .get(&format!("/v1/crm/customers/{}", self.customer))
            .await;
        customer.expect_status(200);
        customer.json["balance_minor"].as_i64().unwrap()
    }
}

const AGREEMENT_TASK: &str = "billing:agreement-billing";

/// Makes `task` due once the scheduler has created it, and waits for its run number `run`.
async fn run_task(db: &mut sqlx::PgConnection, tenant: uuid::Uuid, task: &str, run: i64) {
    eventually("the task reconciled", async || {
        task_runs(db, tenant, task).await
    })
    .await;
    make_task_due(db, tenant, task).await;
    eventually("the task to run", async || {
        (task_runs(db, tenant, task).await == Some(run)).then_some(())
    })
    .await;
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn a_completed_job_makes_one_draft_which_is_finalized_paid_and_settles_the_balance() {
    let server = server().await;
    let shop = books(&server, "bill-job").await;
    let job = shop
        .completed_job(json!([{"name": "Termidor SC", "quantity": 0.5, "unit": "l"}]))
        .await;
    let drafts_of_job = async || {
        let listed = shop.owner.get(&format!("{INVOICES}?status=draft")).await;
        listed.expect_status(200);
        listed
            .items()
            .iter()
            .filter(|i| i["source_job_id"] == job.as_str())
            .cloned()
            .collect::<Vec<_>>()
    };
    let drafts = eventually("the job's draft", async || {
        Some(drafts_of_job().await).filter(|d| !d.is_empty())
    })
    .await;
    assert_eq!(drafts.len(), 1);
    let draft = shop.invoice(&id(&drafts[0])).await;
    let lines = draft["lines"].as_array().unwrap();
    assert_eq!(lines[0]["description"], "Termite inspection");
    assert_eq!(lines[0]["unit_price_minor"], 12_500);
    assert_eq!(lines[1]["description"], "Material: Termidor SC (l)");
    assert_eq!(lines[1]["quantity_milli"], 500);
    assert_eq!(draft["total_minor"], 12_500);

    // The second delivery: the billing module's delivery row of the same `job.completed`
    // event is put back to pending (what a lost acknowledgement leads to), the dispatcher
    // delivers it again, and the unique key on the source job keeps one draft.
    let mut db = server.db().await;
    let requeued = sqlx::query(
        "UPDATE event_deliveries d SET state = 'pending', attempts = 0, next_attempt_at = now(),
                finished_at = NULL
         FROM event_outbox o
         WHERE o.tenant_id = d.tenant_id AND o.id = d.event_id AND d.subscriber = 'module:billing'
           AND o.event_type = 'job.completed' AND o.payload->>'job_id' = $1 AND d.state = 'delivered'",
    )
    .bind(&job)
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(requeued.rows_affected(), 1);
    eventually("the second delivery", async || {
        let state: String = sqlx::query_scalar(
            "SELECT d.state FROM event_deliveries d JOIN event_outbox o
               ON o.tenant_id = d.tenant_id AND o.id = d.event_id
             WHERE d.subscriber = 'module:billing' AND o.payload->>'job_id' = $1",
        )
        .bind(&job)
        .fetch_one(&mut db)
        .await
        .unwrap();
        (state == "delivered").then_some(())
    })
    .await;
    assert_eq!(drafts_of_job().await.len(), 1, "a second draft");
    // Asking by hand finds the same draft.
    let by_hand = shop
        .owner
        .post(&format!("{INVOICES}/from-job"), &json!({ "job_id": job }))
        .await;
    by_hand.expect_status(200);
    assert_eq!(by_hand.json["id"], draft["id"]);

    // Finalize, pay in full: paid, balance back to 0.
    let open = shop.finalize(&id(&draft)).await;
    assert_eq!(open["status"], "open");
    assert_eq!(open["number"], "INV-000001");
    assert_eq!(open["due_date"].as_str().unwrap().len(), 10);
    assert_eq!(shop.balance().await, 12_500);
    shop.owner
        .patch(
            &format!("{INVOICES}/{}", id(&open)),
            &json!({"notes": "late"}),
        )
        .await
        .expect_problem(409, "invoice_not_draft");
    let paid = shop.pay(&shop.owner, &id(&open), 12_500, "check").await;
    paid.expect_status(201);
    let invoice = shop.invoice(&id(&open)).await;
    assert_eq!(
        (&invoice["status"], &invoice["amount_due_minor"]),
        (&json!("paid"), &json!(0))
    );
    assert_eq!(shop.balance().await, 0);
}

#[tokio::test]
async fn finalizing_concurrently_numbers_invoices_without_gaps() {
    let server = server().await;
    let shop = books(&server, "bill-num").await;
    shop.owner
        .patch("/v1/account", &json!({"invoice_prefix": "acme"}))
        .await
        .expect_status(200);
    let mut drafts = Vec::new();
    for _ in 0..12 {
        let draft = shop
            .draft(json!([{"description": "Visit", "unit_price_minor": 1_000}]))
            .await;
        drafts.push(id(&draft));
    }
    // An empty draft fails to finalize in the middle of the run: it takes no number.
    let empty = id(&shop.draft(json!([])).await);
    drafts.insert(6, empty);
    let requests = drafts
        .iter()
        .map(|draft| ("POST", format!("{INVOICES}/{draft}/finalize"), json!({})))
        .collect();
    let mut answers = all_at_once(&shop.owner, requests).await;
    answers.remove(6).expect_problem(409, "invoice_empty");
    let mut numbers: Vec<String> = answers
        .iter()
        .map(|answer| {
            answer.expect_status(200);
            answer.json["number"].as_str().unwrap().to_owned()
        })
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=12).map(|n| format!("ACME-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // The next one continues the sequence.
    assert_eq!(shop.open_invoice(5).await["number"], "ACME-000013");
    assert_eq!(shop.balance().await, 12 * 1_000 + 5);
}

#[tokio::test]
async fn partial_payments_overpayment_refunds_and_credit_notes_keep_the_balance() {
    let server = server().await;
    let shop = books(&server, "bill-pay").await;
    let invoice = id(&shop.open_invoice(10_000).await);
    let path = format!("{INVOICES}/{invoice}");

    let first = shop.pay(&shop.owner, &invoice, 4_000, "check").await;
    first.expect_status(201);
    let open = shop.invoice(&invoice).await;
    assert_eq!(
        (&open["status"], &open["amount_due_minor"]),
        (&json!("open"), &json!(6_000))
    );
    assert_eq!(shop.balance().await, 6_000);

    // 7,000 on 6,000 due: paid, 1,000 becomes the customer's credit.
    let second = shop.pay(&shop.owner, &invoice, 7_000, "cash").await;
    second.expect_status(201);
    assert_eq!(
        (&second.json["applied_minor"], &second.json["credit_minor"]),
        (&json!(6_000), &json!(1_000))
    );
    assert_eq!(shop.invoice(&invoice).await["status"], "paid");
    assert_eq!(shop.balance().await, -1_000);
    shop.pay(&shop.owner, &invoice, 100, "cash")
        .await
        .expect_problem(409, "invoice_not_payable");

    // Refunds need `billing.refund`: the accountant (billing.write) is refused.
    let refunds = format!("/v1/billing/payments/{}/refunds", second.id());
    let (_, accountant) = shop.user("acc@bill-pay.test", &["accountant"]).await;
    accountant
        .post(&refunds, &json!({"amount_minor": 1_500}))
        .await
        .expect_status(403);
    // 1,500 back: the 1,000 credit first, then 500 of what paid the invoice, which reopens.
    shop.owner
        .post(
            &refunds,
            &json!({"amount_minor": 1_500, "reason": "overpaid"}),
        )
        .await
        .expect_status(201);
    let reopened = shop.invoice(&invoice).await;
    assert_eq!(
        (&reopened["status"], &reopened["amount_due_minor"]),
        (&json!("open"), &json!(500))
    );
    assert_eq!(shop.balance().await, 500);
    let too_much = shop
        .owner
        .post(&refunds, &json!({"amount_minor": 5_501}))
        .await;
    too_much.expect_problem(409, "refund_exceeds_payment");
    assert_eq!(too_much.json["refundable_minor"], 5_500);

    // A credit note for the 500 left settles it; credits past the total are refused.
    shop.owner
        .post(
            &format!("{path}/credit-notes"),
            &json!({"amount_minor": 500, "reason": "goodwill"}),
        )
        .await
        .expect_status(201);
    assert_eq!(shop.invoice(&invoice).await["status"], "paid");
    assert_eq!(shop.balance().await, 0);
    shop.owner
        .post(
            &format!("{path}/credit-notes"),
            &json!({"amount_minor": 9_501, "reason": "too much"}),
        )
        .await
        .expect_problem(409, "credit_exceeds_invoice");
    let payments = shop
        .owner
        .get(&format!("/v1/billing/payments?invoice_id={invoice}"))
        .await;
    assert_eq!(payments.items().len(), 2);
}

#[tokio::test]
async fn fifty_parallel_payments_on_one_customer_leave_an_exact_balance() {
    let server = server().await;
    let shop = books(&server, "bill-50").await;
    // Two invoices of the same customer, paid from 50 concurrent requests (25 each).
    let invoices = [
        id(&shop.open_invoice(25 * 137).await),
        id(&shop.open_invoice(25 * 211).await),
    ];
    assert_eq!(shop.balance().await, 25 * 137 + 25 * 211);
    let payments = (0..50)
        .map(|i| {
            let (invoice, amount) = match i % 2 {
                0 => (&invoices[0], 137),
                _ => (&invoices[1], 211),
            };
            let path = format!("{INVOICES}/{invoice}/payments");
            ("POST", path, payment(amount, "bank_transfer"))
        })
        .collect();
    let answers = all_at_once(&shop.owner, payments).await;
    for answer in &answers {
        answer.expect_status(201);
    }
    assert_eq!(shop.balance().await, 0);
    for invoice in &invoices {
        let paid = shop.invoice(invoice).await;
        assert_eq!(paid["status"], "paid", "{paid}");
        assert_eq!(paid["amount_due_minor"], 0);
    }
    let recorded = shop
        .owner
        .get(&format!(
            "/v1/billing/payments?customer_id={}&limit=200",
            shop.customer
        ))
        .await;
    assert_eq!(recorded.items().len(), 50);
    // One more on the paid invoice is refused, and changes nothing.
    shop.pay(&shop.owner, &invoices[0], 1, "cash")
        .await
        .expect_problem(409, "invoice_not_payable");
    assert_eq!(shop.balance().await, 0);
}

#[tokio::test]
async fn money_edge_cases_zero_decimals_inclusive_tax_overflow_and_currencies() {
    let server = server().await;
    let shop = books(&server, "bill-money").await;
    let rate = |name: &str, percentage: Value, inclusive: bool| json!({"name": name, "percentage": percentage, "inclusive": inclusive});
    let consumption = shop
        .create(
            "/v1/billing/tax-rates",
            &rate("JP consumption", json!(10), false),
        )
        .await
        .id();
    let vat = shop
        .create("/v1/billing/tax-rates", &rate("VAT", json!("20"), true))
        .await;
    assert_eq!(vat.json["percent_e4"], 200_000);
    let ny = shop
        .create(
            "/v1/billing/tax-rates",
            &rate("NY sales", json!("8.875"), false),
        )
        .await;
    assert_eq!(ny.json["percentage"], "8.875");
    shop.owner
        .post(
            "/v1/billing/tax-rates",
            &rate("Bad", json!("8.87501"), false),
        )
        .await
        .expect_problem(422, "validation_failed");

    // JPY has no minor unit: 1.5 x 1,001 yen = 1,501.5 -> 1,502; 10 % tax 150.2 -> 150.
    let yen = shop
        .draft_with(
            json!({"currency": "JPY", "lines": [{"description": "Inspection",
            "quantity": 1.5, "unit_price_minor": 1_001, "tax_rate_id": consumption}]}),
        )
        .await;
    assert_eq!(
        (
            &yen["subtotal_minor"],
            &yen["tax_minor"],
            &yen["total_minor"]
        ),
        (&json!(1_502), &json!(150), &json!(1_652))
    );
    let yen = shop.finalize(&id(&yen)).await;
    assert_eq!(shop.balance().await, 1_652);
    // The customer now owes yen: dollars for them, or a payment in euros, are refused.
    let dollars = shop
        .owner
        .post(
            INVOICES,
            &json!({"customer_id": shop.customer, "currency": "USD", "lines": []}),
        )
        .await;
    dollars.expect_problem(422, "currency_mismatch");
    shop.owner
        .post(
            &format!("{INVOICES}/{}/payments", id(&yen)),
            &json!({"amount_minor": 100, "currency": "EUR", "method": "cash"}),
        )
        .await
        .expect_problem(422, "currency_mismatch");
    shop.owner
        .post(
            &format!("{INVOICES}/{}/payments", id(&yen)),
            &json!({"amount_minor": 1_652, "currency": "JPY", "method": "cash"}),
        )
        .await
        .expect_status(201);
    assert_eq!(shop.balance().await, 0);

    // Inclusive 20 % VAT inside 10.00: tax 1.666.. -> 1.67, the total stays 10.00; with an
    // invoice discount of 1.00 spread over the two lines before tax.
    let other = shop.customer("Euro Shop").await;
    let inclusive = shop
        .create(
            INVOICES,
            &json!({"customer_id": other, "currency": "EUR", "lines": [
                {"description": "A", "unit_price_minor": 1_000, "tax_rate_id": vat.id()}]}),
        )
        .await;
    assert_eq!(
        (&inclusive.json["tax_minor"], &inclusive.json["total_minor"]),
        (&json!(167), &json!(1_000))
    );
    let discounted = shop
        .owner
        .patch(
            &format!("{INVOICES}/{}", inclusive.id()),
            &json!({"discount_minor": 100, "lines": [
                {"description": "A", "unit_price_minor": 1_000, "tax_rate_id": vat.id()},
                {"description": "B", "unit_price_minor": 1_000, "discount_minor": 200}]}),
        )
        .await;
    discounted.expect_status(200);
    let lines = discounted.json["lines"].as_array().unwrap();
    // Shares of 100 over 1,000 and 800: 55.5 and 44.4 -> 56 and 44.
    assert_eq!(lines[0]["invoice_discount_minor"], 56);
    assert_eq!(lines[1]["invoice_discount_minor"], 44);
    assert_eq!(lines[0]["tax_minor"], 157); // 944 incl. 20 % -> 157.33
    assert_eq!(discounted.json["total_minor"], 1_000 + 800 - 100);

    // Overflow and unknown currencies are 422s naming the field; nothing is written.
    let before = shop.owner.get(INVOICES).await.items().len();
    let overflow = shop
        .owner
        .post(
            INVOICES,
            &json!({"customer_id": other, "currency": "EUR", "lines": [
                {"description": "Huge", "quantity": 3, "unit_price_minor": i64::MAX / 2}]}),
        )
        .await;
    overflow.expect_problem(422, "validation_failed");
    assert_eq!(overflow.error_fields(), ["lines[0].unit_price_minor"]);
    let unknown = shop
        .owner
        .post(
            INVOICES,
            &json!({"customer_id": other, "currency": "XYZ", "lines": []}),
        )
        .await;
    unknown.expect_problem(422, "validation_failed");
    assert_eq!(unknown.error_fields(), ["currency"]);
    assert_eq!(shop.owner.get(INVOICES).await.items().len(), before);
}

#[tokio::test]
async fn drafts_come_from_work_orders_and_agreement_visits_and_feed_the_reports() {
    let server = server().await;
    let shop = books(&server, "bill-src").await;

    // A work order's priced lines.
    let work_order = shop
        .create(
            "/v1/work-orders",
            &json!({"customer_id": shop.customer, "location_id": shop.location, "title": "Spray",
                    "line_items": [{"service_type_id": shop.service, "quantity": 2,
                                    "unit_price_minor": 9_000, "description": "Perimeter spray"}]}),
        )
        .await
        .id();
    let drafted = shop
        .owner
        .post(
            &format!("{INVOICES}/from-work-order"),
            &json!({ "work_order_id": work_order }),
        )
        .await;
    drafted.expect_status(201);
    let line = &drafted.json["lines"][0];
    assert_eq!(line["description"], "Perimeter spray");
    assert_eq!(line["quantity_milli"], 2_000);
    assert_eq!(line["service_type_id"], shop.service.as_str());
    assert_eq!(drafted.json["total_minor"], 18_000);
    let open = shop.finalize(&drafted.id()).await;

    // A visit of an agreement billed per visit: one line at the agreement's price.
    let agreement = shop
        .create(
            "/v1/agreements",
            &json!({"customer_id": shop.customer, "name": "Pest plan",
                    "location_ids": [shop.location], "service_type_ids": [shop.service],
                    "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=2", "time_zone": SCENARIO_ZONE,
                    "pricing": "per_visit", "price_minor": 4_500, "currency": "USD",
                    "billing_frequency": "per_visit", "starts_on": "2030-01-07",
                    "horizon_days": 3660}),
        )
        .await
        .id();
    shop.owner
        .action(&format!("/v1/agreements/{agreement}/activate"))
        .await
        .expect_status(200);
    let mut db = server.db().await;
    let visit: String = sqlx::query_scalar(
        "SELECT j.id::text FROM store.jobs j JOIN store.work_orders w
           ON w.tenant_id = j.tenant_id AND w.id = j.work_order_id
         WHERE j.tenant_id = $1 AND w.agreement_id = $2::uuid ORDER BY j.occurrence_date LIMIT 1",
    )
    .bind(shop.tenant.id)
    .bind(&agreement)
    .fetch_one(&mut db)
    .await
    .unwrap();
    shop.owner
        .schedule(
            &visit,
            &json!({"scheduled_date": "2030-01-07", "window_start_local": "09:00",
                    "window_end_local": "11:00", "time_zone": SCENARIO_ZONE}),
        )
        .await
        .expect_status(200);
    shop.assign(&visit, &[&shop.technician]).await;
    for to in ["dispatched", "en_route", "in_progress"] {
        shop.status(&visit, to).await;
    }
    shop.owner
        .job_status_with(
            &visit,
            &json!({"status": "completed", "completion": {"work_minutes": 30}}),
        )
        .await
        .expect_status(200);
    let draft = eventually("the visit's draft", async || {
        let listed = shop.owner.get(&format!("{INVOICES}?status=draft")).await;
        listed
            .items()
            .iter()
            .find(|i| i["source_job_id"] == visit.as_str())
            .cloned()
    })
    .await;
    assert_eq!(draft["agreement_id"], agreement.as_str());
    let draft = shop.invoice(&id(&draft)).await;
    assert_eq!(
        draft["lines"][0]["description"],
        "Pest plan: visit on 2030-01-07"
    );
    assert_eq!(draft["total_minor"], 4_500);

    // Reports: the work-order invoice is current today and 15 days late in 45 days; its
    // revenue is the service type's.
    let today = chrono::Utc::now().date_naive();
    let aging = async |days: u64| {
        let as_of = today + chrono::Days::new(days);
        shop.owner
            .get(&format!("/v1/billing/reports/aging?as_of={as_of}"))
            .await
    };
    let now = aging(0).await;
    now.expect_status(200);
    assert_eq!(
        now.json["currencies"]["USD"]["current"]["due_minor"],
        18_000
    );
    let later = aging(45).await;
    assert_eq!(
        later.json["currencies"]["USD"]["1_30"]["due_minor"], 18_000,
        "{}",
        later.text
    );
    assert_eq!(later.json["currencies"]["USD"]["total_due_minor"], 18_000);
    let revenue = shop.owner.get("/v1/billing/reports/revenue").await;
    revenue.expect_status(200);
    let by_service = revenue.json["service_types"].as_array().unwrap();
    assert_eq!(by_service.len(), 1, "{}", revenue.text);
    assert_eq!(by_service[0]["service_type_id"], shop.service.as_str());
    assert_eq!(by_service[0]["revenue_minor"], 18_000);
    assert_eq!(revenue.json["items"][0]["total_minor"], 18_000);
    assert_eq!(open["number"], "INV-000001");
}

/// The tenant's connected Stripe account (owner only).
pub(crate) async fn connect(api: &Api, account: &str) {
    api.send_json(
        "PUT",
        "/v1/tenant/payments",
        &json!({ "stripe_account": account }),
    )
    .await
    .expect_status(200);
}

async fn webhook(server: &TestServer, id: &str, kind: &str, account: &str, object: Value) {
    let event = stripe_event(id, kind, account, object);
    let now = chrono::Utc::now().timestamp();
    let sent = StripeServer::send_webhook(
        &server.url("/v1/webhooks/stripe"),
        TEST_WEBHOOK_SECRET,
        now,
        &event,
    )
    .await;
    sent.expect_status(200);
}

#[tokio::test]
async fn a_stripe_payment_is_applied_once_and_a_dispute_flags_the_invoice() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let shop = books(&server, "bill-stripe").await;
    connect(&shop.owner, "acct_1BillStripe").await;
    let invoice = id(&shop.open_invoice(13_609).await);
    let intent_path = format!("{INVOICES}/{invoice}/payment-intent");

    let intent = shop.owner.post(&intent_path, &json!({})).await;
    intent.expect_status(200);
    let secret = intent.json["client_secret"].as_str().unwrap();
    let pi = intent.json["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with(&pi), "{}", intent.text);
    // Asked again for the same amount: Stripe replays the same intent.
    let again = shop.owner.post(&intent_path, &json!({})).await;
    assert_eq!(again.json["payment_intent_id"], pi.as_str());
    assert_eq!(stripe.payment_intents().len(), 1);
    let call = &stripe.calls()[0];
    assert_eq!(call.field("metadata[invoice_id]"), Some(invoice.as_str()));
    assert_eq!(call.field("amount"), Some("13609"));
    let key = format!("vf-{}-invoice-{invoice}-attempt-1", shop.tenant.id);
    assert_eq!(call.header("idempotency-key"), Some(key.as_str()));

    // A first attempt fails: the invoice notes why and stays open.
    webhook(
        &server,
        "evt_1BillFailed",
        "payment_intent.payment_failed",
        "acct_1BillStripe",
        json!({"id": pi, "object": "payment_intent", "status": "requires_payment_method",
               "metadata": {"invoice_id": invoice},
               "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}),
    )
    .await;
    let failed = eventually("the failure noted", async || {
        let current = shop.invoice(&invoice).await;
        (current["last_payment_error"] == "Your card was declined.").then_some(current)
    })
    .await;
    assert_eq!(failed["status"], "open");

    // Stripe says it succeeded; then the same PaymentIntent arrives again in a new event.
    let succeeded = json!({"id": pi, "object": "payment_intent", "amount": 13_609,
        "amount_received": 13_609, "currency": "usd", "status": "succeeded",
        "latest_charge": "ch_1Bill", "metadata": {"invoice_id": invoice}});
    for event in ["evt_1BillPaid", "evt_1BillPaidAgain"] {
        webhook(
            &server,
            event,
            "payment_intent.succeeded",
            "acct_1BillStripe",
            succeeded.clone(),
        )
        .await;
    }
    let paid = eventually("the invoice paid from Stripe", async || {
        let current = shop.invoice(&invoice).await;
        (current["status"] == "paid").then_some(current)
    })
    .await;
    assert_eq!(paid["amount_paid_minor"], 13_609);
    // Both deliveries were handled before counting payments.
    let mut db = server.db().await;
    eventually("both Stripe events delivered to billing", async || {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM event_deliveries d JOIN event_outbox o
               ON o.tenant_id = d.tenant_id AND o.id = d.event_id
             WHERE o.event_type = 'stripe.payment_intent.succeeded'
               AND d.subscriber = 'module:billing' AND d.state <> 'delivered'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    let payments = shop
        .owner
        .get(&format!("/v1/billing/payments?invoice_id={invoice}"))
        .await;
    assert_eq!(payments.items().len(), 1, "{}", payments.text);
    assert_eq!(payments.items()[0]["method"], "card");
    assert_eq!(shop.balance().await, 0);

    // A dispute flags the invoice; a refund made in Stripe reopens part of it.
    webhook(
        &server,
        "evt_1BillDispute",
        "charge.dispute.created",
        "acct_1BillStripe",
        json!({"id": "dp_1Bill", "object": "dispute", "charge": "ch_1Bill",
               "payment_intent": pi, "amount": 13_609}),
    )
    .await;
    eventually("the invoice flagged", async || {
        (shop.invoice(&invoice).await["disputed"] == true).then_some(())
    })
    .await;
    webhook(
        &server,
        "evt_1BillRefund",
        "charge.refunded",
        "acct_1BillStripe",
        json!({"id": "ch_1Bill", "object": "charge", "payment_intent": pi,
               "amount": 13_609, "amount_refunded": 609}),
    )
    .await;
    eventually("the Stripe refund applied", async || {
        (shop.balance().await == 609).then_some(())
    })
    .await;
    let refunded = shop.invoice(&invoice).await;
    assert_eq!(
        (&refunded["status"], &refunded["amount_due_minor"]),
        (&json!("open"), &json!(609))
    );

    // A refund made here goes through Stripe first; Stripe's webhook about it adds nothing.
    let card_payment = payments.items()[0]["id"].as_str().unwrap().to_owned();
    shop.owner
        .post(
            &format!("/v1/billing/payments/{card_payment}/refunds"),
            &json!({"amount_minor": 1_000, "reason": "damaged lawn"}),
        )
        .await
        .expect_status(201);
    let refund_call = stripe.calls().pop().unwrap();
    assert_eq!(refund_call.field("payment_intent"), Some(pi.as_str()));
    assert_eq!(refund_call.field("amount"), Some("1000"));
    assert_eq!(shop.balance().await, 1_609);
    webhook(
        &server,
        "evt_1BillRefund2",
        "charge.refunded",
        "acct_1BillStripe",
        json!({"id": "ch_1Bill", "object": "charge", "payment_intent": pi,
               "amount": 13_609, "amount_refunded": 1_609}),
    )
    .await;
    eventually("the second refund event applied", async || {
        let applied: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM store.billing_stripe_applied
             WHERE object_key = 'charge_refunded:ch_1Bill:1609'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        (applied == 1).then_some(())
    })
    .await;
    assert_eq!(shop.balance().await, 1_609);
    let payment = shop
        .owner
        .get(&format!("/v1/billing/payments/{card_payment}"))
        .await;
    assert_eq!(payment.json["refunded_minor"], 1_609);
    assert_eq!(payment.json["refunds"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_pdf_shows_number_customer_and_total() {
    let server = server().await;
    let shop = books(&server, "bill-pdf").await;
    shop.owner
        .patch(
            "/v1/account",
            &json!({"legal_name": "Bugs Away LLC", "address_lines": ["1 Main St", "Arlington VA"]}),
        )
        .await
        .expect_status(200);
    let invoice = shop
        .draft(json!([
            {"description": "Termite inspection", "unit_price_minor": 12_500},
            {"description": "Bait stations", "quantity": 4, "unit_price_minor": 1_999}
        ]))
        .await;
    let open = shop.finalize(&id(&invoice)).await;
    let pdf = shop
        .owner
        .request(Method::GET, &format!("{INVOICES}/{}.pdf", id(&open)))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(
        pdf.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdftotext(&bytes);
    if let Ok(keep) = std::env::var("BILLING_PDF_OUT") {
        std::fs::write(keep, &bytes).unwrap();
    }
    for expected in [
        "INV-000001",
        "Green Acres",
        "Bugs Away LLC",
        "USD 204.96",
        "79.96",
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }
    // Another tenant's request for it is a 404 like any missing invoice.
    let other = books(&server, "bill-pdf-b").await;
    other
        .owner
        .get(&format!("{INVOICES}/{}.pdf", id(&open)))
        .await
        .expect_problem(404, "not_found");
}

/// The text of a PDF, by poppler's `pdftotext`.
fn pdftotext(pdf: &[u8]) -> String {
    let dir = TempDir::new("billing-pdf");
    let path = dir.path().join("invoice.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) installed");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn another_tenant_reaches_none_of_a_tenants_invoices() {
    let server = server().await;
    let a = books(&server, "bill-iso-a").await;
    let b = books(&server, "bill-iso-b").await;
    let open = id(&a.open_invoice(5_000).await);
    let draft = id(&a
        .draft(json!([{"description": "x", "unit_price_minor": 1}]))
        .await);
    let payment = a.pay(&a.owner, &open, 1_000, "cash").await.id();

    assert!(b.owner.get(INVOICES).await.items().is_empty());
    assert!(b.owner.get("/v1/billing/payments").await.items().is_empty());
    for path in [
        format!("{INVOICES}/{open}"),
        format!("{INVOICES}/{open}.pdf"),
        format!("/v1/billing/payments/{payment}"),
    ] {
        b.owner.get(&path).await.expect_problem(404, "not_found");
    }
    let writes = [
        (format!("{INVOICES}/{draft}/finalize"), json!({})),
        (
            format!("{INVOICES}/{open}/payments"),
            json!({"amount_minor": 1, "currency": "USD", "method": "cash"}),
        ),
        (format!("{INVOICES}/{open}/payment-intent"), json!({})),
        (
            format!("{INVOICES}/{open}/credit-notes"),
            json!({"amount_minor": 1, "reason": "x"}),
        ),
        (
            format!("/v1/billing/payments/{payment}/refunds"),
            json!({"amount_minor": 1}),
        ),
        (format!("{INVOICES}/{open}/void"), json!({})),
    ];
    for (path, body) in writes {
        b.owner
            .post(&path, &body)
            .await
            .expect_problem(404, "not_found");
    }
    // B's own customer cannot be billed on A's invoice either way round.
    b.owner
        .post(INVOICES, &json!({"customer_id": a.customer, "lines": []}))
        .await
        .expect_problem(422, "validation_failed");
    let still = a.invoice(&open).await;
    assert_eq!(still["amount_due_minor"], 4_000);
    assert_eq!(a.invoice(&draft).await["status"], "draft");
}

#[tokio::test]
async fn agreement_periods_are_drafted_once_by_the_nightly_task() {
    let server = server_with(
        ["--scheduler-interval-ms", "50"]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    let shop = books(&server, "bill-plan").await;
    let (agreement, today) = shop.active_monthly_agreement().await;
    let mut db = server.db().await;
    let drafts = async || {
        shop.owner
            .get(&format!("{INVOICES}?status=draft"))
            .await
            .items()
            .iter()
            .filter(|i| i["agreement_id"] == agreement.as_str())
            .cloned()
            .collect::<Vec<_>>()
    };
    for run in 1..=2i64 {
        run_task(&mut db, shop.tenant.id, AGREEMENT_TASK, run).await;
        eventually("the tick delivered to billing", async || {
            let delivered: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM event_deliveries d JOIN event_outbox o
                   ON o.tenant_id = d.tenant_id AND o.id = d.event_id
                 WHERE o.tenant_id = $1 AND o.event_type = 'schedule.tick'
                   AND d.subscriber = 'module:billing' AND d.state = 'delivered'",
            )
            .bind(shop.tenant.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
            (delivered == run).then_some(())
        })
        .await;
        let found = eventually("the period's draft", async || {
            Some(drafts().await).filter(|d| !d.is_empty())
        })
        .await;
        assert_eq!(found.len(), 1, "run {run}: {found:?}");
        assert_eq!(found[0]["period_start"], today.as_str());
        assert_eq!(found[0]["total_minor"], 9_900);
    }
}

/// A finalized invoice's pay link, `<public_url>/pay/<tenant>_<secret>`: with no login it shows
/// that invoice, its PDF and starts a card payment; a wrong secret, another tenant's id, the
/// staff path and a voided invoice are all 404.
#[tokio::test]
async fn a_pay_link_shows_its_one_invoice_without_a_login() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let (shop, other) = (
        books(&server, "bill-link").await,
        books(&server, "bill-lnk").await,
    );
    connect(&shop.owner, "acct_1BillLink").await;
    let settings = json!({"public_url": "https://pay.example.com/"});
    let saved = shop
        .owner
        .send_json("PATCH", "/v1/billing/settings", &settings)
        .await;
    saved.expect_status(200);
    let invoice = shop.open_invoice(13_609).await;
    let url = invoice["payment_url"].as_str().expect("a pay link");
    let link = url.strip_prefix("https://pay.example.com").expect(url);
    let anyone = server.anon();

    let page = anyone.get(link).await;
    page.expect_status(200);
    assert_eq!(page.json["number"], invoice["number"]);
    assert_eq!(page.json["customer_name"], "Green Acres");
    assert_eq!(
        (
            page.json["amount_due_minor"].clone(),
            page.json["payable"].clone()
        ),
        (json!(13_609), json!(true))
    );
    assert!(page.json.get("customer_id").is_none(), "{}", page.text);
    let pdf = anyone.get(&format!("{link}.pdf")).await;
    pdf.expect_status(200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let intent = anyone
        .post(&format!("{link}/payment-intent"), &json!({}))
        .await;
    intent.expect_status(200);
    assert!(
        intent.json["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("pi_"))
    );
    assert_eq!(stripe.payment_intents().len(), 1);

    let (tenant, secret) = link["/pay/".len()..].split_once('_').unwrap();
    let made_up = format!("/pay/{tenant}_{}", "0".repeat(48));
    let elsewhere = format!("/pay/{}_{secret}", other.tenant.id.simple());
    for refused in [
        made_up.as_str(),
        &elsewhere,
        "/pay/not-a-link",
        &format!("{link}/../x"),
    ] {
        assert_eq!(anyone.get(refused).await.status, 404, "{refused}");
    }
    let staff_path = format!("/v1/billing{link}");
    shop.owner
        .get(&staff_path)
        .await
        .expect_problem(404, "not_found");
    let void = format!("{INVOICES}/{}/void", id(&invoice));
    shop.owner.post(&void, &json!({})).await.expect_status(200);
    anyone.get(link).await.expect_problem(404, "not_found");
}

/// Saves `method` as the shop customer's card (a SetupIntent, then Stripe's
/// `setup_intent.succeeded`) and turns autopay on; the SetupIntent's answer.
pub(crate) async fn save_card_for_autopay(
    server: &TestServer,
    api: &Api,
    customer: &str,
    account: &str,
    method: &str,
) -> Value {
    let profile = format!("/v1/billing/customers/{customer}/payment-profile");
    let setup = api
        .post(
            &format!("/v1/billing/customers/{customer}/setup-intent"),
            &json!({}),
        )
        .await;
    setup.expect_status(200);
    let seti = setup.json["setup_intent_id"].as_str().unwrap();
    webhook(
        server,
        &format!("evt_setup_{seti}"),
        "setup_intent.succeeded",
        account,
        json!({"id": seti, "object": "setup_intent", "status": "succeeded",
               "customer": setup.json["stripe_customer_id"], "payment_method": method,
               "metadata": {"customer_id": customer}}),
    )
    .await;
    eventually("the card saved", async || {
        (api.get(&profile).await.json["default_payment_method"] == method).then_some(())
    })
    .await;
    let on = api
        .send_json("PATCH", &profile, &json!({"autopay": true}))
        .await;
    on.expect_status(200);
    assert_eq!(on.json["autopay"], true, "{}", on.text);
    setup.json.clone()
}

/// The tenant's feed events of `types` (`invoice.*`), once fanned out, as (type, data).
async fn feed(api: &Api, types: &str) -> Vec<(String, Value)> {
    api.get(&format!("/v1/events?types={types}"))
        .await
        .items()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["data"].clone()))
        .collect()
}

fn days_from_today(days: u64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Days::new(days)).to_string()
}

#[tokio::test]
async fn autopay_charges_a_finalized_invoice_once_with_the_saved_card() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let shop = books(&server, "bill-autopay").await;
    connect(&shop.owner, "acct_1BillAutopay").await;
    let profile = format!("/v1/billing/customers/{}/payment-profile", shop.customer);

    // Autopay needs a saved card first.
    let early = shop
        .owner
        .send_json("PATCH", &profile, &json!({"autopay": true}))
        .await;
    early.expect_status(422);
    assert_eq!(early.json["code"], "no_payment_method", "{}", early.text);
    // Asking twice for a SetupIntent makes the Stripe customer once and replays the intent.
    let setup_path = format!("/v1/billing/customers/{}/setup-intent", shop.customer);
    let first = shop.owner.post(&setup_path, &json!({})).await;
    first.expect_status(200);
    assert!(
        first.json["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(first.json["setup_intent_id"].as_str().unwrap())
    );
    let setup = save_card_for_autopay(
        &server,
        &shop.owner,
        &shop.customer,
        "acct_1BillAutopay",
        "pm_card_visa",
    )
    .await;
    assert_eq!(setup["setup_intent_id"], first.json["setup_intent_id"]);
    let customers: Vec<StripeCall> = stripe
        .calls()
        .into_iter()
        .filter(|c| c.path == "/v1/customers")
        .collect();
    assert_eq!(customers.len(), 1);
    let key = format!("vf-{}-customer-{}", shop.tenant.id, shop.customer);
    assert_eq!(customers[0].header("idempotency-key"), Some(key.as_str()));

    // Finalizing charges the card off-session at once: paid, balance 0.
    let invoice = shop.open_invoice(9_900).await;
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(invoice["amount_due_minor"], 0);
    let invoice = id(&invoice);
    let charges: Vec<StripeCall> = stripe
        .calls()
        .into_iter()
        .filter(|c| c.path == "/v1/payment_intents")
        .collect();
    assert_eq!(charges.len(), 1);
    let charge = &charges[0];
    assert_eq!(charge.field("off_session"), Some("true"));
    assert_eq!(charge.field("confirm"), Some("true"));
    assert_eq!(charge.field("payment_method"), Some("pm_card_visa"));
    assert_eq!(charge.field("amount"), Some("9900"));
    assert_eq!(charge.field("metadata[invoice_id]"), Some(invoice.as_str()));
    let key = format!("vf-{}-invoice-{invoice}-autopay-1", shop.tenant.id);
    assert_eq!(charge.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(shop.balance().await, 0);

    // Stripe's webhook for the same PaymentIntent, twice, adds nothing.
    let (account, mut object) = stripe.payment_intents().pop().unwrap();
    assert_eq!(account, "acct_1BillAutopay");
    let pi = object["id"].as_str().unwrap().to_owned();
    object["amount_received"] = json!(9_900);
    for event in ["evt_1AutopayPaid", "evt_1AutopayPaidAgain"] {
        webhook(
            &server,
            event,
            "payment_intent.succeeded",
            "acct_1BillAutopay",
            object.clone(),
        )
        .await;
    }
    let mut db = server.db().await;
    eventually("both Stripe events delivered to billing", async || {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM event_deliveries d JOIN event_outbox o
               ON o.tenant_id = d.tenant_id AND o.id = d.event_id
             WHERE o.tenant_id = $1 AND o.event_type = 'stripe.payment_intent.succeeded'
               AND d.subscriber = 'module:billing' AND d.state = 'delivered'",
        )
        .bind(shop.tenant.id)
        .fetch_one(&mut db)
        .await
        .unwrap();
        (pending == 2).then_some(())
    })
    .await;
    let payments = shop
        .owner
        .get(&format!("/v1/billing/payments?invoice_id={invoice}"))
        .await;
    assert_eq!(payments.items().len(), 1, "{}", payments.text);
    assert_eq!(payments.items()[0]["method"], "card");
    assert_eq!(payments.items()[0]["stripe_payment_intent_id"], pi.as_str());
    assert_eq!(shop.balance().await, 0);
    assert_eq!(stripe.payment_intents().len(), 1);
}

#[tokio::test]
async fn a_declined_autopay_is_retried_three_times_then_the_customer_is_delinquent() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let shop = books(&server, "bill-dunning").await;
    connect(&shop.owner, "acct_1BillDunning").await;
    save_card_for_autopay(
        &server,
        &shop.owner,
        &shop.customer,
        "acct_1BillDunning",
        "pm_card_chargeDeclined",
    )
    .await;
    let profile = format!("/v1/billing/customers/{}/payment-profile", shop.customer);

    // The first charge is declined: finalizing succeeds, the invoice stays open.
    let invoice = shop.open_invoice(9_900).await;
    assert_eq!(invoice["status"], "open", "{invoice}");
    assert_eq!(invoice["last_payment_error"], "Your card was declined.");
    let invoice = id(&invoice);
    let dunning_path = format!("{INVOICES}/{invoice}/dunning");
    let dunning = shop.owner.get(&dunning_path).await;
    dunning.expect_status(200);
    assert_eq!(dunning.json["attempt"], 1, "{}", dunning.text);
    assert_eq!(dunning.json["next_attempt_on"], days_from_today(3).as_str());
    assert_eq!(dunning.json["last_decline_code"], "generic_decline");
    let failed = eventually("invoice.payment_failed in the feed", async || {
        let events = feed(&shop.owner, "invoice.*").await;
        let failed: Vec<Value> = events
            .into_iter()
            .filter(|(t, _)| t == "invoice.payment_failed")
            .map(|(_, data)| data)
            .collect();
        (!failed.is_empty()).then_some(failed)
    })
    .await;
    assert_eq!(failed[0]["attempt"], 1);
    assert_eq!(failed[0]["next_attempt_on"], days_from_today(3).as_str());
    assert_eq!(failed[0]["final"], false);

    // Nothing is due before its day.
    let run = shop.owner.post("/v1/billing/dunning/run", &json!({})).await;
    run.expect_status(200);
    assert_eq!(run.json["due"], 0, "{}", run.text);

    // Each retry's day comes (set back in the database): +5, +7, then no more.
    let mut db = server.db().await;
    for (attempt, next) in [
        (2, Some(days_from_today(5))),
        (3, Some(days_from_today(7))),
        (4, None),
    ] {
        sqlx::query(
            "UPDATE store.billing_dunning SET next_attempt_on = current_date
             WHERE tenant_id = $1 AND invoice_id = $2::uuid",
        )
        .bind(shop.tenant.id)
        .bind(&invoice)
        .execute(&mut db)
        .await
        .unwrap();
        let run = shop.owner.post("/v1/billing/dunning/run", &json!({})).await;
        run.expect_status(200);
        assert_eq!(
            (&run.json["due"], &run.json["failed"]),
            (&json!(1), &json!(1)),
            "{}",
            run.text
        );
        let dunning = shop.owner.get(&dunning_path).await.json;
        assert_eq!(dunning["attempt"], attempt);
        assert_eq!(dunning["next_attempt_on"], json!(next));
    }
    let keys: Vec<String> = stripe
        .calls()
        .iter()
        .filter(|c| c.path == "/v1/payment_intents")
        .map(|c| c.header("idempotency-key").unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (1..=4)
        .map(|n| format!("vf-{}-invoice-{invoice}-autopay-{n}", shop.tenant.id))
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(shop.invoice(&invoice).await["status"], "open");
    let dunning = shop.owner.get(&dunning_path).await.json;
    assert_eq!(dunning["state"], "exhausted");
    let flagged = shop.owner.get(&profile).await.json;
    assert_eq!(flagged["delinquent"], true, "{flagged}");
    assert!(flagged["delinquent_since"].is_string());
    let delinquent = eventually("customer.delinquent in the feed", async || {
        feed(&shop.owner, "customer.*")
            .await
            .into_iter()
            .find(|(t, _)| t == "customer.delinquent")
    })
    .await;
    assert_eq!(delinquent.1["customer_id"], shop.customer.as_str());
    assert_eq!(delinquent.1["invoice_id"], invoice.as_str());
    assert_eq!(delinquent.1["attempts"], 4);
    let failures = eventually("four failures in the feed", async || {
        let attempts: Vec<Value> = feed(&shop.owner, "invoice.*")
            .await
            .into_iter()
            .filter(|(t, _)| t == "invoice.payment_failed")
            .map(|(_, data)| data["attempt"].clone())
            .collect();
        (attempts.len() == 4).then_some(attempts)
    })
    .await;
    assert_eq!(failures, [json!(1), json!(2), json!(3), json!(4)]);
    // A run after the last failure charges nothing more.
    let run = shop.owner.post("/v1/billing/dunning/run", &json!({})).await;
    assert_eq!(run.json["due"], 0, "{}", run.text);

    // The customer pays by check: the invoice is paid, its dunning and the flag cleared.
    shop.pay(&shop.owner, &invoice, 9_900, "check")
        .await
        .expect_status(201);
    assert_eq!(shop.invoice(&invoice).await["status"], "paid");
    let dunning = shop.owner.get(&dunning_path).await.json;
    assert_eq!(dunning["state"], "cleared");
    assert!(dunning["next_attempt_on"].is_null());
    let cleared = shop.owner.get(&profile).await.json;
    assert_eq!(cleared["delinquent"], false, "{cleared}");
    assert!(cleared["delinquent_since"].is_null());
    assert_eq!(shop.balance().await, 0);
}

#[tokio::test]
async fn another_tenant_reaches_none_of_a_customers_payment_profile() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let shop = books(&server, "bill-prof-a").await;
    let other = books(&server, "bill-prof-b").await;
    connect(&shop.owner, "acct_1BillProfA").await;
    connect(&other.owner, "acct_1BillProfB").await;
    save_card_for_autopay(
        &server,
        &shop.owner,
        &shop.customer,
        "acct_1BillProfA",
        "pm_card_visa",
    )
    .await;
    let profile = format!("/v1/billing/customers/{}/payment-profile", shop.customer);
    let calls_before = stripe.calls().len();

    other.owner.get(&profile).await.expect_status(404);
    other
        .owner
        .send_json("PATCH", &profile, &json!({"autopay": false}))
        .await
        .expect_status(404);
    other
        .owner
        .post(
            &format!("/v1/billing/customers/{}/setup-intent", shop.customer),
            &json!({}),
        )
        .await
        .expect_status(404);
    assert_eq!(stripe.calls().len(), calls_before, "no Stripe call for B");
    // B's run of dunning sees none of A's rows; A's profile is unchanged.
    let run = other
        .owner
        .post("/v1/billing/dunning/run", &json!({}))
        .await;
    assert_eq!(run.json["due"], 0);
    let mine = shop.owner.get(&profile).await;
    mine.expect_status(200);
    assert_eq!(mine.json["autopay"], true);
    assert_eq!(mine.json["default_payment_method"], "pm_card_visa");
}

/// The nightly draft of an autopay customer's agreement period is finalized at once and
/// charged with the saved card; nobody has to finalize it.
#[tokio::test]
async fn an_autopay_customers_agreement_period_is_finalized_and_charged_overnight() {
    let stripe = StripeServer::start();
    let mut args = stripe.server_args();
    args.extend(["--scheduler-interval-ms", "50"].map(str::to_owned));
    let server = server_with(args).await;
    let shop = books(&server, "bill-plan-auto").await;
    connect(&shop.owner, "acct_1BillPlanAuto").await;
    save_card_for_autopay(
        &server,
        &shop.owner,
        &shop.customer,
        "acct_1BillPlanAuto",
        "pm_card_visa",
    )
    .await;
    let (agreement, today) = shop.active_monthly_agreement().await;
    let mut db = server.db().await;
    run_task(&mut db, shop.tenant.id, AGREEMENT_TASK, 1).await;
    let invoice = eventually("the period invoiced and paid", async || {
        shop.owner
            .get(&format!("{INVOICES}?status=paid"))
            .await
            .items()
            .iter()
            .find(|i| i["agreement_id"] == agreement.as_str())
            .cloned()
    })
    .await;
    assert_eq!(invoice["period_start"], today.as_str());
    assert_eq!(invoice["amount_paid_minor"], 9_900);
    assert!(invoice["number"].is_string(), "{invoice}");
    let charge = stripe
        .calls()
        .into_iter()
        .find(|c| c.path == "/v1/payment_intents")
        .expect("the period charged");
    assert_eq!(charge.field("off_session"), Some("true"));
    let key = format!("vf-{}-invoice-{}-autopay-1", shop.tenant.id, id(&invoice));
    assert_eq!(charge.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(shop.balance().await, 0);
}

/// Stripe unavailable when the invoice is finalized: finalizing still succeeds, no attempt
/// is counted and no failure emitted; the next run charges it under the first key.
#[tokio::test]
async fn an_autopay_charge_stripe_could_not_take_is_tried_next_day_as_attempt_one() {
    let stripe = StripeServer::start();
    let server = server_with(stripe.server_args()).await;
    let shop = books(&server, "bill-autopay-down").await;
    connect(&shop.owner, "acct_1BillAutopayDown").await;
    save_card_for_autopay(
        &server,
        &shop.owner,
        &shop.customer,
        "acct_1BillAutopayDown",
        "pm_card_visa",
    )
    .await;
    // The first try and the host's two retries.
    stripe.fail_next([503, 503, 503]);
    let invoice = shop.open_invoice(4_200).await;
    assert_eq!(invoice["status"], "open", "{invoice}");
    let invoice = id(&invoice);
    let dunning_path = format!("{INVOICES}/{invoice}/dunning");
    let dunning = shop.owner.get(&dunning_path).await.json;
    assert_eq!(
        (&dunning["attempt"], &dunning["state"]),
        (&json!(0), &json!("retrying")),
        "{dunning}"
    );
    assert_eq!(dunning["next_attempt_on"], days_from_today(1).as_str());

    let mut db = server.db().await;
    sqlx::query(
        "UPDATE store.billing_dunning SET next_attempt_on = current_date
         WHERE tenant_id = $1 AND invoice_id = $2::uuid",
    )
    .bind(shop.tenant.id)
    .bind(&invoice)
    .execute(&mut db)
    .await
    .unwrap();
    let run = shop.owner.post("/v1/billing/dunning/run", &json!({})).await;
    assert_eq!(run.json["paid"], 1, "{}", run.text);
    assert_eq!(shop.invoice(&invoice).await["status"], "paid");
    assert_eq!(shop.owner.get(&dunning_path).await.json["state"], "cleared");
    let key = format!("vf-{}-invoice-{invoice}-autopay-1", shop.tenant.id);
    let charges: Vec<StripeCall> = stripe
        .calls()
        .into_iter()
        .filter(|c| c.path == "/v1/payment_intents")
        .collect();
    assert!(charges.len() >= 2, "{}", charges.len());
    assert!(
        charges
            .iter()
            .all(|c| c.header("idempotency-key") == Some(key.as_str()))
    );
    assert_eq!(stripe.payment_intents().len(), 1);
    assert!(
        feed(&shop.owner, "invoice.*")
            .await
            .iter()
            .all(|(t, _)| t != "invoice.payment_failed")
    );
}

/// The nightly run drafts a hundred agreements a delivery and continues on its own
/// `agreement_run.continued` event: 250 agreements make 250 drafts in three batches.
/// (The agreements are written straight into the store: activating 250 over HTTP would also
/// generate their jobs, which billing by period does not read.)
#[tokio::test]
async fn a_large_agreement_run_continues_in_batches() {
    let server = server_with(vec!["--scheduler-interval-ms".into(), "50".into()]).await;
    let shop = books(&server, "bill-batch").await;
    let mut db = server.db().await;
    let (tenant, customer) = (shop.tenant.id, &shop.customer);
    seed_active_agreements(
        &mut db,
        tenant,
        customer,
        &shop.location,
        &shop.service,
        250,
    )
    .await;
    run_task(&mut db, shop.tenant.id, AGREEMENT_TASK, 1).await;
    let count_drafts = "SELECT count(*) FROM store.billing_invoices
                        WHERE tenant_id = $1 AND source = 'agreement_period'";
    eventually("250 drafts", async || {
        let drafts: i64 = sqlx::query_scalar(count_drafts)
            .bind(shop.tenant.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        (drafts == 250).then_some(())
    })
    .await;
    let continued: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM event_outbox
         WHERE tenant_id = $1 AND event_type = 'agreement_run.continued' ORDER BY id",
    )
    .bind(shop.tenant.id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(continued.len(), 2, "{continued:?}");
    assert_eq!(continued[0]["drafted"], 100);
    assert_eq!(
        continued[0]["agreement_run_id"],
        continued[1]["agreement_run_id"]
    );
    for payload in &continued {
        let problems = verofield::event_catalog::check_payload("agreement_run.continued", payload);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

/// Dates follow the tenant's calendar: tenants at UTC+14 and UTC-11 (never on the same date,
/// so at any hour one of them is not on UTC's) each get their own today as the issue date, and
/// revenue months start at local midnight. The local date is read before and after
/// finalizing, so a midnight in between is no failure.
#[tokio::test]
async fn invoices_are_dated_by_the_tenants_calendar() {
    let server = server().await;
    let mut db = server.db().await;
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let shop = server.scenario_in(&unique("bill-tz"), zone).await;
        let customer = shop.customer("Far Away").await;
        let line = json!({"description": "Visit", "unit_price_minor": 5_000});
        let body = json!({"customer_id": customer, "lines": [line]});
        let draft = shop.create(INVOICES, &body).await.id();
        let finalize = format!("{INVOICES}/{draft}/finalize");
        let before = local_calendar(&mut db, zone).await;
        let open = admitted(&shop.owner, "POST", &finalize, &json!({})).await;
        open.expect_status(200);
        let after = local_calendar(&mut db, zone).await;
        let issued = open.json["issue_date"].as_str().unwrap_or_default();
        assert!(
            [before.0, after.0]
                .map(|d| d.to_string())
                .contains(&issued.to_owned()),
            "{zone}: issued {issued}, local {before:?} / {after:?}"
        );
        let revenue = shop.owner.get("/v1/billing/reports/revenue").await;
        let reported = revenue.json["items"][0]["month"]
            .as_str()
            .unwrap_or_default();
        let reported = chrono::DateTime::parse_from_rfc3339(reported).expect(&revenue.text);
        assert!(
            [before.1, after.1].contains(&reported.to_utc()),
            "{zone}: {}",
            revenue.text
        );
    }
}

/// Today's date and the instant this month began in `zone`, by PostgreSQL's zone data.
async fn local_calendar(
    db: &mut sqlx::PgConnection,
    zone: &str,
) -> (chrono::NaiveDate, chrono::DateTime<chrono::Utc>) {
    sqlx::query_as("SELECT (now() AT TIME ZONE $1)::date, date_trunc('month', now(), $1)")
        .bind(zone)
        .fetch_one(db)
        .await
        .unwrap()
}
