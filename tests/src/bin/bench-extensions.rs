//! The extension point benchmark: what `jobs.validate` adds to `POST /v1/jobs` with nothing
//! installed, with the Rust sample (`pest-target`), and what a hostile extension's endless
//! loop (stopped by the fuel budget) and memory bomb (stopped at the memory cap) cost the
//! request, which still answers 201. `scripts/bench-extensions.sh` builds what it needs and
//! runs it; BENCHMARKS.md ("Extension points") has the numbers.
//!
//! One server (`VEROFIELD_BIN`) with the built-in modules, one tenant with a customer, a
//! location and a lawn service type; per case 10 warm-up requests, then N measured one after
//! another (default 60). Reported: median and p90 of the request's wall time.
//!
//! Usage: `bench-extensions [REQUESTS]`.

use std::time::Instant;

use verofield_tests::*;

/// The `(name, version)`s installed at the point for one case.
type Installed = &'static [(&'static str, &'static str)];

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of requests"))
        .unwrap_or(60);
    let server = TestServer::start_with(ServerOptions::new().with_builtin_modules()).await;
    for component in [
        sample_extension("pest-target"),
        fixture_component("ext-hostile"),
    ] {
        server.upload_extension(&component).await.expect_status(201);
    }
    let shop = server.scenario(&unique("extbench")).await;
    let customer = shop.customer("Ann").await;
    let location = shop.location(&customer, "Home").await;
    let lawn = shop.service_type("Mowing", 30, 4_000, &["lawn"]).await;
    let job = async |notes: &str| {
        let body = json!({"customer_id": customer, "location_id": location,
                          "service_type_ids": [lawn], "notes": notes});
        let started = Instant::now();
        shop.owner.post("/v1/jobs", &body).await.expect_status(201);
        started.elapsed().as_micros()
    };
    let cases: [(&str, Installed, &str); 5] = [
        ("nothing installed", &[], ""),
        ("pest-target", &[("pest-target", "1.0.0")], ""),
        ("ext-hostile, well-behaved", &[("ext-hostile", "0.1.0")], ""),
        (
            "ext-hostile, endless loop",
            &[("ext-hostile", "0.1.0")],
            "loop",
        ),
        (
            "ext-hostile, memory bomb",
            &[("ext-hostile", "0.1.0")],
            "bomb",
        ),
    ];
    println!("| installed at `jobs.validate` | median (ms) | p90 (ms) |");
    println!("|---|---:|---:|");
    for (name, installed, notes) in cases {
        shop.owner
            .install_extensions("jobs.validate", installed)
            .await
            .expect_status(200);
        for _ in 0..10 {
            job(notes).await;
        }
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            times.push(job(notes).await);
        }
        times.sort_unstable();
        let ms = |micros: u128| micros as f64 / 1000.0;
        println!(
            "| {name} | {:.1} | {:.1} |",
            ms(times[requests / 2]),
            ms(times[requests * 9 / 10])
        );
    }
}
