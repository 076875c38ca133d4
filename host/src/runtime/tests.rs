//! The runtime against real guest components (`plugins/fixtures`, built here once per test
//! process): the trivial `echo`, and hostile modules that must fail only their own call, with
//! the right code, while the same `Runtime` keeps serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use super::capabilities::store::{
    AggregateQuery, BoxFuture, JsonObject, Page, Row, SelectQuery, StoreError, StoreResult,
};
use super::*;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/fixtures")
}

/// The bytes of a fixture component, building the fixtures once per test process.
fn fixture(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(fixtures_dir().join("Cargo.toml"))
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .status()
            .expect("running cargo for the fixtures");
        assert!(status.success(), "building the fixtures failed");
    });
    let path = fixtures_dir()
        .join("target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A private cache directory, removed when the test ends.
struct CacheDir(PathBuf);

impl CacheDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("verofield-runtime-test-{}", Uuid::new_v4())))
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime(cache: &CacheDir) -> Runtime {
    let mut config = RuntimeConfig::new(&cache.0);
    config.max_instances = 16;
    Runtime::new(config).expect("runtime")
}

/// Limits with a short deadline, for the modules that spin.
fn impatient() -> ModuleLimits {
    ModuleLimits {
        deadline: Duration::from_millis(300),
        ..ModuleLimits::default()
    }
}

/// Rows in a map, events in a list: enough to see the capabilities' plumbing.
#[derive(Clone, Default)]
struct Memory {
    rows: Arc<Mutex<HashMap<(String, Uuid), Row>>>,
    events: Arc<Mutex<Vec<(String, JsonObject)>>>,
}

impl StoreBackend for Memory {
    fn get<'a>(&'a mut self, table: &'a str, id: Uuid) -> BoxFuture<'a, StoreResult<Option<Row>>> {
        let row = self
            .rows
            .lock()
            .unwrap()
            .get(&(table.to_owned(), id))
            .cloned();
        Box::pin(async move { Ok(row) })
    }
    fn select(&mut self, _: SelectQuery) -> BoxFuture<'_, StoreResult<Page>> {
        Box::pin(async { Err(StoreError::Invalid("not in this test".into())) })
    }
    fn insert<'a>(
        &'a mut self,
        table: &'a str,
        values: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        let row = Row {
            id: Uuid::now_v7(),
            version: 1,
            values,
        };
        self.rows
            .lock()
            .unwrap()
            .insert((table.to_owned(), row.id), row.clone());
        Box::pin(async move { Ok(row) })
    }
    fn update<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: u64,
        _: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async { Err(StoreError::NotFound) })
    }
    fn delete<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async { Err(StoreError::NotFound) })
    }
    fn aggregate(&mut self, _: AggregateQuery) -> BoxFuture<'_, StoreResult<Vec<JsonObject>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl EventSink for Memory {
    fn emit<'a>(
        &'a mut self,
        event_type: &'a str,
        payload: JsonObject,
    ) -> BoxFuture<'a, Result<(), EventError>> {
        self.events
            .lock()
            .unwrap()
            .push((event_type.to_owned(), payload));
        Box::pin(async { Ok(()) })
    }
}

fn call_for(tenant_id: Uuid, backend: &Memory) -> CallContext {
    CallContext {
        tenant_id,
        time_zone: "UTC".into(),
        caller: Caller {
            user_id: Uuid::from_u128(7),
            roles: vec!["dispatcher".into()],
            permissions: vec!["echo.read".into()],
        },
        request_id: format!("req-{tenant_id}"),
        store: Box::new(backend.clone()),
        events: Box::new(backend.clone()),
        payments: super::instance::no_payments(),
        config: super::instance::no_config(),
        http: Box::new(crate::outbound::Outbound::default()),
        extensions: super::instance::no_extensions(),
    }
}

fn request(method: &str, path: &str, query: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![("accept".into(), "application/json".into())],
        body: b"ping".to_vec(),
        route: "/echo/{id}".into(),
        params: vec![("id".into(), "42".into())],
    }
}

async fn echo(
    runtime: &Runtime,
    module: &LoadedModule,
    tenant_id: Uuid,
    path: &str,
) -> (Value, Usage) {
    let (response, usage) = runtime
        .handle(
            module,
            call_for(tenant_id, &Memory::default()),
            request("GET", path, &[]),
        )
        .await
        .expect("echo answers");
    assert_eq!(response.status, 200);
    (
        serde_json::from_slice(&response.body).expect("echo answers JSON"),
        usage,
    )
}

