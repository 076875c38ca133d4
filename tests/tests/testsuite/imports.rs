//! CSV import and export (issue 25 item 6) through the real server and the built-in modules:
//! a dry run names every bad row with its line and column, the commit creates the rest once,
//! a re-import creates nothing new, exports import again, hostile files are refused or
//! reported row by row, and another tenant reaches none of it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use verofield_tests::*;

const IMPORTS: &str = "/v1/imports";
const CUSTOMERS: &str = "/v1/crm/customers";

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// `POST /v1/imports?{query}` with `csv` as `text/csv`.
async fn import(api: &Api, query: &str, csv: &str) -> Resp {
    let request = api
        .request(Method::POST, &format!("{IMPORTS}?{query}"))
        .header("content-type", "text/csv")
        .body(csv.to_owned());
    send(request).await
}

/// Starts an import and waits until its job ends; the finished job.
async fn finished(api: &Api, query: &str, csv: &str) -> Value {
    let started = import(api, query, csv).await;
    started.expect_status(202);
    wait_for(api, &started.id()).await
}

/// Polls the job until it is no longer running. A hang detector, not a timing: it fails only
/// when the job makes no progress for two minutes.
async fn wait_for(api: &Api, id: &str) -> Value {
    let (mut seen, mut since) = (-1, Instant::now());
    loop {
        let job = api.get(&format!("{IMPORTS}/{id}")).await;
        job.expect_status(200);
        if job.json["status"] != "running" {
            return job.json;
        }
        let done = job.json["rows_done"].as_i64().unwrap();
        if done != seen {
            (seen, since) = (done, Instant::now());
        }
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "import {id} stalled at {done}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The job's counts as `[created, updated, unchanged, failed]`.
fn counts(job: &Value) -> [i64; 4] {
    ["created", "updated", "unchanged", "failed"].map(|key| job[key].as_i64().unwrap())
}

/// The (line, column) of every error of a job.
fn errors(job: &Value) -> BTreeSet<(u64, String)> {
    job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A deterministic generator (xorshift), so a failing file can be made again.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const CUSTOMER_HEADER: &str = "external_id,name,kind,email,phone,tags,location.line1,\
                               location.city,location.region,location.postal_code,\
                               location.latitude,location.longitude";

/// The ways a generated row is made bad, each with the column its error names.
const FLAWS: [&str; 5] = ["email", "location.latitude", "name", "external_id", "kind"];

/// A customer file of `rows` rows around Austin; every 200th row (from the 8th) is bad in
/// one of [`FLAWS`] ways, in turn. Answers the file and each bad row's (line, column).
fn customer_csv(rows: usize, seed: u64) -> (String, BTreeSet<(u64, String)>) {
    let mut random = Seeded(seed);
    let mut csv = format!("{CUSTOMER_HEADER}\r\n");
    let mut bad = BTreeSet::new();
    for i in 0..rows {
        let flaw = (i % 200 == 7).then(|| FLAWS[(i / 200) % FLAWS.len()]);
        let mut cells = [
            format!("C-{i:05}"),
            format!(
                "\"Customer {i}, {}\"",
                ["Lawn", "Pest", "Pool"][random.below(3) as usize]
            ),
            ["residential", "commercial"][random.below(2) as usize].to_owned(),
            format!("c{i}@example.com"),
            format!("+1 512 555 {:04}", random.below(10_000)),
            "lawn; weekly".to_owned(),
            format!("{} Congress Ave", 100 + random.below(900)),
            "Austin".to_owned(),
            "TX".to_owned(),
            format!("787{:02}", random.below(50)),
            format!("{:.5}", 30.1 + random.below(30_000) as f64 / 100_000.0),
            format!("{:.5}", -97.9 + random.below(30_000) as f64 / 100_000.0),
        ];
        if let Some(flaw) = flaw {
            match flaw {
                "email" => cells[3] = "not-an-email".into(),
                "location.latitude" => cells[10] = "123.5".into(),
                "name" => cells[1] = String::new(),
                "external_id" => cells[0] = String::new(),
                _ => cells[2] = "alien".into(),
            }
            bad.insert((i as u64 + 2, flaw.to_owned()));
        }
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    (csv, bad)
}

#[tokio::test]
async fn a_small_customer_file_dry_runs_commits_and_reimports_as_unchanged() {
    let server = server().await;
    let a = server.scenario("imp-small").await;
    let (csv, bad) = customer_csv(300, 7);
    let started = Instant::now();
    let dry = finished(&a.owner, "kind=customers&dry_run=true", &csv).await;
    eprintln!("dry run of 300 rows: {:?}", started.elapsed());
    assert_eq!(errors(&dry), bad, "{dry}");
    assert_eq!(counts(&dry), [298, 0, 0, 2]);
    assert_eq!(a.owner.every_item(CUSTOMERS).await.len(), 0);
    let started = Instant::now();
    let committed = finished(&a.owner, "kind=customers", &csv).await;
    eprintln!("commit of 300 rows: {:?}", started.elapsed());
    assert_eq!(counts(&committed), [298, 0, 0, 2]);
    let again = finished(&a.owner, "kind=customers", &csv).await;
    assert_eq!(counts(&again), [0, 0, 298, 2]);
    assert_eq!(a.owner.every_item(CUSTOMERS).await.len(), 298);
}

/// Issue 25's must-show: 10,000 customers, 50 of them bad. Ignored in the ordinary run: its
/// dry run alone took 475 s (21 rows/s) on the debug build on this shared 2-core machine
/// (load 20); the 300-row test above runs the same steps. Run it with
/// `cargo test -p verofield-tests --test testsuite imports::ten_thousand -- --ignored`.
#[tokio::test]
#[ignore = "about 16 minutes on a loaded debug build; run with --ignored"]
async fn ten_thousand_customers_with_fifty_bad_dry_run_commit_once_and_reimport_as_nothing_new() {
    let server = server().await;
    let a = server.scenario("imp-10k").await;
    let (csv, bad) = customer_csv(10_000, 25);
    assert_eq!(bad.len(), 50);
    let started = Instant::now();
    let dry = finished(&a.owner, "kind=customers&dry_run=true", &csv).await;
    eprintln!("dry run of 10,000 rows: {:?}", started.elapsed());
    assert_eq!(errors(&dry), bad);
    assert_eq!(counts(&dry), [9_950, 0, 0, 50]);
    let started = Instant::now();
    let committed = finished(&a.owner, "kind=customers", &csv).await;
    eprintln!("commit of 10,000 rows: {:?}", started.elapsed());
    assert_eq!(counts(&committed), [9_950, 0, 0, 50]);
    let again = finished(&a.owner, "kind=customers", &csv).await;
    assert_eq!(counts(&again), [0, 0, 9_950, 50]);
    assert_eq!(a.owner.every_item(CUSTOMERS).await.len(), 9_950);
}

#[tokio::test]
async fn an_export_with_custom_fields_imports_into_another_tenant_without_errors() {
    let server = server().await;
    let a = server.scenario("imp-export-a").await;
    let b = server.scenario("imp-export-b").await;
    for scenario in [&a, &b] {
        let tier = json!({"entity": "customer", "key": "tier", "label": "Tier", "type": "enum",
                          "enum_values": ["gold", "silver"]});
        scenario.create("/v1/tenant/custom-fields", &tier).await;
    }
    let csv = "Ref,Client,custom.tier,notes,location.latitude,location.longitude\n\
               X1,=HYPERLINK(\"evil\"),gold,+1 call first,30.25,-97.75\n\
               X2,Bee Co,silver,,,\n\
               X3,Cee Co,bronze,,,\n";
    let mapping = r#"{"Ref":"external_id","Client":"name"}"#;
    let query = format!("kind=customers&mapping={}", urlencode(mapping));
    let job = finished(&a.owner, &query, csv).await;
    assert_eq!(counts(&job), [2, 0, 0, 1]);
    assert_eq!(
        errors(&job),
        BTreeSet::from([(4, "custom.tier".to_owned())])
    );
    let exported = a.owner.get("/v1/exports/customers.csv").await;
    exported.expect_status(200);
    let text = &exported.text;
    assert!(text.contains("X1,\"'=HYPERLINK(\"\"evil\"\")\","), "{text}");
    assert!(text.contains(",'+1 call first,gold,"), "{text}");
    let dry = finished(&b.owner, "kind=customers&dry_run=true", &exported.text).await;
    assert_eq!(counts(&dry), [2, 0, 0, 0], "{dry}");
    let back = finished(&a.owner, "kind=customers", &exported.text).await;
    // The export carries the module's defaults (kind, status), so its rows differ from the
    // file first imported: they update the same records and create none.
    assert_eq!(counts(&back), [0, 2, 0, 0], "{back}");
    let stored = a.owner.every_item(CUSTOMERS).await;
    assert!(
        stored
            .iter()
            .any(|c| c["name"] == "=HYPERLINK(\"evil\")" && c["custom"]["tier"] == "gold")
    );
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn technicians_and_service_types_import_update_and_export() {
    let server = server().await;
    let a = server.scenario("imp-tech").await;
    let csv = "external_id,name,skills,time_zone,working_hours,home_latitude,home_longitude\n\
               T1,Ana,lawn; pest,America/Chicago,mon 08:00-12:00 13:00-17:00; tue 08:00-17:00,30.2,-97.7\n\
               T2,Ben,lawn,Mars/Olympus,mon 08:00-17:00,,\n";
    let job = finished(&a.owner, "kind=technicians", csv).await;
    assert_eq!(counts(&job), [1, 0, 0, 1]);
    assert_eq!(errors(&job), BTreeSet::from([(3, "time_zone".to_owned())]));
    let fixed = csv
        .replace("Mars/Olympus", "America/Chicago")
        .replace("Ana,", "Ana Lopez,");
    let job = finished(&a.owner, "kind=technicians", &fixed).await;
    assert_eq!(counts(&job), [1, 1, 0, 0]);
    let technicians = a.owner.every_item("/v1/technicians").await;
    let ana = technicians
        .iter()
        .find(|t| t["name"] == "Ana Lopez")
        .expect("updated in place");
    assert_eq!(
        ana["working_hours"]["mon"][1],
        json!({"start": "13:00", "end": "17:00"})
    );
    assert_eq!(technicians.len(), 2);
    let exported = a.owner.get("/v1/exports/technicians.csv").await;
    assert!(
        exported.text.contains(
            "T1,Ana Lopez,,,lawn; pest,America/Chicago,mon 08:00-12:00 13:00-17:00; tue 08:00-17:00"
        ),
        "{}",
        exported.text
    );
    let services = "external_id,name,default_duration_minutes,default_price_minor,currency,required_skills\n\
                    S1,Mowing,45,4500,USD,lawn\nS2,Spray,forty,6000,USD,pest\n";
    let job = finished(&a.owner, "kind=service_types", services).await;
    assert_eq!(counts(&job), [1, 0, 0, 1]);
    assert_eq!(
        errors(&job),
        BTreeSet::from([(3, "default_duration_minutes".to_owned())])
    );
}

#[tokio::test]
async fn hostile_files_are_refused_whole_or_reported_row_by_row() {
    let server = server().await;
    let a = server.scenario("imp-hostile").await;
    import(&a.owner, "kind=customers", "external_id,Shoe size\n1,4\n")
        .await
        .expect_problem(422, "import_columns_invalid");
    import(&a.owner, "kind=planets", "external_id,name\n")
        .await
        .expect_problem(422, "validation_failed");
    let json = a
        .owner
        .request(Method::POST, &format!("{IMPORTS}?kind=customers"))
        .json(&json!({}));
    send(json)
        .await
        .expect_problem(415, "unsupported_media_type");
    let huge = format!("external_id,name\n1,{}\n", "x".repeat(70_000));
    let file = format!("\u{feff}{huge}3,\"Quoted, \"\"Co\"\"\"\r\n4,\"two\r\nlines\"\n5\n");
    let job = finished(&a.owner, "kind=customers", &file).await;
    assert_eq!(counts(&job), [2, 0, 0, 2], "{job}");
    let lines = BTreeSet::from([(2, String::new()), (6, String::new())]);
    assert_eq!(errors(&job), lines);
}

#[tokio::test]
async fn another_tenant_reaches_no_import_and_a_reader_cannot_import() {
    let server = server().await;
    let a = server.scenario("imp-iso-a").await;
    let b = server.scenario("imp-iso-b").await;
    let started = import(
        &a.owner,
        "kind=customers",
        "external_id,name\nA1,Secret Co\n",
    )
    .await;
    started.expect_status(202);
    let id = started.id();
    wait_for(&a.owner, &id).await;
    b.owner
        .get(&format!("{IMPORTS}/{id}"))
        .await
        .expect_problem(404, "not_found");
    let exported = b.owner.get("/v1/exports/customers.csv").await;
    assert!(!exported.text.contains("Secret"), "{}", exported.text);
    let reimport = finished(&b.owner, "kind=customers", "external_id,name\nA1,Mine\n").await;
    assert_eq!(counts(&reimport), [1, 0, 0, 0], "B's A1 is its own");
    a.role("reader", &["crm.customers.read"]).await;
    let (_, reader) = a.user("reader@imp.test", &["reader"]).await;
    import(&reader, "kind=customers", "external_id,name\nR,R\n")
        .await
        .expect_problem(403, "permission_denied");
    reader
        .get(&format!("{IMPORTS}/{id}"))
        .await
        .expect_problem(403, "permission_denied");
    reader
        .get("/v1/exports/customers.csv")
        .await
        .expect_status(200);
}
