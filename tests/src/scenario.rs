//! Scenarios: one-line steps on the fixtures, so that a long test reads as a story (as
//! mini-redis's `tests/client.rs` does) instead of a wall of request boilerplate.
//!
//! Two layers:
//!
//! * Steps on [`Api`] (`job_status`, `assign`, `schedule`, `action`, ...) build a request and
//!   return the [`Resp`] unasserted: refusals are half of what the suites check, so the
//!   caller says what it expects (`.expect_problem(409, "invalid_transition")`).
//! * [`Scenario`], a fresh tenant with its owner logged in, whose steps are the happy path:
//!   each asserts its one expected status and returns the id it created, so set-up costs a
//!   line per row.

use std::fmt::Display;

use serde_json::Value;

use crate::*;

/// The time zone of the scenarios' technicians and jobs (it has a DST change in March).
pub const SCENARIO_ZONE: &str = "America/New_York";
/// The password of the users a scenario creates.
pub const SCENARIO_PASSWORD: &str = "field password 1";

impl Resp {
    /// `self.json["id"]` as a string; panics when absent.
    #[track_caller]
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no `id` in {}", self.text))
            .to_owned()
    }

    /// The fields a 422 names, in order (empty when there are none).
    pub fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `items` of a list answer; panics when it is not a list.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no `items` in {}", self.text))
    }
}

/// Requests the suites send again and again, unasserted.
impl Api {
    /// `body` as JSON with any method (`"PATCH"`, `"POST"`).
    pub async fn send_json(&self, method: &str, path: &str, body: &Value) -> Resp {
        send(self.request(method.parse().unwrap(), path).json(body)).await
    }

    /// A POST with an empty object: the actions (`/activate`, `/generate`, `/close`, ...).
    pub async fn action(&self, path: &str) -> Resp {
        self.post(path, &json!({})).await
    }

    /// `PATCH /v1/users/{user}`.
    pub async fn patch_user(&self, user: impl Display, body: &Value) -> Resp {
        self.patch(&format!("/v1/users/{user}"), body).await
    }

    /// `DELETE /v1/users/{user}` (a deactivation).
    pub async fn delete_user(&self, user: impl Display) -> Resp {
        self.delete(&format!("/v1/users/{user}")).await
    }

    /// `POST /v1/jobs/{job}/status` to `to`.
    pub async fn job_status(&self, job: &str, to: &str) -> Resp {
        self.job_status_with(job, &json!({ "status": to })).await
    }

    /// `POST /v1/jobs/{job}/status` with a full body (a note, a completion record).
    pub async fn job_status_with(&self, job: &str, body: &Value) -> Resp {
        self.post(&format!("/v1/jobs/{job}/status"), body).await
    }

    /// The technician's own route: `POST /v1/jobs/mine/{job}/status` to `to`.
    pub async fn my_job_status(&self, job: &str, to: &str) -> Resp {
        self.my_job_status_with(job, &json!({ "status": to })).await
    }

    /// `POST /v1/jobs/mine/{job}/status` with a full body.
    pub async fn my_job_status_with(&self, job: &str, body: &Value) -> Resp {
        self.post(&format!("/v1/jobs/mine/{job}/status"), body)
            .await
    }

    /// `POST /v1/jobs/{job}/assignments`: these technicians, conflicts checked.
    pub async fn assign<T: AsRef<str>>(&self, job: &str, technicians: &[T]) -> Resp {
        self.post(
            &format!("/v1/jobs/{job}/assignments"),
            &json!({ "technician_ids": ids(technicians) }),
        )
        .await
    }

    /// `POST /v1/jobs/{job}/assignments/override` with a full body (technicians, reason).
    pub async fn assign_override(&self, job: &str, body: &Value) -> Resp {
        self.post(&format!("/v1/jobs/{job}/assignments/override"), body)
            .await
    }

    /// `POST /v1/jobs/{job}/schedule` with a full body (date, window, zone).
    pub async fn schedule(&self, job: &str, body: &Value) -> Resp {
        self.post(&format!("/v1/jobs/{job}/schedule"), body).await
    }
}

fn ids<T: AsRef<str>>(ids: &[T]) -> Vec<&str> {
    ids.iter().map(AsRef::as_ref).collect()
}