fn code_of(error: &Error) -> (u16, &'static str) {
    match error {
        Error::Problem { status, code, .. } => (status.as_u16(), code),
        other => panic!("not a problem: {other}"),
    }
}

#[tokio::test]
async fn echo_publishes_its_manifest_and_answers_with_its_context() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let module = runtime.load(&fixture("echo")).await.unwrap();
    assert_eq!(module.manifest.name, "echo");
    assert_eq!(module.manifest.slot, "echo");
    assert_eq!(module.manifest.routes[0].path, "/echo/{id}");
    assert_eq!(module.manifest.tables.write, ["notes"]);

    let tenant = Uuid::now_v7();
    let (body, usage) = echo(&runtime, &module, tenant, "/echo/42").await;
    assert_eq!(body["tenant"], tenant.to_string());
    assert_eq!(body["user"], Uuid::from_u128(7).to_string());
    assert_eq!(body["roles"], serde_json::json!(["dispatcher"]));
    assert_eq!(body["request_id"], format!("req-{tenant}"));
    assert_eq!(body["params"], serde_json::json!([["id", "42"]]));
    assert_eq!(body["body"], "ping");
    assert!(body["now"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["calls_served"], 1);
    assert!(usage.host_calls >= 5 && !usage.log_truncated, "{usage:?}");
}

#[tokio::test]
async fn store_and_events_go_through_grants_to_the_call_backends() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let module = runtime.load(&fixture("echo")).await.unwrap();
    let backend = Memory::default();
    let tenant = Uuid::now_v7();

    let outcome = |path: &'static str| {
        let call = call_for(tenant, &backend);
        let (runtime, module) = (&runtime, &module);
        async move {
            let (response, _) = runtime
                .handle(module, call, request("POST", path, &[]))
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&response.body).unwrap();
            body["outcome"].as_str().unwrap().to_owned()
        }
    };
    let stored = outcome("/store").await;
    assert!(
        stored.contains(" v1 ") && stored.contains(r#""text":"hello""#),
        "{stored}"
    );
    assert_eq!(backend.rows.lock().unwrap().len(), 1);

    // Reaching outside the grants fails the whole call, whatever the module answers.
    let denied = runtime
        .handle(
            &module,
            call_for(tenant, &backend),
            request("POST", "/store-denied", &[]),
        )
        .await
        .unwrap_err();
    assert_eq!(denied.code(), "module_not_granted");
    assert_eq!(
        backend.rows.lock().unwrap().len(),
        1,
        "a denied insert reaches no backend"
    );

    assert_eq!(outcome("/emit").await, "emitted");
    let events = backend.events.lock().unwrap();
    assert_eq!(events[0].0, "echo.seen");
    assert_eq!(events[0].1["ok"], true);
}

#[tokio::test]
async fn each_hostile_module_fails_only_its_own_call() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let echo_module = runtime.load(&fixture("echo")).await.unwrap();
    type Query = &'static [(&'static str, &'static str)];
    let cases: [(&str, Query, (u16, &str)); 7] = [
        ("spin", &[], (503, "module_timeout")),
        ("memory-hog", &[], (507, "module_memory_exceeded")),
        ("deep-recursion", &[], (500, "module_trap")),
        ("panic", &[], (500, "module_trap")),
        ("huge-response", &[], (502, "module_response_too_large")),
        (
            "huge-response",
            &[("mib", "100")],
            (507, "module_memory_exceeded"),
        ),
        ("host-call-flood", &[], (500, "module_host_call_limit")),
    ];
    for (name, query, expected) in cases {
        let limits = if name == "spin" {
            impatient()
        } else {
            ModuleLimits::default()
        };
        let hostile = runtime
            .load_with_limits(&fixture(name), limits)
            .await
            .unwrap();
        // Twice: the cached pre-instantiated component is not poisoned by a trapped instance.
        for _ in 0..2 {
            let started = Instant::now();
            let error = runtime
                .handle(
                    &hostile,
                    call_for(Uuid::now_v7(), &Memory::default()),
                    request("GET", "/", query),
                )
                .await
                .expect_err(name);
            assert_eq!(code_of(&error), expected, "{name}: {error}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{name} took {:?}",
                started.elapsed()
            );
        }
        let (body, _) = echo(&runtime, &echo_module, Uuid::now_v7(), "/echo/1").await;
        assert_eq!(body["calls_served"], 1, "after {name}");
    }
}

