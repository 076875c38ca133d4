//! The company account end to end (`/v1/account`, the built-in `accounts` module): a new
//! tenant reads its defaults at once; a change at a stale ETag is 412 and changes nothing;
//! every bad field is 422 naming it; a technician reads but may not change it; the logo is
//! served back byte for byte with its type, and non-images, SVG and oversized ones are
//! refused; another tenant neither sees nor changes it; and billing reads it: an invoice
//! drafted after a change takes the new prefix, terms and currency.

use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// A 2x2 RGB PNG, whole and valid.
const PNG: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xd0, 0xaf, 0x35, 0x02,
    0x22, 0x06, 0x08, 0x05, 0x00, 0x18, 0x4a, 0x03, 0x79, 0x04, 0xbc, 0xf5, 0xf1, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// `PATCH /v1/account` with `If-Match: etag`.
async fn patch_if(api: &Api, body: &Value, etag: &str) -> Resp {
    send(
        api.request(Method::PATCH, "/v1/account")
            .header("if-match", etag)
            .json(body),
    )
    .await
}

/// `PUT /v1/account/logo` with `bytes` declared as `content_type`.
async fn put_logo(api: &Api, content_type: &str, bytes: Vec<u8>) -> Resp {
    send(
        api.request(Method::PUT, "/v1/account/logo")
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

#[tokio::test]
async fn a_new_tenant_reads_its_defaults_and_changes_them_at_the_current_etag() {
    let server = server().await;
    let shop = server.scenario(&unique("account-etag")).await;
    let fresh = shop.owner.get("/v1/account").await;
    fresh.expect_status(200);
    assert_eq!(fresh.header("etag"), Some("\"1\""));
    assert_eq!(
        (&fresh.json["currency"], &fresh.json["invoice_prefix"]),
        (&json!("USD"), &json!("INV"))
    );
    assert_eq!(fresh.json["payment_terms_days"], 30);
    assert_eq!(fresh.json["time_zone"], "UTC");
    assert!(!fresh.json["legal_name"].as_str().unwrap().is_empty());

    let change = json!({"legal_name": "Green Acres LLC", "tax_percent_e4": 82_500});
    patch_if(&shop.owner, &change, "\"7\"")
        .await
        .expect_problem(412, "precondition_failed");
    assert_eq!(shop.owner.get("/v1/account").await.json["version"], 1);
    let changed = patch_if(&shop.owner, &change, "\"1\"").await;
    changed.expect_status(200);
    assert_eq!(changed.header("etag"), Some("\"2\""));
    let read = shop.owner.get("/v1/account").await;
    assert_eq!(
        (&read.json["legal_name"], &read.json["tax_percent_e4"]),
        (&json!("Green Acres LLC"), &json!(82_500))
    );
    assert_eq!(read.json["currency"], "USD", "fields not sent stay");
}

#[tokio::test]
async fn each_bad_field_is_refused_naming_it_and_changes_nothing() {
    let server = server().await;
    let shop = server.scenario(&unique("account-bad")).await;
    let closes_early = json!({"fri": [{"open": "17:00", "close": "08:00"}]});
    let overlapping = json!({"mon": [{"open": "08:00", "close": "12:00"},
                                     {"open": "11:00", "close": "15:00"}]});
    let cases = [
        (json!({"time_zone": "Europe/Paris"}), "time_zone"),
        (json!({"currency": "ABC"}), "currency"),
        (json!({"locale": "en_US"}), "locale"),
        (
            json!({"business_hours": closes_early}),
            "business_hours.fri[0].close",
        ),
        (
            json!({"business_hours": overlapping}),
            "business_hours.mon[1]",
        ),
        (
            json!({"business_hours": {"someday": []}}),
            "business_hours.someday",
        ),
        (json!({"brand_color": "#12345g"}), "brand_color"),
        (json!({"invoice_prefix": "A B"}), "invoice_prefix"),
        (json!({"payment_terms_days": 366}), "payment_terms_days"),
        (json!({"tax_percent_e4": 1_000_001}), "tax_percent_e4"),
        (json!({"phone": "call us"}), "phone"),
        (
            json!({"address_lines": ["1", "2", "3", "4", "5", "6", "7"]}),
            "address_lines",
        ),
        (
            json!({"address_lines": ["x".repeat(201)]}),
            "address_lines[0]",
        ),
        (json!({"legal_name": ""}), "legal_name"),
        (json!({"legal_name": null}), "legal_name"),
        (json!({"logo_sha256": "00"}), "logo_sha256"),
    ];
    for (body, field) in cases {
        let refused = shop.owner.patch("/v1/account", &body).await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), [field], "{body}");
    }
    assert_eq!(shop.owner.get("/v1/account").await.json["version"], 1);
}

#[tokio::test]
async fn a_technician_reads_the_account_but_cannot_change_it() {
    let server = server().await;
    let shop = server.scenario(&unique("account-tech")).await;
    let (_, technician) = shop.user("tech@account.test", &["technician"]).await;
    technician.get("/v1/account").await.expect_status(200);
    technician
        .patch("/v1/account", &json!({"legal_name": "Mine now"}))
        .await
        .expect_problem(403, "permission_denied");
    put_logo(&technician, "image/png", PNG.to_vec())
        .await
        .expect_problem(403, "permission_denied");
    assert_eq!(shop.owner.get("/v1/account").await.json["version"], 1);
}

