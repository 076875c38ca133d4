//! The routing module end to end: the real server publishes the built-in routing component
//! and answers `/v1/routing/...` through it. Inline problems are solved and stored; bad
//! problems are 422 naming the fields and store nothing; plans are tenant-scoped; a call
//! deadline shorter than the requested budget still answers the best plan. The date path
//! (the tenant's technicians and jobs) and applying plans are in `routing_day.rs`. The module
//! finds exactly the native solver's plan for the same seed and iteration count.

use serde_json::{Value, json};
use uuid::Uuid;
use verofield_tests::{Api, ServerOptions, TenantFixture, TestServer};

/// The built-in modules; `VEROFIELD_ROUTING_TEST_MODULES` points at an already built
/// directory of components instead (while the guest workspace is being edited).
fn options() -> ServerOptions {
    match std::env::var("VEROFIELD_ROUTING_TEST_MODULES") {
        Ok(dir) => ServerOptions::new().env("VEROFIELD_BUILTIN_MODULES", &dir),
        Err(_) => ServerOptions::new().with_builtin_modules(),
    }
}

async fn tenant_api(server: &TestServer, slug: &str) -> (TenantFixture, Api) {
    let tenant = server.create_tenant(slug).await;
    let owner = server.login_owner(&tenant).await;
    let api = server.client_for(&owner.access);
    (tenant, api)
}

/// A depot and six jobs on a line, two vehicles; job `x` needs a skill nobody has, job `late`
/// has a window that closes before anyone can get there, job `long` takes longer than a shift.
fn small_problem() -> Value {
    json!({
        "locations": [
            {"x": 0.0, "y": 0.0}, {"x": 10.0, "y": 0.0}, {"x": 20.0, "y": 0.0},
            {"x": 0.0, "y": 10.0}, {"x": 0.0, "y": 20.0}, {"x": 50.0, "y": 0.0}
        ],
        "travel": {"kind": "euclidean", "speed": 1.0},
        "vehicles": [
            {"id": "ann", "start_location": 0, "shift": {"start": 0.0, "end": 200.0}, "skills": ["hvac"]},
            {"id": "bob", "start_location": 0, "shift": {"start": 0.0, "end": 200.0}}
        ],
        "jobs": [
            {"id": "a", "location": 1, "service": 5.0},
            {"id": "b", "location": 2, "service": 5.0, "time_windows": [{"start": 30.0, "end": 60.0}]},
            {"id": "c", "location": 3, "service": 5.0},
            {"id": "d", "location": 4, "service": 5.0, "skills": ["hvac"]},
            {"id": "x", "location": 1, "service": 5.0, "skills": ["pool"]},
            {"id": "late", "location": 5, "service": 5.0, "time_windows": [{"start": 0.0, "end": 10.0}]},
            {"id": "long", "location": 1, "service": 500.0}
        ]
    })
}

