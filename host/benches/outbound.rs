//! What a module's `http` request costs beyond the remote's own time: the hardened client
//! (`verofield::outbound`, which builds a client per request so that each connection is pinned
//! to the address it checked, and keeps no pool) against a plain reused `reqwest::Client`, both
//! sending `GET /` to an axum server on 127.0.0.1 in the same process, and the cost of building
//! a client alone. Sequential requests; prints the median and the 99th percentile.
//!
//!     nice -n 10 cargo bench -p verofield --bench outbound            # release
//!     nice -n 10 cargo bench -p verofield --bench outbound --profile dev

use std::time::{Duration, Instant};

use verofield::outbound::{Outbound, OutboundSettings};

const REQUESTS: usize = 500;

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label:<44} median {:>8.1} µs   p99 {:>8.1} µs",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}

async fn timed<F: Future<Output = ()>>(mut once: impl FnMut() -> F) -> Vec<Duration> {
    for _ in 0..20 {
        once().await;
    }
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        once().await;
        samples.push(started.elapsed());
    }
    samples
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let hardened = Outbound::new(OutboundSettings {
        allow_http: true,
        allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
        ..OutboundSettings::default()
    });
    let samples = timed(|| async {
        let answer = hardened
            .send(reqwest::Method::GET, &url, &[], Vec::new())
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
    })
    .await;
    summary("hardened client (checked, pinned, no pool)", samples);

    let plain = reqwest::Client::new();
    let samples = timed(|| async {
        let answer = plain.get(&url).send().await.unwrap();
        assert_eq!(answer.bytes().await.unwrap().as_ref(), b"ok");
    })
    .await;
    summary("plain reqwest::Client, reused (pooled)", samples);

    let samples = timed(|| async {
        drop(reqwest::Client::builder().build().unwrap());
    })
    .await;
    summary("building a reqwest::Client alone", samples);
}
