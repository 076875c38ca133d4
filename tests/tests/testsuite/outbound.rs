//! Outbound HTTP for modules (issue 23 item 7): the `outbound-probe` fixture sends the request
//! each test gives it through the host's `http` import, against a local [`Receiver`]. The
//! suite's host names are pinned with `--outbound-resolve` (`partner.test` to 127.0.0.1, and
//! names standing for the metadata, a private and the IPv6 loopback address), so every check
//! below is the real client's. Checked: a listed host is reached and a host off the list is
//! refused before any network; metadata, private and loopback addresses are refused even for
//! listed names; the call's deadline cuts a slow remote; a call sends at most 20 requests;
//! bodies are capped and redirects not followed; a module without the grant fails its call;
//! consent shows the hosts and an upgrade adding one asks again; another tenant cannot reach
//! the module.

use std::time::Duration;

use verofield_tests::*;

const FETCH: &str = "/v1/outbound-probe/fetch";
/// Every name the suite uses, and the address each stands for.
const RESOLVE: &str = "partner.test=127.0.0.1,eu.partner.test=127.0.0.1,\
    other.test=127.0.0.1,metadata.test=169.254.169.254,intranet.test=10.0.0.1,\
    loopback6.test=::1";

/// A server whose outbound client may reach 127.0.0.0/8 over http (the receiver), or not.
async fn start(loopback_allowed: bool) -> TestServer {
    let options = ServerOptions::new().args(["--outbound-resolve", RESOLVE]);
    let options = if loopback_allowed {
        options.local_outbound()
    } else {
        options.args(["--outbound-allow-http"])
    };
    TestServer::start_with(options).await
}

/// A tenant with `probe` bound (consent accepted), and a second tenant it was shared with
/// that bound nothing.
async fn tenants<'s>(server: &'s TestServer, probe: &str) -> (Scenario<'s>, Scenario<'s>) {
    let (a, b) = (unique("outa"), unique("outb"));
    let (shop_a, shop_b) = (server.scenario(&a).await, server.scenario(&b).await);
    let digest = server
        .publish_module(&fixture_component(probe), &[&a, &b])
        .await;
    bind(&shop_a.owner, probe, &digest).await;
    (shop_a, shop_b)
}

/// One probe request; the typed result as `{"ok": ...}` or `{"error": {"kind", ...}}`.
async fn fetch(api: &Api, request: Value) -> Value {
    let answer = api.post(FETCH, &request).await;
    answer.expect_status(200);
    answer.json
}

/// `url` on the receiver's port under another host name.
fn at(receiver: &Receiver, host: &str, path: &str) -> String {
    receiver.url(path).replace("127.0.0.1", host)
}

#[tokio::test]
async fn a_listed_host_is_reached_and_its_answer_returned() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    let url = at(&receiver, "partner.test", "/rates");
    let answer = fetch(
        &shop.owner,
        json!({"method": "POST", "url": url, "headers": [["x-partner", "7"]], "body": "hi"}),
    )
    .await;
    assert_eq!(answer["ok"]["status"], 200, "{answer}");
    let wildcard = fetch(
        &shop.owner,
        json!({"url": at(&receiver, "eu.partner.test", "/eu")}),
    )
    .await;
    assert_eq!(wildcard["ok"]["status"], 200, "{wildcard}");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].path, "/rates");
    assert_eq!(received[0].header("x-partner"), "7");
    assert_eq!(received[0].body, b"hi");
    let metrics = server.anon().get("/metrics").await.text;
    let answered =
        r#"module_outbound_requests_total{module="outbound-probe",outcome="answered"} 2"#;
    assert!(metrics.lines().any(|line| line == answered), "{metrics}");
    let logged = server.stderr();
    assert!(logged.contains("module outbound request") && logged.contains("partner.test"));
}