async fn plan_count(server: &TestServer, tenant: Uuid) -> i64 {
    let mut db = server.db().await;
    sqlx::query_scalar("SELECT count(*) FROM store.routing_plans WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut db)
        .await
        .unwrap()
}

/// The plan's unassigned jobs as sorted (job id, reason) pairs (routing_day.rs uses it too).
pub(crate) fn reasons(plan: &Value) -> Vec<(String, String)> {
    let mut reasons: Vec<(String, String)> = plan["unassigned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["job_id"].as_str().unwrap().to_owned(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    reasons
}

#[tokio::test]
async fn an_inline_problem_is_solved_stored_and_read_back() {
    let server = TestServer::start_with(options()).await;
    let (tenant, api) = tenant_api(&server, "routing-inline").await;

    let created = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": small_problem(), "max_iterations": 500, "seed": 7}),
        )
        .await;
    created.expect_status(201);
    let plan = &created.json;
    let id = plan["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/routing/plans/{id}").as_str())
    );
    assert_eq!(plan["source"], "inline");
    assert_eq!(plan["status"], "proposed");
    assert_eq!(
        reasons(plan),
        [
            ("late".to_owned(), "window_unreachable".to_owned()),
            ("long".to_owned(), "shift_too_short".to_owned()),
            ("x".to_owned(), "no_skilled_technician".to_owned()),
        ]
    );
    assert_eq!(plan["summary"]["assigned"], 4);
    assert_eq!(plan["summary"]["unassigned"], 3);

    // Ordered stops with times and legs; `d` needs hvac, so ann serves it.
    let mut total = 0.0;
    let mut served = Vec::new();
    for route in plan["routes"].as_array().unwrap() {
        let stops = route["stops"].as_array().unwrap();
        assert_eq!(stops.first().unwrap()["kind"], "start");
        assert_eq!(stops.last().unwrap()["kind"], "end");
        let mut clock = 0.0;
        let mut legs = 0.0;
        for stop in stops {
            let (arrival, start, departure) = (
                stop["arrival"].as_f64().unwrap(),
                stop["start"].as_f64().unwrap(),
                stop["departure"].as_f64().unwrap(),
            );
            assert!(
                clock <= arrival + 1e-9 && arrival <= start && start <= departure,
                "{stop}"
            );
            clock = departure;
            legs += stop["travel_distance"].as_f64().unwrap();
            if let Some(job) = stop["job_id"].as_str() {
                served.push((
                    job.to_owned(),
                    route["technician_id"].as_str().unwrap().to_owned(),
                ));
            }
        }
        assert!((legs - route["distance"].as_f64().unwrap()).abs() < 1e-6);
        total += legs;
    }
    assert!((total - plan["summary"]["total_distance"].as_f64().unwrap()).abs() < 1e-6);
    served.sort();
    assert_eq!(served.len(), 4);
    assert!(
        served.contains(&("d".to_owned(), "ann".to_owned())),
        "{served:?}"
    );
    let b = plan["routes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["stops"].as_array().unwrap())
        .find(|s| s["job_id"] == "b")
        .unwrap();
    let b_start = b["start"].as_f64().unwrap();
    assert!((30.0..=60.0).contains(&b_start), "{b}");
    assert_eq!(plan["search"]["seed"], 7);
    assert!(plan["search"]["iterations"].as_u64().unwrap() <= 500);

    // Stored: the same plan is read back; the same body gives the same routes (seeded).
    let fetched = api.get(&format!("/v1/routing/plans/{id}")).await;
    fetched.expect_status(200);
    assert_eq!(fetched.json["routes"], plan["routes"]);
    assert_eq!(fetched.json["unassigned"], plan["unassigned"]);
    let again = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": small_problem(), "max_iterations": 500, "seed": 7}),
        )
        .await;
    again.expect_status(201);
    assert_eq!(again.json["routes"], plan["routes"]);
    assert_eq!(plan_count(&server, tenant.id).await, 2);

    // An inline plan has no jobs of the tenant to apply.
    api.post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await
        .expect_problem(409, "plan_not_applicable");
    api.get(&format!("/v1/routing/plans/{}", Uuid::now_v7()))
        .await
        .expect_problem(404, "not_found");
}

