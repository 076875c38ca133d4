//! Event delivery end to end: the real server's dispatcher hands committed outbox events to a
//! subscribing module (the `event-sink` fixture tags each customer it hears of, so a test
//! counts the deliveries that took effect) and to webhook endpoints (a local receiver), with
//! retries, dead letters, redelivery, the polling feed, several hosts on one database, a host
//! killed mid-stream, and tenants that never see each other's events.

use std::collections::HashMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use verofield_tests::*;

const FEED: &str = "/v1/events";
const ENDPOINTS: &str = "/v1/webhooks/endpoints";

/// The built-in modules, and events delivered within moments.
fn options() -> ServerOptions {
    ServerOptions::new().with_builtin_modules().quick_events()
}

/// Each customer of the tenant with the `seen:<event>` tags the sink gave it.
async fn seen(server: &TestServer, tenant: &TenantFixture) -> HashMap<String, Vec<String>> {
    let mut db = server.db().await;
    let mut tx = as_app_role(
        &mut db,
        &format!("SET LOCAL app.tenant_id = '{}'", tenant.id),
    )
    .await;
    let rows: Vec<(uuid::Uuid, Vec<String>)> =
        sqlx::query_as("SELECT id, tags FROM store.crm_customers")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(id, tags)| {
            let seen = tags
                .into_iter()
                .filter(|t| t.starts_with("seen:"))
                .collect();
            (id.to_string(), seen)
        })
        .collect()
}

/// Waits until every customer of the tenant was seen, then asserts each exactly once.
async fn assert_each_seen_once(server: &TestServer, tenant: &TenantFixture, customers: usize) {
    let seen = eventually("every customer seen", || async {
        let seen = seen(server, tenant).await;
        let done = seen.len() == customers && seen.values().all(|tags| !tags.is_empty());
        done.then_some(seen)
    })
    .await;
    for (customer, tags) in &seen {
        assert_eq!(tags.len(), 1, "customer {customer} was seen {tags:?}");
    }
}