/// A fresh tenant with its owner logged in; its steps assert the happy path.
pub struct Scenario<'s> {
    pub server: &'s TestServer,
    pub tenant: TenantFixture,
    /// The owner's client.
    pub owner: Api,
}

impl TestServer {
    /// `GET /v1/me` with this access token: the cheapest "does this token still work".
    pub async fn me(&self, token: &str) -> Resp {
        self.client_for(token).get("/v1/me").await
    }

    /// `POST /v1/auth/accept-invite`: sets the invited user's password.
    pub async fn accept_invite(&self, token: &str, password: &str) -> Resp {
        self.anon()
            .post(
                "/v1/auth/accept-invite",
                &json!({ "token": token, "password": password }),
            )
            .await
    }

    /// Creates a user with `roles` and `password` as the holder of `token`, then logs them in
    /// to `tenant` (a slug): the created user's body and their tokens.
    pub async fn create_and_login(
        &self,
        token: &str,
        tenant: &str,
        email: &str,
        roles: &[&str],
        password: &str,
    ) -> (Value, Tokens) {
        let created = self.create_user(token, email, roles, Some(password)).await;
        (created, self.login(tenant, email, password).await)
    }

    /// Creates tenant `slug` and logs its owner in.
    pub async fn scenario(&self, slug: &str) -> Scenario<'_> {
        self.scenario_in(slug, "UTC").await
    }

    /// [`scenario`](Self::scenario) for a tenant in the IANA zone `time_zone`.
    pub async fn scenario_in(&self, slug: &str, time_zone: &str) -> Scenario<'_> {
        let tenant = self.create_tenant_in(slug, time_zone).await;
        let owner = self.client_for(&self.login_owner(&tenant).await.access);
        Scenario {
            server: self,
            tenant,
            owner,
        }
    }
}

