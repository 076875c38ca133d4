//! The layouts module end to end: a user's dashboards with ETag concurrency (a stale
//! `If-Match` is 412 and changes nothing), `GET /v1/layouts/mine` falling back from the
//! user's default to their role's to the built-in one, role defaults only for
//! `settings.manage`, private layouts invisible to colleagues, shared ones read-only and
//! copyable, another tenant reaching nothing, and bad widgets refused naming each field.

use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A widget of `metric` at column `x`, row `y`, 6 wide and 2 high.
fn widget(metric: &str, x: i64, y: i64) -> Value {
    json!({"metric": metric, "chart": "line", "x": x, "y": y, "w": 6, "h": 2,
           "filters": {"bucket": "week", "range_days": 90}})
}

fn layout(name: &str) -> Value {
    json!({"name": name, "widgets": [widget("revenue", 0, 0), widget("jobs_completed", 6, 0)]})
}

/// `PUT path` with `If-Match: etag`.
async fn put_if(api: &Api, path: &str, body: &Value, etag: &str) -> Resp {
    send(
        api.request(Method::PUT, path)
            .header("if-match", etag)
            .json(body),
    )
    .await
}

async fn put(api: &Api, path: &str, body: &Value) -> Resp {
    send(api.request(Method::PUT, path).json(body)).await
}

/// Creates a layout as `api`: its path.
async fn create(api: &Api, body: &Value) -> String {
    let created = api.post("/v1/layouts", body).await;
    created.expect_status(201);
    format!("/v1/layouts/{}", created.id())
}

#[tokio::test]
async fn a_users_layout_is_replaced_only_at_its_current_etag() {
    let server = server().await;
    let shop = server.scenario(&unique("layouts-etag")).await;
    let path = create(&shop.owner, &layout("Mine")).await;
    let read = shop.owner.get(&path).await;
    read.expect_status(200);
    assert_eq!(read.header("etag"), Some("\"1\""));
    assert_eq!(read.json["shared_with"], "private");

    let renamed = layout("Renamed");
    put_if(&shop.owner, &path, &renamed, "\"7\"")
        .await
        .expect_problem(412, "precondition_failed");
    assert_eq!(shop.owner.get(&path).await.json["name"], "Mine");
    let replaced = put_if(&shop.owner, &path, &renamed, "\"1\"").await;
    replaced.expect_status(200);
    assert_eq!(replaced.header("etag"), Some("\"2\""));
    assert_eq!(replaced.json["widgets"][1]["metric"], "jobs_completed");

    let stale_delete = send(
        shop.owner
            .request(Method::DELETE, &path)
            .header("if-match", "\"1\""),
    )
    .await;
    stale_delete.expect_problem(412, "precondition_failed");
    let deleted = send(
        shop.owner
            .request(Method::DELETE, &path)
            .header("if-match", "\"2\""),
    )
    .await;
    deleted.expect_status(204);
    shop.owner.get(&path).await.expect_problem(404, "not_found");
}

#[tokio::test]
async fn mine_is_the_users_default_else_the_roles_else_the_builtin() {
    let server = server().await;
    let shop = server.scenario(&unique("layouts-mine")).await;
    let (_, dispatcher) = shop.user("dispatch@layouts.test", &["dispatcher"]).await;

    let builtin = dispatcher.get("/v1/layouts/mine").await;
    builtin.expect_status(200);
    assert_eq!(builtin.json["source"], "builtin");
    let metrics: Vec<&str> = builtin.json["layout"]["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        [
            "jobs_completed",
            "jobs_per_technician_per_day",
            "technician_utilisation",
            "on_time_arrival_rate",
            "cancellation_rate",
            "revenue",
            "average_ticket",
            "mrr"
        ]
    );

    // Only `settings.manage` sets a role's default; a second PUT replaces it.
    put(
        &dispatcher,
        "/v1/layouts/defaults/dispatcher",
        &layout("Dispatch"),
    )
    .await
    .expect_problem(403, "permission_denied");
    let set = put(
        &shop.owner,
        "/v1/layouts/defaults/dispatcher",
        &layout("Dispatch"),
    )
    .await;
    set.expect_status(201);
    put(
        &shop.owner,
        "/v1/layouts/defaults/dispatcher",
        &layout("Dispatch board"),
    )
    .await
    .expect_status(200);
    let by_role = dispatcher.get("/v1/layouts/mine").await;
    assert_eq!(
        (&by_role.json["source"], &by_role.json["layout"]["name"]),
        (&json!("role"), &json!("Dispatch board"))
    );
    // The role's default is read-only to those who hold the role.
    put(
        &dispatcher,
        &format!("/v1/layouts/{}", set.id()),
        &layout("Mine now"),
    )
    .await
    .expect_problem(403, "layout_read_only");

    let mut own = layout("My board");
    own["is_default"] = json!(true);
    create(&dispatcher, &own).await;
    let mine = dispatcher.get("/v1/layouts/mine").await;
    assert_eq!(
        (&mine.json["source"], &mine.json["layout"]["name"]),
        (&json!("own"), &json!("My board"))
    );
    // A second default replaces the first as the user's default.
    own["name"] = json!("Newer board");
    create(&dispatcher, &own).await;
    assert_eq!(
        dispatcher.get("/v1/layouts/mine").await.json["layout"]["name"],
        "Newer board"
    );
}

