//! The per-call cost of the module runtime: a fresh `Store`, instantiation from the
//! pre-instantiated `echo` fixture, one `handle` call (five host calls into `context` and one
//! into `log`), and the drop, with the pooling allocator and with the on-demand allocator.
//! Criterion reports the mean and median; a plain loop of 10,000 calls before it prints the
//! median and the 99th percentile, which criterion does not give.
//!
//!     nice -n 10 cargo bench -p verofield --bench instantiate

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use uuid::Uuid;
use verofield::runtime::{CallContext, Caller, ModuleHandle, Request, Runtime, RuntimeConfig};

const PERCENTILE_CALLS: usize = 10_000;

fn echo_component() -> Vec<u8> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/fixtures");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "echo",
            "--manifest-path",
        ])
        .arg(fixtures.join("Cargo.toml"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo for the echo fixture");
    assert!(status.success(), "building the echo fixture failed");
    std::fs::read(fixtures.join("target/wasm32-wasip2/release/echo.wasm")).expect("echo.wasm")
}

struct Setup {
    tokio: tokio::runtime::Runtime,
    runtime: Runtime,
    echo: ModuleHandle,
    _cache: tempdir::Removed,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Removed(pub std::path::PathBuf);

    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn setup(pooling: bool) -> Setup {
    let cache =
        tempdir::Removed(std::env::temp_dir().join(format!("verofield-bench-{}", Uuid::new_v4())));
    let mut config = RuntimeConfig::new(&cache.0);
    config.pooling = pooling;
    config.max_instances = 64;
    let runtime = Runtime::new(config).expect("runtime");
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let echo = tokio
        .block_on(runtime.load(&echo_component()))
        .expect("loading echo");
    Setup {
        tokio,
        runtime,
        echo,
        _cache: cache,
    }
}

fn one_call(setup: &Setup) {
    let call = CallContext::without_storage(
        Uuid::from_u128(1),
        Caller {
            user_id: Uuid::from_u128(2),
            roles: vec!["dispatcher".into()],
            permissions: vec!["echo.read".into()],
        },
        "bench".into(),
    );
    let request = Request {
        method: "GET".into(),
        path: "/echo/1".into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        route: "/echo/{id}".into(),
        params: vec![("id".into(), "1".into())],
    };
    let (response, _) = setup
        .tokio
        .block_on(setup.runtime.handle(&setup.echo, call, request))
        .expect("echo answers");
    assert_eq!(response.status, 200);
}

fn percentiles(name: &str, setup: &Setup) {
    for _ in 0..500 {
        one_call(setup);
    }
    let mut samples: Vec<Duration> = (0..PERCENTILE_CALLS)
        .map(|_| {
            let started = Instant::now();
            one_call(setup);
            started.elapsed()
        })
        .collect();
    samples.sort();
    let at = |quantile: f64| {
        samples[((samples.len() as f64 * quantile) as usize).min(samples.len() - 1)]
    };
    println!(
        "{name}: {PERCENTILE_CALLS} calls: median {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
    );
}

fn instantiate(c: &mut Criterion) {
    let mut group = c.benchmark_group("instantiate_call_drop");
    for (name, pooling) in [("pooling", true), ("on_demand", false)] {
        let setup = setup(pooling);
        percentiles(name, &setup);
        group.bench_function(name, |b| b.iter(|| one_call(&setup)));
    }
    group.finish();
}

criterion_group!(benches, instantiate);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