#[tokio::test]
async fn a_log_flood_is_truncated_and_the_call_succeeds() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let module = runtime.load(&fixture("log-flood")).await.unwrap();
    let (response, usage) = runtime
        .handle(
            &module,
            call_for(Uuid::now_v7(), &Memory::default()),
            request("GET", "/", &[]),
        )
        .await
        .unwrap();
    assert_eq!(response.body, b"flooded");
    assert!(usage.log_truncated);
    assert_eq!(usage.log_bytes, module.limits().log_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_share_no_state() {
    let cache = CacheDir::new();
    let runtime = Arc::new(runtime(&cache));
    let module = runtime.load(&fixture("echo")).await.unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (runtime, module, tenant) = (runtime.clone(), module.clone(), Uuid::now_v7());
        calls.spawn(async move { (tenant, echo(&runtime, &module, tenant, "/echo/1").await.0) });
    }
    while let Some(answer) = calls.join_next().await {
        let (tenant, body) = answer.unwrap();
        assert_eq!(body["tenant"], tenant.to_string());
        assert_eq!(body["calls_served"], 1);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_spinning_module_yields_to_other_calls_on_the_same_thread() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let spin = runtime
        .load_with_limits(&fixture("spin"), impatient())
        .await
        .unwrap();
    let module = runtime.load(&fixture("echo")).await.unwrap();
    let started = Instant::now();
    let spinning = runtime.handle(
        &spin,
        call_for(Uuid::now_v7(), &Memory::default()),
        request("GET", "/", &[]),
    );
    let answering = async {
        let answer = echo(&runtime, &module, Uuid::now_v7(), "/echo/1").await;
        (answer, started.elapsed())
    };
    let (spun, (_, echo_took)) = tokio::join!(spinning, answering);
    assert_eq!(code_of(&spun.unwrap_err()).1, "module_timeout");
    assert!(
        echo_took < Duration::from_millis(250),
        "echo waited {echo_took:?} for the spinner"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_instance_pool_answers_busy_and_frees_its_slot() {
    let cache = CacheDir::new();
    let mut config = RuntimeConfig::new(&cache.0);
    config.max_instances = 1;
    let runtime = Runtime::new(config).unwrap();
    let spin = runtime
        .load_with_limits(&fixture("spin"), impatient())
        .await
        .unwrap();
    let module = runtime.load(&fixture("echo")).await.unwrap();
    let spinning = runtime.handle(
        &spin,
        call_for(Uuid::now_v7(), &Memory::default()),
        request("GET", "/", &[]),
    );
    let refused = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        runtime
            .handle(
                &module,
                call_for(Uuid::now_v7(), &Memory::default()),
                request("GET", "/echo/1", &[]),
            )
            .await
    };
    let (spun, refused) = tokio::join!(spinning, refused);
    assert_eq!(code_of(&spun.unwrap_err()).1, "module_timeout");
    assert_eq!(code_of(&refused.unwrap_err()), (503, "module_busy"));
    echo(&runtime, &module, Uuid::now_v7(), "/echo/1").await;
}

#[tokio::test]
async fn the_precompiled_cache_is_written_then_used() {
    let cache = CacheDir::new();
    let bytes = fixture("echo");
    let first = runtime(&cache);
    let compiled = first.load(&bytes).await.unwrap();
    assert_eq!(compiled.origin, Origin::Compiled);
    assert!(cache.0.join(format!("{}.cwasm", compiled.digest)).is_file());
    assert!(
        Arc::ptr_eq(&compiled, &first.load(&bytes).await.unwrap()),
        "second load is from memory"
    );

    let second = runtime(&cache);
    let started = Instant::now();
    let cached = second.load(&bytes).await.unwrap();
    assert_eq!(cached.origin, Origin::DiskCache);
    assert_eq!(cached.manifest, compiled.manifest);
    echo(&second, &cached, Uuid::now_v7(), "/echo/1").await;
    eprintln!("load from the disk cache took {:?}", started.elapsed());
}

#[tokio::test]
async fn wasi_reaches_no_file_environment_or_network_and_stdout_is_logged() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let module = runtime.load(&fixture("echo")).await.unwrap();
    let (body, usage) = echo(&runtime, &module, Uuid::now_v7(), "/wasi").await;
    assert_eq!(body["outcome"], "files:false environment:0 network:false");
    let probe_line = "wasi probe done".len();
    assert!(usage.log_bytes > probe_line, "{usage:?}");
}

#[tokio::test]
async fn refuses_what_is_not_a_component_of_the_world() {
    let cache = CacheDir::new();
    let runtime = runtime(&cache);
    let error = runtime.load(b"\0asm not really").await.unwrap_err();
    assert_eq!(code_of(&error), (422, "module_invalid"));
}

/// Negated float comparisons keep wasm's semantics in the engine the host runs (a guard for
/// the `i32.eqz` rewrite proposed upstream in docs/upstream/README.md): for every comparison,
/// both as a value and as a branch condition, the engine the host runs (its own configuration, epoch
/// checks on) answers what Rust's `!(a op b)` does, NaNs, signed zeros and infinities included.
#[test]
#[expect(
    clippy::neg_cmp_op_on_partial_ord,
    reason = "Rust's own negated comparisons are the expected answers"
)]
fn negated_float_comparisons_keep_nan_semantics() {
    const OPS: [&str; 6] = ["eq", "ne", "lt", "gt", "le", "ge"];
    let mut text = String::from("(module\n");
    for ty in ["f32", "f64"] {
        for op in OPS {
            text.push_str(&format!(
                "(func (export \"not_{op}_{ty}\") (param {ty} {ty}) (result i32)
                   local.get 0 local.get 1 {ty}.{op} i32.eqz)
                 (func (export \"branch_not_{op}_{ty}\") (param {ty} {ty}) (result i32)
                   (block local.get 0 local.get 1 {ty}.{op} i32.eqz br_if 0 i32.const 0 return)
                   i32.const 1)\n"
            ));
        }
    }
    text.push(')');
    let cache = CacheDir::new();
    let engine = Engine::new(&engine_config(&RuntimeConfig::new(&cache.0)).unwrap()).unwrap();
    let module = wasmtime::Module::new(&engine, wat::parse_str(&text).unwrap()).unwrap();
    let mut store = wasmtime::Store::new(&engine, ());
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();

    let values = [
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.5,
        1e300,
    ];
    let expected = |op: &str, a: f64, b: f64| match op {
        "eq" => !(a == b),
        "ne" => !(a != b),
        "lt" => !(a < b),
        "gt" => !(a > b),
        "le" => !(a <= b),
        _ => !(a >= b),
    };
    for op in OPS {
        for prefix in ["not", "branch_not"] {
            let f64_func = instance
                .get_typed_func::<(f64, f64), i32>(&mut store, &format!("{prefix}_{op}_f64"))
                .unwrap();
            let f32_func = instance
                .get_typed_func::<(f32, f32), i32>(&mut store, &format!("{prefix}_{op}_f32"))
                .unwrap();
            for a in values {
                for b in values {
                    let want = expected(op, a, b);
                    let got = f64_func.call(&mut store, (a, b)).unwrap() == 1;
                    assert_eq!(got, want, "{prefix}_{op}_f64({a}, {b})");
                    let (a, b) = (a as f32, b as f32);
                    let want = expected(op, a.into(), b.into());
                    let got = f32_func.call(&mut store, (a, b)).unwrap() == 1;
                    assert_eq!(got, want, "{prefix}_{op}_f32({a}, {b})");
                }
            }
        }
    }
}