#[tokio::test]
async fn private_layouts_stay_private_shared_ones_are_read_only_and_tenants_never_meet() {
    let server = server().await;
    let shop = server.scenario(&unique("layouts-share")).await;
    let (_, colleague) = shop.user("colleague@layouts.test", &["dispatcher"]).await;
    let path = create(&shop.owner, &layout("Owner's")).await;

    colleague.get(&path).await.expect_problem(404, "not_found");
    put(&colleague, &path, &layout("Taken"))
        .await
        .expect_problem(404, "not_found");
    colleague
        .post(&format!("{path}/copy"), &json!({}))
        .await
        .expect_problem(404, "not_found");
    assert!(colleague.get("/v1/layouts").await.items().is_empty());

    let mut shared = layout("Owner's");
    shared["shared_with"] = json!("tenant");
    put(&shop.owner, &path, &shared).await.expect_status(200);
    colleague.get(&path).await.expect_status(200);
    put(&colleague, &path, &layout("Taken"))
        .await
        .expect_problem(403, "layout_read_only");
    send(colleague.request(Method::DELETE, &path))
        .await
        .expect_problem(403, "layout_read_only");
    let copy = colleague.post(&format!("{path}/copy"), &json!({})).await;
    copy.expect_status(201);
    assert_eq!(
        (&copy.json["name"], &copy.json["shared_with"]),
        (&json!("Copy of Owner's"), &json!("private"))
    );
    assert_eq!(colleague.get("/v1/layouts").await.items().len(), 2);

    // Another tenant reaches nothing, shared or not.
    let other = server.scenario(&unique("layouts-other")).await;
    other
        .owner
        .get(&path)
        .await
        .expect_problem(404, "not_found");
    other
        .owner
        .post(&format!("{path}/copy"), &json!({}))
        .await
        .expect_problem(404, "not_found");
    put(&other.owner, &path, &layout("Taken"))
        .await
        .expect_problem(404, "not_found");
    assert!(other.owner.get("/v1/layouts").await.items().is_empty());
    assert_eq!(shop.owner.get(&path).await.json["name"], "Owner's");
}

#[tokio::test]
async fn bad_layouts_are_422_naming_each_field() {
    let server = server().await;
    let shop = server.scenario(&unique("layouts-bad")).await;
    let mut wide = widget("mrr", 8, 0);
    wide["chart"] = json!("radar");
    let mut narrowed = widget("speed", 0, 4);
    narrowed["filters"] = json!({"technician_id": "7", "bucket": "hour"});
    let mut money = widget("revenue", 0, 8);
    money["filters"] = json!({"service_type_id": "0190a000-0000-7000-8000-000000000000"});
    let body = json!({"name": "", "shared_with": "world",
                      "widgets": [widget("revenue", 0, 0), wide, narrowed, money]});
    let refused = shop.owner.post("/v1/layouts", &body).await;
    refused.expect_problem(422, "validation_failed");
    assert_eq!(
        refused.error_fields(),
        [
            "name",
            "shared_with",
            "widgets[1].chart",
            "widgets[1].w",
            "widgets[2].metric",
            "widgets[2].filters.bucket",
            "widgets[2].filters.technician_id",
            "widgets[3].filters.service_type_id",
        ]
    );
    let many: Vec<Value> = (0..51).map(|i| widget("revenue", 0, i * 2)).collect();
    let too_many = shop
        .owner
        .post("/v1/layouts", &json!({"name": "Big", "widgets": many}))
        .await;
    assert_eq!(too_many.error_fields(), ["widgets"]);
    put(
        &shop.owner,
        "/v1/layouts/defaults/Not%20a%20role",
        &layout("X"),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(
        shop.owner.get("/v1/layouts").await.items().is_empty(),
        "nothing was written"
    );
}