fn fields(response: &verofield_tests::Resp) -> Vec<String> {
    assert_eq!(response.status.as_u16(), 422, "{}", response.text);
    assert_eq!(response.code(), "validation_failed", "{}", response.text);
    response.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bad_problems_answer_422_with_the_fields_and_store_nothing() {
    let server = TestServer::start_with(options()).await;
    let (tenant, api) = tenant_api(&server, "routing-bad").await;
    let optimize = |problem: Value| {
        let api = api.clone();
        async move {
            api.post(
                "/v1/routing/optimize",
                &json!({"problem": problem, "max_iterations": 10}),
            )
            .await
        }
    };

    let mut unknown = small_problem();
    unknown["jobs"][0]["location"] = json!(99);
    unknown["jobs"][1]["allowed_vehicles"] = json!(["zed"]);
    unknown["vehicles"][1]["start_location"] = json!(42);
    assert_eq!(
        fields(&optimize(unknown).await),
        [
            "problem.vehicles[1].start_location",
            "problem.jobs[0].location",
            "problem.jobs[1].allowed_vehicles[0]"
        ]
    );

    let mut negative = small_problem();
    negative["jobs"][2]["service"] = json!(-5.0);
    assert_eq!(
        fields(&optimize(negative).await),
        ["problem.jobs[2].service"]
    );

    let mut backwards = small_problem();
    backwards["jobs"][1]["time_windows"] = json!([{"start": 60.0, "end": 30.0}]);
    backwards["vehicles"][0]["shift"] = json!({"start": 100.0, "end": 0.0});
    assert_eq!(
        fields(&optimize(backwards).await),
        [
            "problem.vehicles[0].shift",
            "problem.jobs[1].time_windows[0]"
        ]
    );

    let mut empty = small_problem();
    empty["vehicles"] = json!([]);
    assert_eq!(fields(&optimize(empty).await), ["problem.vehicles"]);

    let mut huge = small_problem();
    huge["jobs"] = Value::Array(
        (0..10_000)
            .map(|i| json!({"id": format!("j{i}"), "location": i % 6}))
            .collect(),
    );
    let too_big = optimize(huge).await;
    assert_eq!(fields(&too_big), ["problem.jobs"]);
    assert!(
        too_big.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("10000 jobs exceed the limit of 2000"),
        "{}",
        too_big.text
    );

    // The body's own fields.
    let both = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": small_problem(), "date": "2026-12-07", "time_budget_ms": 0}),
        )
        .await;
    assert_eq!(fields(&both), ["problem", "time_budget_ms"]);
    let typo = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": small_problem(), "budget": 5}),
        )
        .await;
    assert_eq!(fields(&typo), ["budget"]);
    let wrong_type = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": {"locations": [], "travel": {"kind": "euclidean"}, "vehicles": [], "jobs": [{"id": "a", "location": "first"}]}}),
        )
        .await;
    assert_eq!(fields(&wrong_type), ["problem.jobs[0].location"]);

    assert_eq!(plan_count(&server, tenant.id).await, 0, "nothing stored");
}

#[tokio::test]
async fn plans_are_tenant_scoped() {
    let server = TestServer::start_with(options()).await;
    let (_, api_a) = tenant_api(&server, "routing-a").await;
    let (_, api_b) = tenant_api(&server, "routing-b").await;
    let created = api_a
        .post(
            "/v1/routing/optimize",
            &json!({"problem": small_problem(), "max_iterations": 50}),
        )
        .await;
    created.expect_status(201);
    let id = created.json["id"].as_str().unwrap();

    api_b
        .get(&format!("/v1/routing/plans/{id}"))
        .await
        .expect_problem(404, "not_found");
    api_b
        .post(&format!("/v1/routing/plans/{id}/apply"), &json!({}))
        .await
        .expect_problem(404, "not_found");
    api_a
        .get(&format!("/v1/routing/plans/{id}"))
        .await
        .expect_status(200);

    // Listings: A sees its plan (without the routes), B sees none of A's.
    let listed = api_a.get("/v1/routing/plans").await;
    listed.expect_status(200);
    let items = listed.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.json);
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["status"], json!("proposed"));
    assert!(
        items[0].get("routes").is_none(),
        "a listing leaves out the routes"
    );
    assert_eq!(items[0]["summary"], created.json["summary"]);
    let others = api_b.get("/v1/routing/plans").await;
    others.expect_status(200);
    assert_eq!(others.json["items"], json!([]));
    let applied = api_a.get("/v1/routing/plans?status=applied").await;
    assert_eq!(applied.json["items"], json!([]));
    api_a
        .get("/v1/routing/plans?date=2030-02-30")
        .await
        .expect_problem(400, "invalid_query_parameter");
    api_a
        .get("/v1/routing/plans?status=done")
        .await
        .expect_problem(400, "invalid_query_parameter");

    // Without `routing.optimize` (a viewer), the host refuses before the module runs.
    let anonymous = server.anon().get(&format!("/v1/routing/plans/{id}")).await;
    assert_eq!(anonymous.status.as_u16(), 401);
}

/// 150 jobs spread over a 100 x 100 square, 10 vehicles: big enough that the search is still
/// improving after a second.
fn busy_problem() -> Value {
    let mut seed = 12_345u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut locations = vec![json!({"x": 50.0, "y": 50.0})];
    let mut jobs = Vec::new();
    for i in 0..150 {
        locations.push(json!({"x": next() * 100.0, "y": next() * 100.0}));
        let open = next() * 600.0;
        jobs.push(json!({
            "id": format!("j{i}"),
            "location": i + 1,
            "service": 10.0,
            "time_windows": [{"start": open, "end": open + 200.0}],
        }));
    }
    let vehicles: Vec<Value> = (0..10)
        .map(|v| json!({"id": format!("v{v}"), "start_location": 0, "shift": {"start": 0.0, "end": 1000.0}}))
        .collect();
    json!({"locations": locations, "travel": {"kind": "euclidean"}, "vehicles": vehicles, "jobs": jobs})
}