#[tokio::test]
async fn a_host_off_the_list_is_refused_without_any_request() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    for url in [
        at(&receiver, "other.test", "/"),
        at(&receiver, "a.eu.partner.test", "/"),
        receiver.url("/"),
    ] {
        let answer = fetch(&shop.owner, json!({ "url": url })).await;
        assert_eq!(
            answer["error"]["kind"], "host-not-allowed",
            "{url}: {answer}"
        );
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn metadata_private_and_loopback_addresses_are_refused_even_when_listed() {
    let server = start(false).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    for host in [
        "metadata.test",
        "intranet.test",
        "loopback6.test",
        "partner.test",
    ] {
        let answer = fetch(&shop.owner, json!({ "url": at(&receiver, host, "/") })).await;
        assert_eq!(
            answer["error"]["kind"], "refused-address",
            "{host}: {answer}"
        );
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_slow_remote_is_cut_by_the_calls_deadline() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    receiver.answer(Answer::Sleep(Duration::from_secs(6)));
    let answer = fetch(
        &shop.owner,
        json!({"url": at(&receiver, "partner.test", "/")}),
    )
    .await;
    // The remote sleeps past the call's 2 s deadline; had the host waited for it, the
    // deadline would have killed the module (503) instead of the module answering this.
    assert_eq!(answer["error"]["kind"], "timeout", "{answer}");
}

#[tokio::test]
async fn a_call_sends_at_most_twenty_requests_and_reads_64_kib() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    let url = at(&receiver, "partner.test", "/");
    let answer = fetch(&shop.owner, json!({"url": url, "repeat": 21})).await;
    assert_eq!(answer["error"]["kind"], "limit-exceeded", "{answer}");
    assert_eq!(answer["error"]["sent"], 20);
    assert_eq!(receiver.received().len(), 20);

    receiver.answer(Answer::HugeBody(1024 * 1024));
    let answer = fetch(&shop.owner, json!({ "url": url })).await;
    assert_eq!(answer["error"]["kind"], "too-large", "{answer}");
    receiver.answer(Answer::Redirect("/elsewhere".into()));
    let answer = fetch(&shop.owner, json!({ "url": url })).await;
    assert_eq!(answer["ok"]["status"], 302, "not followed: {answer}");
    assert_eq!(receiver.received().last().unwrap().path, "/");
}

#[tokio::test]
async fn a_module_without_the_grant_fails_its_call() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-ungranted").await;
    let receiver = Receiver::start();
    let url = at(&receiver, "partner.test", "/");
    let answer = shop
        .owner
        .post("/v1/outbound-ungranted/fetch", &json!({ "url": url }))
        .await;
    answer.expect_status(500);
    assert_eq!(answer.code(), "module_not_granted", "{}", answer.text);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn consent_shows_the_hosts_and_an_upgrade_adding_one_asks_again() {
    let server = start(true).await;
    let (shop, _) = tenants(&server, "outbound-probe").await;
    let grants = grants_of(&shop.owner, "outbound-probe", "0.1.0").await;
    assert_eq!(
        grants["outbound_hosts"],
        json!([
            "*.partner.test",
            "intranet.test",
            "loopback6.test",
            "metadata.test",
            "partner.test"
        ]),
        "{grants:#}"
    );
    assert_eq!(grants["capabilities"], json!(["http"]));
    let slug = &shop.tenant.slug;
    server
        .publish_module(&fixture_component("outbound-probe-v2"), &[slug])
        .await;
    let upgrade = json!({"version": "outbound-probe@0.2.0"});
    let refused = bind_with(&shop.owner, "outbound-probe", &upgrade).await;
    assert_eq!(refused.code(), "consent_required", "{}", refused.text);
    let asked = &refused.json["grants"]["outbound_hosts"];
    assert!(
        asked.as_array().unwrap().contains(&json!("extra.test")),
        "{asked}"
    );
    consent_and_bind(&shop.owner, "outbound-probe", "outbound-probe", "0.2.0").await;
}

#[tokio::test]
async fn another_tenant_cannot_reach_the_module_or_its_hosts() {
    let server = start(true).await;
    let (_, other) = tenants(&server, "outbound-probe").await;
    let receiver = Receiver::start();
    let url = at(&receiver, "partner.test", "/");
    let answer = other.owner.post(FETCH, &json!({ "url": url })).await;
    answer.expect_status(404);
    assert!(receiver.received().is_empty());
}