/// The tenant's deliveries: (subscriber, state, attempts, last_error) by event id.
async fn deliveries(
    server: &TestServer,
    tenant: &TenantFixture,
) -> Vec<(String, String, i32, Option<String>)> {
    let mut db = server.db().await;
    let mut tx = as_app_role(
        &mut db,
        &format!("SET LOCAL app.tenant_id = '{}'", tenant.id),
    )
    .await;
    sqlx::query_as(
        "SELECT subscriber, state, attempts, last_error FROM event_deliveries ORDER BY event_id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_subscriber_takes_each_committed_event_once_and_a_rolled_back_one_never() {
    let server = TestServer::start_with(options()).await;
    let shop = server.sink_tenant(&unique("sink")).await;
    for n in 0..20 {
        shop.customer(&format!("customer {n}")).await;
    }
    // Refused by the CRM (no name): rolled back, so no event either.
    shop.owner
        .post("/v1/crm/customers", &json!({"email": "x@example.com"}))
        .await
        .expect_status(422);
    assert_each_seen_once(&server, &shop.tenant, 20).await;
    let feed = shop.owner.get(&format!("{FEED}?limit=200")).await;
    feed.expect_status(200);
    assert_eq!(feed.items().len(), 20, "{:?}", feed.json);
    let delivered = deliveries(&server, &shop.tenant).await;
    assert_eq!(delivered.len(), 20);
    assert!(delivered.iter().all(|(s, state, attempts, _)| {
        s == "module:sink" && state == "delivered" && *attempts == 1
    }));
}

/// A call that outlasts the event lease (3 s here) keeps its delivery: the lease is extended
/// to cover the module's deadline, so no second attempt starts beside the first.
#[tokio::test]
async fn a_call_longer_than_the_lease_is_attempted_once() {
    let options = options().args(["--module-deadline-ms", "8000"]);
    let server = TestServer::start_with(options).await;
    let shop = server.sink_tenant(&unique("slow")).await;
    shop.customer("slow one").await;
    assert_each_seen_once(&server, &shop.tenant, 1).await;
    let delivered = deliveries(&server, &shop.tenant).await;
    let states: Vec<_> = delivered.iter().map(|d| (d.1.as_str(), d.2)).collect();
    assert_eq!(states, [("delivered", 1)], "{delivered:?}");
}

#[tokio::test]
async fn a_refusing_subscriber_retries_then_dies_without_holding_up_others() {
    let options = options().args(["--event-max-attempts", "3"]);
    let server = TestServer::start_with(options).await;
    let shop = server.sink_tenant(&unique("refuse")).await;
    shop.customer("reject me").await;
    shop.customer("trap me").await;
    for n in 0..5 {
        shop.customer(&format!("fine {n}")).await;
    }
    let dead = eventually("both bad deliveries dead", || async {
        let all = deliveries(&server, &shop.tenant).await;
        let dead: Vec<_> = all.iter().filter(|d| d.1 == "dead").cloned().collect();
        let delivered = all.iter().filter(|d| d.1 == "delivered").count();
        (dead.len() == 2 && delivered == 5).then_some(dead)
    })
    .await;
    for (_, _, attempts, error) in &dead {
        assert_eq!(*attempts, 3);
        assert!(error.is_some());
    }
    let errors: Vec<String> = dead.into_iter().filter_map(|d| d.3).collect();
    assert!(
        errors.iter().any(|e| e.contains("refusing reject me")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn tenants_never_see_each_others_events() {
    let server = TestServer::start_with(options().local_outbound()).await;
    let a = server.sink_tenant(&unique("tenant-a")).await;
    let b = server.sink_tenant(&unique("tenant-b")).await;
    let receiver = Receiver::start();
    b.create(ENDPOINTS, &json!({"url": receiver.url("/b")}))
        .await;
    for n in 0..5 {
        a.customer(&format!("a {n}")).await;
    }
    assert_each_seen_once(&server, &a.tenant, 5).await;
    let a_feed = a.owner.get(FEED).await;
    assert_eq!(a_feed.items().len(), 5);
    let a_event = a_feed.items()[0]["id"].as_str().unwrap().to_owned();

    assert!(seen(&server, &b.tenant).await.is_empty());
    assert!(deliveries(&server, &b.tenant).await.is_empty());
    b.owner.get(FEED).await.expect_status(200);
    assert!(b.owner.get(FEED).await.items().is_empty());
    assert!(receiver.received().is_empty());
    // B's endpoint cannot be made to replay A's event.
    let b_endpoint = b.owner.get(ENDPOINTS).await.items()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.owner
        .post(
            &format!("{ENDPOINTS}/{b_endpoint}/deliveries/{a_event}/redeliver"),
            &json!({}),
        )
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn the_feed_continues_from_its_cursor_and_filters_types() {
    let server = TestServer::start_with(options()).await;
    let shop = server.scenario(&unique("feed")).await;
    let first = shop.customer("first").await;
    let page = eventually("the first event in the feed", || async {
        let page = shop.owner.get(FEED).await;
        (page.items().len() == 1).then_some(page)
    })
    .await;
    assert_eq!(page.items()[0]["type"], "customer.created");
    assert_eq!(page.items()[0]["data"]["id"], first.as_str());
    let cursor = page.json["next_cursor"].as_str().unwrap().to_owned();
    // Nothing new: the same cursor comes back.
    let again = shop.owner.get(&format!("{FEED}?after={cursor}")).await;
    assert!(again.items().is_empty());
    assert_eq!(again.json["next_cursor"], cursor.as_str());

    shop.owner
        .patch(
            &format!("/v1/crm/customers/{first}"),
            &json!({"notes": "x"}),
        )
        .await;
    shop.customer("second").await;
    let newer = eventually("two more events", || async {
        let page = shop.owner.get(&format!("{FEED}?after={cursor}")).await;
        (page.items().len() == 2).then_some(page)
    })
    .await;
    let types: Vec<&str> = newer
        .items()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["customer.updated", "customer.created"]);
    let created = shop
        .owner
        .get(&format!("{FEED}?types=customer.created"))
        .await;
    assert_eq!(created.items().len(), 2);
    let all = shop.owner.get(&format!("{FEED}?types=customer.*")).await;
    assert_eq!(all.items().len(), 3);
    shop.owner
        .get(&format!("{FEED}?types=*"))
        .await
        .expect_problem(400, "invalid_query_parameter");
    shop.owner
        .get(&format!("{FEED}?after=nonsense"))
        .await
        .expect_problem(400, "invalid_cursor");
    let (_, viewer) = shop
        .user(&format!("{}@example.com", unique("viewer")), &["viewer"])
        .await;
    viewer
        .get(FEED)
        .await
        .expect_problem(403, "permission_denied");
}

#[tokio::test]
async fn a_webhook_is_retried_until_the_receiver_recovers_and_can_be_redelivered() {
    let server = TestServer::start_with(options().local_outbound()).await;
    let shop = server.scenario(&unique("hooks")).await;
    let receiver = Receiver::start();
    receiver.answer_next(std::iter::repeat_n(Answer::Status(500), 5));
    let endpoint = shop
        .create(
            ENDPOINTS,
            &json!({"url": receiver.url("/hook"), "event_types": ["customer.*"]}),
        )
        .await;
    let secret = endpoint.json["secret"].as_str().unwrap().to_owned();
    let id = endpoint.id();
    let customer = shop.customer("hooked").await;
    let received = eventually("six attempts", || async {
        let received = receiver.received();
        (received.len() >= 6).then_some(received)
    })
    .await;
    assert_eq!(received.len(), 6);
    let event_id = received[0].header("webhook-id").to_owned();
    for request in &received {
        assert!(request.signed_with(&secret));
        assert_eq!(request.header("webhook-id"), event_id);
        assert_eq!(request.json()["data"]["id"], customer.as_str());
    }
    let log = eventually("six logged attempts", || async {
        let log = shop
            .owner
            .get(&format!("{ENDPOINTS}/{id}/deliveries"))
            .await;
        (log.items().len() == 6).then_some(log)
    })
    .await;
    let codes: Vec<i64> = log
        .items()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [200, 500, 500, 500, 500, 500]);
    let attempts: Vec<i64> = log
        .items()
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [6, 5, 4, 3, 2, 1]);

    shop.owner
        .post(
            &format!("{ENDPOINTS}/{id}/deliveries/{event_id}/redeliver"),
            &json!({}),
        )
        .await
        .expect_status(202);
    eventually("the redelivery", || async {
        (receiver.received().len() == 7).then_some(())
    })
    .await;
    assert_eq!(receiver.received()[6].header("webhook-id"), event_id);
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another_endpoint() {
    let server = TestServer::start_with(options().local_outbound()).await;
    let shop = server.scenario(&unique("slow")).await;
    let slow = Receiver::start();
    slow.answer(Answer::Sleep(Duration::from_secs(8)));
    let fast = Receiver::start();
    let slow_id = shop
        .create(ENDPOINTS, &json!({"url": slow.url("/slow")}))
        .await
        .id();
    shop.create(ENDPOINTS, &json!({"url": fast.url("/fast")}))
        .await;
    for n in 0..3 {
        shop.customer(&format!("c {n}")).await;
    }
    eventually("the fast endpoint's three events", || async {
        (fast.received().len() == 3).then_some(())
    })
    .await;
    // The slow receiver is still sitting on its first request: nothing of it is logged yet.
    assert!(slow.received().len() <= 3);
    let log = shop
        .owner
        .get(&format!("{ENDPOINTS}/{slow_id}/deliveries"))
        .await;
    assert!(log.items().is_empty(), "{:?}", log.json);
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_the_tenant_told() {
    let options = options()
        .local_outbound()
        .args(["--webhook-retry-window-secs", "1"]);
    let server = TestServer::start_with(options).await;
    let shop = server.scenario(&unique("failing")).await;
    let receiver = Receiver::start();
    receiver.answer(Answer::Status(503));
    let id = shop
        .create(
            ENDPOINTS,
            &json!({"url": receiver.url("/down"), "event_types": ["customer.created"]}),
        )
        .await
        .id();
    shop.customer("never arrives").await;
    let endpoint = eventually("the endpoint disabled", || async {
        let endpoint = shop.owner.get(&format!("{ENDPOINTS}/{id}")).await;
        (endpoint.json["enabled"] == false).then_some(endpoint)
    })
    .await;
    assert!(endpoint.json["disabled_reason"].is_string());
    let told = eventually("the endpoint_disabled event", || async {
        let feed = shop
            .owner
            .get(&format!("{FEED}?types=webhook.endpoint_disabled"))
            .await;
        (feed.items().len() == 1).then_some(feed)
    })
    .await;
    assert_eq!(told.items()[0]["data"]["endpoint_id"], id.as_str());
}

#[tokio::test]
async fn events_committed_on_a_host_that_died_are_delivered_by_another() {
    let mut first = TestServer::start_with(
        ServerOptions::new()
            .with_builtin_modules()
            .args(["--no-event-dispatch"]),
    )
    .await;
    let shop = first.sink_tenant(&unique("orphan")).await;
    let tenant = shop.tenant.clone();
    for n in 0..10 {
        shop.customer(&format!("orphan {n}")).await;
    }
    // Committed, never dispatched by this host; another host starts after it died.
    drop(shop);
    first.signal(Signal::SIGKILL);
    first.wait_exit(Duration::from_secs(10)).await;
    let second = TestServer::start_with(options().beside(&first)).await;
    assert_each_seen_once(&first, &tenant, 10).await;
    drop(second);
}

/// Creates customer `n` of each request as `tenant n % tenants` through `hosts[n % hosts]`,
/// 16 requests at a time.
async fn create_customers(hosts: &[&TestServer], tokens: &[String], range: std::ops::Range<usize>) {
    let mut running = tokio::task::JoinSet::new();
    for n in range {
        if running.len() >= 16 {
            running.join_next().await.unwrap().unwrap();
        }
        let api = hosts[n % hosts.len()].client_for(&tokens[n % tokens.len()]);
        running.spawn(async move {
            api.post("/v1/crm/customers", &json!({"name": format!("c{n}")}))
                .await
                .expect_status(201);
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
}

/// The proof: three hosts on one database, 10,000 events from 50 tenants, each taken
/// by the subscriber exactly once in effect, with one host SIGKILLed halfway.
#[tokio::test]
async fn three_hosts_deliver_ten_thousand_events_once_each_with_one_killed() {
    const TENANTS: usize = 50;
    const EVENTS: usize = 10_000;
    let first = TestServer::start_with(options()).await;
    let second = TestServer::start_with(options().beside(&first)).await;
    let mut third = TestServer::start_with(options().beside(&first)).await;
    let mut shops = Vec::new();
    for n in 0..TENANTS {
        shops.push(first.scenario(&unique(&format!("many{n}"))).await);
    }
    let slugs: Vec<&str> = shops.iter().map(|s| s.tenant.slug.as_str()).collect();
    let digest = first
        .publish_module(&fixture_component("event-sink"), &slugs)
        .await;
    let mut tokens = Vec::new();
    for shop in &shops {
        bind(&shop.owner, "sink", &digest).await;
        tokens.push(first.login_owner(&shop.tenant).await.access);
    }
    create_customers(&[&first, &second, &third], &tokens, 0..EVENTS / 2).await;
    third.signal(Signal::SIGKILL);
    third.wait_exit(Duration::from_secs(10)).await;
    create_customers(&[&first, &second], &tokens, EVENTS / 2..EVENTS).await;
    for shop in &shops {
        assert_each_seen_once(&first, &shop.tenant, EVENTS / TENANTS).await;
    }
}