/// A secret one tenant's call plants in linear memory (static data, heap, shadow stack) is
/// gone for the next call in the same pooled slot (a pool of one: every call reuses it), even
/// when that call grows its memory as far as the first one had.
#[tokio::test]
async fn a_reused_instance_slot_shows_nothing_of_the_previous_call() {
    let cache = CacheDir::new();
    let mut config = RuntimeConfig::new(&cache.0);
    config.max_instances = 1;
    let runtime = Runtime::new(config).unwrap();
    let module = runtime.load(&fixture("memory-snoop")).await.unwrap();
    let masked: String = b"tenant-a secret 7f3c9e21d0b4a8"
        .iter()
        .map(|b| format!("{:02x}", b ^ 0x5a))
        .collect();
    let snoop = |tenant: Uuid, path: &str, pages: u64| {
        let request = Request {
            method: "POST".into(),
            path: path.into(),
            query: vec![("pages".into(), pages.to_string())],
            headers: Vec::new(),
            body: masked.clone().into_bytes(),
            route: path.into(),
            params: Vec::new(),
        };
        let runtime = &runtime;
        let module = &module;
        async move {
            let (response, _) = runtime
                .handle(module, call_for(tenant, &Memory::default()), request)
                .await
                .expect("the snoop answers");
            assert_eq!(response.status, 200);
            serde_json::from_slice::<Value>(&response.body).unwrap()
        }
    };

    // The scan finds every planted copy when there is one to find.
    let control = snoop(Uuid::now_v7(), "/plant-and-scan", 0).await;
    let found = control["scan"]["found"].as_array().unwrap();
    for place in ["static", "heap", "stack"] {
        assert!(
            found.contains(&control["planted"][place]),
            "{place} copy not found by the scan: {control}"
        );
    }

    let tenant_a = Uuid::now_v7();
    let planted = snoop(tenant_a, "/plant", 0).await;
    let pages = planted["pages"].as_u64().unwrap();
    for _ in 0..3 {
        let scan = snoop(Uuid::now_v7(), "/scan", pages).await;
        assert_eq!(scan["found"], serde_json::json!([]), "{scan}");
        assert!(scan["scanned_bytes"].as_u64().unwrap() >= pages * 65536);
    }
}

