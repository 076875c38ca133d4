//! `crm.customer_defaults` (issue 24, item 1) through the real server: a chained point. The
//! sample extension tags a customer created without tags with its kind, for the tenant that
//! installed it and no other; a member the client sent is never replaced; each extension of
//! the chain sees the previous one's output; a hostile extension (endless loop, memory bomb,
//! huge output, output out of schema) leaves the customer as the client sent it, the create
//! answers 201, and the failure is recorded for that tenant only.

use verofield_tests::*;

const POINT: &str = "crm.customer_defaults";
const CUSTOMERS: &str = "/v1/crm/customers";

/// A server with the built-in modules and both extensions uploaded.
async fn server() -> TestServer {
    TestServer::with_extensions(&[
        sample_extension("customer-defaults"),
        fixture_component("ext-hostile"),
    ])
    .await
}

/// A tenant whose owner installed `extensions` (in order) at the point.
async fn tenant(server: &TestServer, slug: &str, extensions: &[(&str, &str)]) -> Api {
    let owner = server.scenario(slug).await.owner;
    owner
        .install_extensions(POINT, extensions)
        .await
        .expect_status(200);
    owner
}

/// Creates a customer (asserting 201) and reads it back through the API.
async fn created(owner: &Api, body: Value) -> Value {
    let customer = owner.post(CUSTOMERS, &body).await;
    customer.expect_status(201);
    let read = owner.get(&format!("{CUSTOMERS}/{}", customer.id())).await;
    read.expect_status(200);
    read.json
}

#[tokio::test]
async fn one_tenants_defaults_fill_its_customers_and_not_anothers() {
    let server = server().await;
    let a = tenant(&server, "defaults-a", &[("customer-defaults", "1.0.0")]).await;
    let b = tenant(&server, "defaults-b", &[]).await;

    let ann = created(&a, json!({"name": "Ann"})).await;
    assert_eq!(ann["tags"], json!(["residential"]));
    let shop = created(&a, json!({"name": "Shop", "kind": "commercial"})).await;
    assert_eq!(shop["tags"], json!(["commercial"]));
    let sent = created(&a, json!({"name": "Bo", "tags": []})).await;
    assert_eq!(sent["tags"], json!([]));

    let bob = created(&b, json!({"name": "Bob"})).await;
    assert_eq!(bob["tags"], json!([]));
    assert!(b.extension_failure_kinds().await.is_empty());
}

#[tokio::test]
async fn each_extension_of_the_chain_sees_the_previous_ones_output() {
    let server = server().await;
    let chain = [("ext-hostile", "0.1.0"), ("customer-defaults", "1.0.0")];
    let a = tenant(&server, "defaults-chain", &chain).await;
    let customer = created(&a, json!({"name": "Ann", "notes": "commercial"})).await;
    assert_eq!(
        (&customer["kind"], &customer["tags"]),
        (&json!("commercial"), &json!(["commercial"]))
    );
}

#[tokio::test]
async fn a_hostile_default_leaves_the_customer_as_sent_and_is_reported_to_its_tenant_only() {
    let server = server().await;
    let chain = [("ext-hostile", "0.1.0"), ("customer-defaults", "1.0.0")];
    let a = tenant(&server, "defaults-hostile-a", &chain).await;
    let b = tenant(&server, "defaults-hostile-b", &chain).await;

    for notes in ["loop", "bomb", "huge", "wrong"] {
        let customer = created(&a, json!({"name": "Ann", "notes": notes})).await;
        // The failed link changed nothing; the next one still ran on the client's body.
        assert_eq!(
            (&customer["kind"], &customer["tags"], &customer["notes"]),
            (
                &json!("residential"),
                &json!(["residential"]),
                &json!(notes)
            )
        );
    }
    let expected = [
        "memory_exceeded",
        "out_of_fuel",
        "out_of_schema",
        "output_too_large",
    ];
    eventually("every failure to be recorded", async || {
        (a.extension_failure_kinds().await == expected).then_some(())
    })
    .await;
    assert!(b.extension_failure_kinds().await.is_empty());
}
