//! `billing.price_lines` (issue 24, item 1) through the real server: a chained point billing
//! runs on a draft invoice's lines before the totals. The sample senior discount takes 10 %
//! off every line of one tenant's senior customers, seen through the normal billing API, and
//! not another tenant's; a surcharge an extension adds is stored marked with its `source`; a
//! hostile extension (endless loop, memory bomb, huge output, output out of schema, a changed
//! currency) leaves the prices as the client sent them, the draft answers 201, and the failure
//! is recorded for that tenant only.

use verofield_tests::*;

const POINT: &str = "billing.price_lines";
const INVOICES: &str = "/v1/billing/invoices";

/// A server with the built-in modules, the sample and the hostile extension uploaded.
async fn server() -> TestServer {
    TestServer::with_sample_and_hostile("senior-discount").await
}

/// A tenant whose owner installed `extensions` at the point, with a customer tagged `senior`.
struct Shop {
    owner: Api,
    senior: String,
}

async fn shop(server: &TestServer, slug: &str, extensions: &[(&str, &str)]) -> Shop {
    let owner = server.scenario(slug).await.owner;
    owner
        .install_extensions(POINT, extensions)
        .await
        .expect_status(200);
    let senior = owner
        .post(
            "/v1/crm/customers",
            &json!({"name": "Edna", "tags": ["senior"]}),
        )
        .await;
    senior.expect_status(201);
    Shop {
        senior: senior.id(),
        owner,
    }
}

/// Lines of 2 x 50.00 USD, one per description.
fn lines(descriptions: &[&str]) -> Value {
    descriptions
        .iter()
        .map(|description| json!({"description": description, "quantity": 2, "unit_price_minor": 5_000}))
        .collect()
}

impl Shop {
    /// A USD draft for the senior customer (asserting 201), read back through the API.
    async fn invoice(&self, descriptions: &[&str]) -> Value {
        let body =
            json!({"customer_id": self.senior, "currency": "USD", "lines": lines(descriptions)});
        let created = self.owner.post(INVOICES, &body).await;
        created.expect_status(201);
        let read = self
            .owner
            .get(&format!("{INVOICES}/{}", created.id()))
            .await;
        read.expect_status(200);
        read.json
    }
}

/// Each line's `(discount_minor, source)`.
fn discounts(invoice: &Value) -> Vec<(i64, Option<&str>)> {
    let lines = invoice["lines"].as_array().unwrap();
    lines
        .iter()
        .map(|line| {
            (
                line["discount_minor"].as_i64().unwrap(),
                line["source"].as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_senior_discount_shows_on_one_tenants_invoice_and_not_anothers() {
    let server = server().await;
    let a = shop(&server, "price-a", &[("senior-discount", "1.0.0")]).await;
    let b = shop(&server, "price-b", &[]).await;

    let invoice = a.invoice(&["Mowing"]).await;
    assert_eq!(discounts(&invoice), [(1_000, None)]);
    assert_eq!(invoice["total_minor"], 9_000);
    // Priced again on a PATCH of the lines: the discount stays 10 %, never 20 %.
    let sent_back = json!({"lines": [{"description": "Mowing", "quantity": 2,
                           "unit_price_minor": 5_000, "discount_minor": 1_000}]});
    let patched = a
        .owner
        .patch(
            &format!("{INVOICES}/{}", invoice["id"].as_str().unwrap()),
            &sent_back,
        )
        .await;
    patched.expect_status(200);
    assert_eq!(patched.json["total_minor"], 9_000);

    let invoice = b.invoice(&["Mowing"]).await;
    assert_eq!(discounts(&invoice), [(0, None)]);
    assert_eq!(invoice["total_minor"], 10_000);
    assert!(b.owner.extension_failure_kinds().await.is_empty());
}

#[tokio::test]
async fn an_added_surcharge_is_stored_marked_with_its_extension() {
    let server = server().await;
    let a = shop(&server, "price-surcharge", &[("ext-hostile", "0.1.0")]).await;
    let invoice = a.invoice(&["surcharge"]).await;
    assert_eq!(discounts(&invoice), [(0, None), (0, Some("ext-hostile"))]);
    assert_eq!(invoice["total_minor"], 10_250);
}

#[tokio::test]
async fn a_hostile_pricer_leaves_prices_unchanged_and_is_reported_to_its_tenant_only() {
    let server = server().await;
    let hostile = [("ext-hostile", "0.1.0")];
    let a = shop(&server, "price-hostile-a", &hostile).await;
    let b = shop(&server, "price-hostile-b", &hostile).await;

    for mode in ["loop", "bomb", "huge", "wrong", "sneaky"] {
        let invoice = a.invoice(&[mode]).await;
        assert_eq!(
            (
                discounts(&invoice),
                &invoice["total_minor"],
                &invoice["currency"]
            ),
            (vec![(0, None)], &json!(10_000), &json!("USD")),
            "{mode}"
        );
    }
    b.invoice(&["Mowing"]).await;
    a.owner
        .expect_extension_failures(&[
            "broke_rule",
            "memory_exceeded",
            "out_of_fuel",
            "out_of_schema",
            "output_too_large",
        ])
        .await;
    assert!(b.owner.extension_failure_kinds().await.is_empty());
}