#[tokio::test]
async fn the_logo_is_served_back_and_anything_but_a_small_png_or_jpeg_is_refused() {
    let server = server().await;
    let shop = server.scenario(&unique("account-logo")).await;
    shop.owner
        .get("/v1/account/logo")
        .await
        .expect_problem(404, "not_found");
    let uploaded = put_logo(&shop.owner, "image/png", PNG.to_vec()).await;
    uploaded.expect_status(200);
    assert_eq!(uploaded.json["logo_bytes"], PNG.len());

    let served = shop
        .owner
        .request(Method::GET, "/v1/account/logo")
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let header = |name: &str| served.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let etag = header("etag");
    assert_eq!(
        etag,
        format!("\"{}\"", uploaded.json["logo_sha256"].as_str().unwrap())
    );
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let unchanged = shop
        .owner
        .request(Method::GET, "/v1/account/logo")
        .header("if-none-match", &etag);
    assert_eq!(unchanged.send().await.unwrap().status(), 304);

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    put_logo(&shop.owner, "image/svg+xml", svg)
        .await
        .expect_problem(415, "unsupported_media_type");
    let not_png = put_logo(
        &shop.owner,
        "image/png",
        b"GIF89a not a png at all".to_vec(),
    )
    .await;
    not_png.expect_problem(422, "validation_failed");
    assert_eq!(not_png.error_fields(), ["logo"]);
    let mut huge = PNG.to_vec();
    huge.resize(256 * 1024 + 1, 0);
    put_logo(&shop.owner, "image/png", huge)
        .await
        .expect_problem(413, "payload_too_large");
    assert_eq!(
        shop.owner.get("/v1/account").await.json["logo_bytes"],
        PNG.len()
    );
}

#[tokio::test]
async fn another_tenant_never_sees_or_changes_the_account() {
    let server = server().await;
    let ours = server.scenario(&unique("account-ours")).await;
    let theirs = server.scenario(&unique("account-theirs")).await;
    ours.owner
        .patch(
            "/v1/account",
            &json!({"legal_name": "Ours Inc", "invoice_prefix": "OURS"}),
        )
        .await
        .expect_status(200);
    put_logo(&ours.owner, "image/png", PNG.to_vec())
        .await
        .expect_status(200);

    let seen = theirs.owner.get("/v1/account").await;
    assert_ne!(seen.json["legal_name"], "Ours Inc");
    assert_eq!(
        (&seen.json["invoice_prefix"], &seen.json["version"]),
        (&json!("INV"), &json!(1))
    );
    assert_ne!(
        seen.json["id"],
        ours.owner.get("/v1/account").await.json["id"]
    );
    theirs
        .owner
        .get("/v1/account/logo")
        .await
        .expect_problem(404, "not_found");
    patch_if(&theirs.owner, &json!({"legal_name": "Theirs"}), "\"3\"")
        .await
        .expect_problem(412, "precondition_failed");
    theirs
        .owner
        .delete("/v1/account/logo")
        .await
        .expect_problem(404, "not_found");
    let after = ours.owner.get("/v1/account").await;
    assert_eq!(
        (&after.json["legal_name"], &after.json["version"]),
        (&json!("Ours Inc"), &json!(3))
    );
    ours.owner.get("/v1/account/logo").await.expect_status(200);
}

#[tokio::test]
async fn billing_drafts_and_numbers_invoices_from_the_account() {
    let server = server().await;
    let shop = server.scenario(&unique("account-bill")).await;
    let customer = shop.customer("Green Acres").await;
    let change = json!({"invoice_prefix": "grn", "payment_terms_days": 45, "currency": "EUR"});
    shop.owner
        .patch("/v1/account", &change)
        .await
        .expect_status(200);
    let lines = json!([{"description": "Lawn care", "unit_price_minor": 5_000}]);
    let draft = shop
        .owner
        .post(
            "/v1/billing/invoices",
            &json!({"customer_id": customer, "lines": lines}),
        )
        .await;
    draft.expect_status(201);
    assert_eq!(
        (&draft.json["payment_terms"], &draft.json["currency"]),
        (&json!("net_45"), &json!("EUR"))
    );
    let open = shop
        .owner
        .action(&format!("/v1/billing/invoices/{}/finalize", draft.id()))
        .await;
    open.expect_status(200);
    assert_eq!(open.json["number"], "GRN-000001");
    let issued: chrono::NaiveDate = open.json["issue_date"].as_str().unwrap().parse().unwrap();
    let due: chrono::NaiveDate = open.json["due_date"].as_str().unwrap().parse().unwrap();
    assert_eq!((due - issued).num_days(), 45);

    let moved = shop
        .owner
        .patch("/v1/billing/settings", &json!({"invoice_prefix": "X"}))
        .await;
    moved.expect_problem(422, "validation_failed");
    assert_eq!(moved.error_fields(), ["invoice_prefix"]);
}