/// Each route as its technician and job ids in order.
fn sequences(routes: impl Iterator<Item = (String, Vec<String>)>) -> Vec<(String, Vec<String>)> {
    routes.collect()
}

#[tokio::test]
async fn the_module_finds_the_native_solvers_plan_for_a_seed() {
    let server = TestServer::start_with(options()).await;
    let (_tenant, api) = tenant_api(&server, "routing-same-plan").await;
    let problem = busy_problem();
    let (seed, iterations) = (7, 3_000);
    let created = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": problem, "seed": seed, "max_iterations": iterations,
                    "time_budget_ms": 20_000}),
        )
        .await;
    created.expect_status(201);
    assert_eq!(
        created.json["search"]["iterations"], iterations,
        "{}",
        created.json["search"]
    );

    let problem: vrptw::Problem = serde_json::from_value(problem).unwrap();
    let native = vrptw::solve(
        &problem,
        &vrptw::SolveOptions {
            seed,
            max_iterations: iterations,
            time_limit_secs: 1e9,
            ..vrptw::SolveOptions::default()
        },
    )
    .unwrap();
    assert_eq!(native.stats.iterations, iterations);

    // Bit for bit: the same random stream and the same arithmetic (transcendental functions
    // come from one portable implementation, not the platform's libm).
    let summary = &created.json["summary"];
    assert_eq!(
        summary["total_distance"].as_f64(),
        Some(native.total_distance)
    );
    let module_routes = created.json["routes"].as_array().unwrap().iter().map(|r| {
        let jobs = r["stops"].as_array().unwrap().iter();
        let ids = jobs.filter_map(|s| s["job_id"].as_str().map(str::to_owned));
        (
            r["technician_id"].as_str().unwrap().to_owned(),
            ids.collect(),
        )
    });
    let native_routes = native.routes.iter().map(|r| {
        let ids = r.stops.iter().filter_map(|s| s.job_id.clone());
        (r.vehicle_id.clone(), ids.collect())
    });
    assert_eq!(sequences(module_routes), sequences(native_routes));
    assert_eq!(summary["unassigned"], native.unassigned.len());
}

#[tokio::test]
async fn a_deadline_shorter_than_the_budget_answers_the_best_plan_in_time() {
    let server = TestServer::start_with(options().args(["--module-max-deadline-ms", "1500"])).await;
    let (tenant, api) = tenant_api(&server, "routing-deadline").await;
    let created = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": busy_problem(), "time_budget_ms": 10_000}),
        )
        .await;
    // A 201 is the answer in time: a module still searching at its deadline is interrupted
    // (503 `module_timeout`). How long the answer took is the machine's, not asserted.
    created.expect_status(201);
    let search = &created.json["search"];
    assert_eq!(search["requested_budget_ms"], 10_000);
    assert_eq!(search["capped_by_deadline"], true, "{search}");
    assert!(search["budget_ms"].as_u64().unwrap() < 1_500, "{search}");
    assert!(search["iterations"].as_u64().unwrap() > 0, "{search}");
    assert_eq!(created.json["summary"]["jobs"], 150);
    assert_eq!(plan_count(&server, tenant.id).await, 1);
}

#[tokio::test]
async fn a_builtin_gets_the_deadline_its_manifest_asks_for_beyond_the_default() {
    // The routing manifest asks for 30 s; the default call deadline is 2 s. A 3 s budget runs
    // to its end (a module held to the default would be cut short or interrupted).
    let server = TestServer::start_with(options()).await;
    let (_, api) = tenant_api(&server, "routing-long").await;
    let created = api
        .post(
            "/v1/routing/optimize",
            &json!({"problem": busy_problem(), "time_budget_ms": 3_000}),
        )
        .await;
    created.expect_status(201);
    let search = &created.json["search"];
    assert_eq!(search["capped_by_deadline"], false, "{search}");
    assert_eq!(search["budget_ms"], 3_000, "{search}");
    assert!(search["elapsed_ms"].as_u64().unwrap() >= 2_900, "{search}");
}