impl Scenario<'_> {
    /// POSTs as the owner, asserts 201 and returns the answer.
    pub async fn create(&self, path: &str, body: &Value) -> Resp {
        let created = self.owner.post(path, body).await;
        created.expect_status(201);
        created
    }

    /// A CRM customer named `name`.
    pub async fn customer(&self, name: &str) -> String {
        self.create("/v1/crm/customers", &json!({ "name": name }))
            .await
            .id()
    }

    /// A location of `customer` in New York.
    pub async fn location(&self, customer: &str, label: &str) -> String {
        self.create(
            &format!("/v1/crm/customers/{customer}/locations"),
            &json!({"label": label, "latitude": 40.7, "longitude": -74.0}),
        )
        .await
        .id()
    }

    /// A service type in the jobs catalog, priced in USD minor units: its id.
    pub async fn service_type(
        &self,
        name: &str,
        minutes: i64,
        price_minor: i64,
        skills: &[&str],
    ) -> String {
        self.create(
            "/v1/jobs/service-types",
            &json!({"name": name, "default_duration_minutes": minutes,
                    "default_price_minor": price_minor, "currency": "USD", "required_skills": skills}),
        )
        .await
        .id()
    }

    /// A technician profile (Mon-Fri 08:00-17:00 New York time), optionally linked to a user.
    pub async fn technician(&self, name: &str, skills: &[&str], user: Option<&str>) -> String {
        let hours = json!([{"start": "08:00", "end": "17:00"}]);
        self.create(
            "/v1/technicians",
            &json!({"name": name, "skills": skills, "user_id": user, "time_zone": SCENARIO_ZONE,
                    "home_latitude": 40.7, "home_longitude": -74.0,
                    "working_hours": {"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours}}),
        )
        .await
        .id()
    }

    /// A role with these permissions.
    pub async fn role(&self, name: &str, permissions: &[&str]) {
        self.create(
            "/v1/roles",
            &json!({ "name": name, "permissions": permissions }),
        )
        .await;
    }

    /// A user with `roles` (password [`SCENARIO_PASSWORD`]): their id and logged-in client.
    pub async fn user(&self, email: &str, roles: &[&str]) -> (String, Api) {
        let server = self.server;
        let owner_token = server.login_owner(&self.tenant).await.access;
        let created = server
            .create_user(&owner_token, email, roles, Some(SCENARIO_PASSWORD))
            .await;
        let tokens = server
            .login(&self.tenant.slug, email, SCENARIO_PASSWORD)
            .await;
        let id = created["id"].as_str().expect("an id").to_owned();
        (id, server.client_for(&tokens.access))
    }

    /// Assigns the technicians to `job` as the owner; asserts 200.
    pub async fn assign<T: AsRef<str>>(&self, job: &str, technicians: &[T]) -> Resp {
        let assigned = self.owner.assign(job, technicians).await;
        assigned.expect_status(200);
        assigned
    }

    /// Moves `job` to `to` as the owner; asserts 200.
    pub async fn status(&self, job: &str, to: &str) -> Resp {
        let moved = self.owner.job_status(job, to).await;
        moved.expect_status(200);
        moved
    }
}

/// A transaction on `db` (an admin connection) as the host's app role, after `settings`
/// (`SET LOCAL app.tenant_id = '...'`, or "" for none): what row-level security lets the
/// host see. The caller rolls it back.
pub async fn as_app_role<'c>(
    db: &'c mut sqlx::PgConnection,
    settings: &str,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut tx = sqlx::Connection::begin(db).await.unwrap();
    let sql = match settings {
        "" => "SET LOCAL ROLE verofield_app".to_owned(),
        settings => format!("{settings}; SET LOCAL ROLE verofield_app"),
    };
    sqlx::raw_sql(&sql).execute(&mut *tx).await.unwrap();
    tx
}

/// The tenant's events as the host's app role sees them in the tenant's scope, in order:
/// (type, payload, aggregate).
pub async fn outbox(
    server: &TestServer,
    tenant: uuid::Uuid,
) -> Vec<(String, Value, Option<String>)> {
    let mut db = server.db().await;
    let mut tx = as_app_role(&mut db, &format!("SET LOCAL app.tenant_id = '{tenant}'")).await;
    sqlx::query_as(
        "SELECT event_type, payload, aggregate FROM event_outbox ORDER BY occurred_at, id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap()
}

/// Writes `count` active agreements straight into the store, billed monthly in advance from
/// today at 99.00 USD, one location and service type each. For the agreement billing run at
/// scale: activating them over HTTP would also generate their jobs, which billing by period
/// does not read.
pub async fn seed_active_agreements(
    db: &mut sqlx::PgConnection,
    tenant: uuid::Uuid,
    customer: &str,
    location: &str,
    service: &str,
    count: i64,
) {
    sqlx::query(
        "INSERT INTO store.service_agreements
           (tenant_id, id, customer_id, name, location_ids, service_type_ids, recurrence,
            pricing, price_minor, currency, billing_frequency, starts_on, status, activated_at)
         SELECT $1, gen_random_uuid(), $2::uuid, 'Plan ' || n, ARRAY[$3], ARRAY[$4],
                'FREQ=MONTHLY', 'per_period', 9900, 'USD', 'monthly', current_date, 'active', now()
         FROM generate_series(1, $5) AS n",
    )
    .bind(tenant)
    .bind(customer)
    .bind(location)
    .bind(service)
    .bind(count)
    .execute(db)
    .await
    .expect("seeding agreements");
}

/// How often the tenant's scheduled task `name` has run; None until the scheduler created it.
pub async fn task_runs(db: &mut sqlx::PgConnection, tenant: uuid::Uuid, name: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT runs FROM scheduled_tasks WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .fetch_optional(db)
        .await
        .expect("reading scheduled tasks")
}

/// Makes the tenant's scheduled task `name` due a minute ago (in whole seconds) and the
/// scheduler's hint for the tenant due now, so that the next scheduler tick runs it rather
/// than the next reconciliation; returns when the task was due.
pub async fn make_task_due(
    db: &mut sqlx::PgConnection,
    tenant: uuid::Uuid,
    name: &str,
) -> chrono::DateTime<chrono::Utc> {
    let due = sqlx::query_scalar(
        "UPDATE scheduled_tasks SET next_run_at = date_trunc('second', now()) - interval '1 minute'
         WHERE tenant_id = $1 AND name = $2 RETURNING next_run_at",
    )
    .bind(tenant)
    .bind(name)
    .fetch_one(&mut *db)
    .await
    .expect("the task exists");
    sqlx::query("UPDATE dispatch.due_tasks SET due_at = now() WHERE tenant_id = $1")
        .bind(tenant)
        .execute(db)
        .await
        .expect("hinting the scheduler");
    due
}