/// Flip one byte of a cached artifact, or put another module's artifact in its place: the
/// next runtime recompiles from the component instead of loading either as native code.
#[tokio::test]
async fn a_tampered_precompiled_module_is_recompiled_not_loaded() {
    let cache = CacheDir::new();
    let component = fixture("echo");
    let compiled = runtime(&cache).load(&component).await.unwrap();
    let artifact = cache.0.join(format!("{}.cwasm", compiled.digest));
    assert!(
        cache
            .0
            .join(format!("{}.cwasm.sha256", compiled.digest))
            .is_file()
    );

    let mut code = std::fs::read(&artifact).unwrap();
    let middle = code.len() / 2;
    code[middle] ^= 0xff;
    std::fs::write(&artifact, &code).unwrap();
    let reloaded = runtime(&cache).load(&component).await.unwrap();
    assert_eq!(reloaded.origin, Origin::Compiled);

    let spin = runtime(&cache).load(&fixture("spin")).await.unwrap();
    std::fs::copy(cache.0.join(format!("{}.cwasm", spin.digest)), &artifact).unwrap();
    let fresh = runtime(&cache);
    let reloaded = fresh.load(&component).await.unwrap();
    assert_eq!(reloaded.origin, Origin::Compiled);
    assert_eq!(reloaded.manifest, compiled.manifest);
    echo(&fresh, &reloaded, Uuid::now_v7(), "/echo/1").await;
    assert_eq!(
        runtime(&cache).load(&component).await.unwrap().origin,
        Origin::DiskCache,
        "the recompiled artifact is used again"
    );
}

/// Code another host build compiled (same wasmtime, same settings) is recompiled.
#[tokio::test]
async fn code_compiled_by_another_build_is_not_loaded() {
    let cache = CacheDir::new();
    let component = fixture("echo");
    let mut other = RuntimeConfig::new(&cache.0);
    other.build = "0.0.0+another-build".into();
    Runtime::new(other).unwrap().load(&component).await.unwrap();
    let ours = runtime(&cache);
    let loaded = ours.load(&component).await.unwrap();
    assert_eq!(loaded.origin, Origin::Compiled);
    echo(&ours, &loaded, Uuid::now_v7(), "/echo/1").await;
}

#[test]
fn a_cache_directory_other_users_can_reach_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let cache = CacheDir::new();
    std::fs::create_dir_all(&cache.0).unwrap();
    std::fs::set_permissions(&cache.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = Runtime::new(RuntimeConfig::new(&cache.0))
        .err()
        .expect("a 0755 cache directory is refused")
        .to_string();
    assert!(error.contains("mode 0755"), "{error}");
    assert!(error.contains("private to this server's user"), "{error}");
    std::fs::set_permissions(&cache.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    Runtime::new(RuntimeConfig::new(&cache.0)).expect("a 0700 directory is used");
}

/// A call whose deadline is above the ordinary one is long: it counts against its tenant's
/// share of long calls (429 `tenant_busy` past it) and runs on the long-call pool, while
/// another tenant's long call runs beside it.
#[tokio::test]
async fn long_calls_count_against_their_tenants_share_only() {
    let cache = CacheDir::new();
    let mut config = RuntimeConfig::new(&cache.0);
    config.max_instances = 16;
    config.shares.long_above = Duration::from_millis(100);
    config.shares.long_calls_per_tenant = 1;
    let runtime = Runtime::new(config).unwrap();
    let spin = runtime
        .load_with_limits(&fixture("spin"), impatient())
        .await
        .unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let call = |tenant| {
        runtime.handle(
            &spin,
            call_for(tenant, &Memory::default()),
            request("GET", "/", &[]),
        )
    };
    // Admission happens at a call's first poll, and `join!` polls in order.
    let (first, second, other) = tokio::join!(call(a), call(a), call(b));
    assert_eq!(code_of(&first.unwrap_err()).1, "module_timeout");
    assert_eq!(code_of(&second.unwrap_err()), (429, "tenant_busy"));
    assert_eq!(code_of(&other.unwrap_err()).1, "module_timeout");
    // The share is given back when the call ends.
    assert_eq!(code_of(&call(a).await.unwrap_err()).1, "module_timeout");
}
