//! The demo company: `verofield demo --size small --seed N` creates, through the modules, a
//! company whose every count the API confirms, the same seed gives the same data (compared
//! through the API, ids aside), and `serve --demo` hands a newcomer the small company at once.

use std::collections::HashMap;

use verofield_tests::*;

async fn server() -> TestServer {
    TestServer::start_with(ServerOptions::new().with_builtin_modules()).await
}

/// `verofield demo --size small --seed SEED --slug SLUG --json` on the server's database.
async fn demo_company(server: &TestServer, slug: &str, seed: u64) -> Value {
    let seed = seed.to_string();
    let builtins = builtin_modules_dir();
    let cache = repo_root().join("target/module-test-cache");
    let env = [
        ("VEROFIELD_BUILTIN_MODULES", builtins.to_str().unwrap()),
        ("VEROFIELD_MODULE_CACHE_DIR", cache.to_str().unwrap()),
    ];
    let args = [
        "demo", "--size", "small", "--seed", &seed, "--slug", slug, "--json",
    ];
    run_cli(server.data_dir(), Some(server.test_db()), &args, &env)
        .await
        .json()
}

async fn owner_of(server: &TestServer, credentials: &Value) -> Api {
    let text = |key: &str| credentials[key].as_str().unwrap().to_owned();
    let tokens = server
        .login(&text("tenant"), &text("email"), &text("password"))
        .await;
    server.client_for(&tokens.access)
}

/// The tenant's company as sorted lines, ids replaced by names: equal for equal data.
async fn company_lines(api: &Api) -> Vec<String> {
    let customers = api.every_item("/v1/crm/customers").await;
    let technicians = api.every_item("/v1/technicians").await;
    let services = api.every_item("/v1/jobs/service-types").await;
    let names: HashMap<&str, &str> = customers
        .iter()
        .chain(&technicians)
        .chain(&services)
        .map(|row| (row["id"].as_str().unwrap(), row["name"].as_str().unwrap()))
        .collect();
    let name = |id: &Value| names.get(id.as_str().unwrap_or("")).copied().unwrap_or("?");
    let mut lines: Vec<String> = customers
        .iter()
        .map(|c| {
            format!(
                "customer {} {} {} {}",
                c["name"], c["email"], c["phone"], c["kind"]
            )
        })
        .collect();
    for location in api.every_item("/v1/crm/locations").await {
        let (lat, lon) = (&location["latitude"], &location["longitude"]);
        lines.push(format!(
            "location {} {lat} {lon}",
            name(&location["customer_id"])
        ));
    }
    for tech in &technicians {
        lines.push(format!("technician {} {}", tech["name"], tech["skills"]));
    }
    for tech in &technicians {
        let path = format!("/v1/jobs?technician_id={}", tech["id"].as_str().unwrap());
        for job in api.every_item(&path).await {
            let service: Vec<&str> = job["service_type_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(name)
                .collect();
            lines.push(format!(
                "job {} {} {} {} {service:?} {}",
                job["scheduled_date"],
                job["window_start"],
                job["status"],
                name(&job["customer_id"]),
                tech["name"]
            ));
        }
    }
    lines.sort();
    lines
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|line| line.starts_with(prefix)).count()
}

#[tokio::test]
async fn a_small_demo_company_is_what_its_summary_says_and_the_same_for_a_seed() {
    let server = server().await;
    let first = demo_company(&server, &unique("demo-a"), 7).await;
    let summary = &first["summary"];
    let a = owner_of(&server, &first["credentials"]).await;
    let lines = company_lines(&a).await;
    assert_eq!(count(&lines, "customer "), 30);
    assert_eq!(count(&lines, "location "), 30);
    assert_eq!(count(&lines, "technician "), 4);
    for (status, key) in [
        ("completed", "jobs_completed"),
        ("canceled", "jobs_cancelled"),
    ] {
        let jobs = lines
            .iter()
            .filter(|l| l.starts_with("job ") && l.contains(&format!("\"{status}\"")));
        assert_eq!(
            jobs.count() as u64,
            summary[key].as_u64().unwrap(),
            "{status}"
        );
    }
    assert!(
        summary["jobs_completed"].as_u64().unwrap() > 100,
        "{summary}"
    );
    let invoices = a.every_item("/v1/billing/invoices").await;
    assert_eq!(invoices.len() as u64, summary["invoices"].as_u64().unwrap());
    let paid = invoices.iter().filter(|i| i["status"] == "paid").count();
    assert_eq!(paid as u64, summary["invoices_paid"].as_u64().unwrap());

    let again = demo_company(&server, &unique("demo-b"), 7).await;
    assert_eq!(again["summary"], first["summary"]);
    let b = owner_of(&server, &again["credentials"]).await;
    assert_eq!(
        company_lines(&b).await,
        lines,
        "the same seed drew another company"
    );
}

#[tokio::test]
async fn serve_demo_opens_on_the_small_company() {
    let server =
        TestServer::start_with(ServerOptions::new().with_builtin_modules().args(["--demo"])).await;
    let path = server
        .data_dir()
        .join("secrets")
        .join("demo-credentials.json");
    let credentials: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let owner = owner_of(&server, &credentials).await;
    // The company is created once the server listens; its summary line says when (a wait
    // longer than `eventually`'s: about 1,900 module calls on a busy debug build).
    let started = std::time::Instant::now();
    while !server.stdout().contains("demo company: 6 service types") {
        assert!(
            started.elapsed().as_secs() < 900,
            "no demo company: {}",
            server.stdout()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(owner.every_item("/v1/crm/customers").await.len(), 30);
    let scheduled = owner.every_item("/v1/jobs?status=scheduled").await;
    assert!(!scheduled.is_empty(), "no visits ahead");
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(100);
    let kpis = owner
        .get(&format!(
            "/v1/kpis?metrics=jobs_completed&bucket=month&from={from}&to={today}"
        ))
        .await;
    kpis.expect_status(200);
    let completed: i64 = kpis.json["metrics"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["value"].as_i64().unwrap_or(0))
        .sum();
    assert!(completed > 100, "{}", kpis.json);
    assert!(
        server.stdout().contains("demo company: 6 service types"),
        "{}",
        server.stdout()
    );
}
