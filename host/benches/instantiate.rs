//! The per-call cost of the module runtime: a fresh `Store`, instantiation from the
//! pre-instantiated `echo` fixture, one `handle` call (five host calls into `context` and one
//! into `log`), and the drop, with the pooling allocator and with the on-demand allocator.
//! Criterion reports the mean and median; a plain loop of 10,000 calls before it prints the
//! median and the 99th percentile, which criterion does not give.
//!
//! With `INSTANTIATE_COMPONENTS=name=path.wasm,...` it also measures those components (the Rust
//! and the Python CRM, say) with the pooling allocator: a fresh Store, instantiation, one
//! `handle` of a route the module does not have (its SDK answers 404 at once, touching no
//! storage) and the drop: the fixed cost of a call to that module, whatever the route does.
//!
//!     nice -n 10 cargo bench -p verofield --bench instantiate
//!     INSTANTIATE_COMPONENTS=rust-crm=plugins/target/wasm32-wasip2/release/verofield_crm.wasm,python-crm=target/python-modules/crm_python.wasm \
//!       nice -n 10 cargo bench -p verofield --bench instantiate -- crm

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
    module: ModuleHandle,
    /// The request each call answers, and the status it must answer with.
    request: Request,
    status: u16,
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

fn setup(pooling: bool, component: &[u8], request: Request, status: u16) -> Setup {
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
    let module = tokio
        .block_on(runtime.load(component))
        .expect("loading the component");
    Setup {
        tokio,
        runtime,
        module,
        request,
        status,
        _cache: cache,
    }
}

/// `GET /echo/1`, which the echo fixture answers 200 after its host calls.
fn echo_request() -> Request {
    Request {
        method: "GET".into(),
        path: "/echo/1".into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        route: "/echo/{id}".into(),
        params: vec![("id".into(), "1".into())],
    }
}

/// A route no module has: its SDK's router answers 404 without a host call.
fn unrouted_request() -> Request {
    Request {
        method: "GET".into(),
        path: "/bench/unrouted".into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        route: "/bench/unrouted".into(),
        params: Vec::new(),
    }
}

/// The components named in `INSTANTIATE_COMPONENTS` (`name=path,...`), read.
fn components_from_env() -> Vec<(String, Vec<u8>)> {
    let Ok(list) = std::env::var("INSTANTIATE_COMPONENTS") else {
        return Vec::new();
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    list.split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, path) = entry
                .split_once('=')
                .expect("INSTANTIATE_COMPONENTS entries are name=path");
            let bytes = std::fs::read(root.join(path))
                .unwrap_or_else(|error| panic!("reading {path}: {error}"));
            (name.to_owned(), bytes)
        })
        .collect()
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
    let (response, _) = setup
        .tokio
        .block_on(
            setup
                .runtime
                .handle(&setup.module, call, setup.request.clone()),
        )
        .expect("the module answers");
    assert_eq!(response.status, setup.status);
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
    let echo = echo_component();
    for (name, pooling) in [("pooling", true), ("on_demand", false)] {
        let setup = setup(pooling, &echo, echo_request(), 200);
        percentiles(name, &setup);
        group.bench_function(name, |b| b.iter(|| one_call(&setup)));
    }
    group.finish();
}

fn instantiate_components(c: &mut Criterion) {
    let mut group = c.benchmark_group("instantiate_unrouted_drop");
    for (name, component) in components_from_env() {
        let setup = setup(true, &component, unrouted_request(), 404);
        percentiles(&name, &setup);
        group.bench_function(&name, |b| b.iter(|| one_call(&setup)));
    }
    group.finish();
}

criterion_group!(benches, instantiate, instantiate_components);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
