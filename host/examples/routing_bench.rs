//! Native solver vs the routing module in wasmtime: the same solve (Solomon instance, fixed
//! iteration count, fixed seed) run natively with the `vrptw` crate and through the built-in
//! routing component, loaded in the host's own [`Runtime`] (trusted limits, as the server
//! gives built-ins) and called with an inline problem and an in-memory store.
//!
//! ```text
//! cargo build --manifest-path plugins/Cargo.toml -p verofield-routing --target wasm32-wasip2 --release
//! cargo run --release -p verofield --example routing_bench -- \
//!     --component plugins/target/wasm32-wasip2/release/verofield_routing.wasm \
//!     --data ../shared/data/solomon --only C101,R101,RC101,R201 --iterations 20000 --repeat 3
//! ```
//!
//! Per instance it prints the best of `--repeat` runs (alternating native and wasm) of: the
//! solver's own search time, wall clock (native: `Solution.stats`; wasm: the
//! `search.elapsed_ms` the module reports, measured inside wasm with the WASI monotonic
//! clock); the CPU time of the whole call on this thread (native: parse the problem JSON,
//! solve, serialise the solution; wasm: instantiate, `handle`, answer), which a loaded
//! machine inflates far less than wall time; the wasm/native ratios; and whether both found
//! the same distance. Set `VEROFIELD_WASM_PERF_MAP=1` to profile the module with `perf`.
//!
//! `--synthetic JOBS,VEHICLES` runs the same comparison on the generated product-size day
//! (`vrptw::synthetic`: lat/lon, breaks, skills, several windows) instead of Solomon files.
//!
//! Quality mode, `--budget-ms MS [--only all|C101,...]`: every instance solved once through
//! the module with that time budget (as the product runs it), with the gap to BKS.json's
//! distance-only best known value per instance and per family.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;
use verofield::runtime::capabilities::store::{
    AggregateQuery, BoxFuture, JsonObject, Page, Row, SelectQuery, StoreError, StoreResult,
};
use verofield::runtime::{
    CallContext, Caller, EventError, EventSink, Request, Runtime, RuntimeConfig, StoreBackend,
};

/// Native solver vs the routing module in wasmtime, on Solomon-format instances.
#[derive(clap::Parser)]
struct Args {
    /// The routing component.
    #[arg(
        long,
        default_value = "plugins/target/wasm32-wasip2/release/verofield_routing.wasm"
    )]
    component: PathBuf,
    /// The directory of Solomon-format instances (and their BKS.json).
    #[arg(long, default_value = "../shared/data/solomon")]
    data: PathBuf,
    /// Instances, comma-separated, or `all`.
    #[arg(long, value_delimiter = ',', default_value = "C101,R101,RC101,R201")]
    only: Vec<String>,
    /// Search iterations per solve (the time budget is large enough never to stop it).
    #[arg(long, default_value_t = 20_000)]
    iterations: u64,
    /// Runs per instance and side; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// The search's seed (both sides use it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Quality mode: solve every instance once through the module with this time budget.
    #[arg(long)]
    budget_ms: Option<u64>,
    /// Instead of Solomon files, the generated product-size day (`vrptw::synthetic`) of
    /// JOBS jobs and VEHICLES technicians, as `JOBS,VEHICLES`.
    #[arg(long, value_parser = vrptw::synthetic::parse_size, conflicts_with = "budget_ms")]
    synthetic: Option<(usize, usize)>,
}

/// Rows kept in memory: the module stores its plan; nothing else is asked of the store.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<Row>>>);

fn refused<T>() -> StoreResult<T> {
    Err(StoreError::Invalid("not in this benchmark".into()))
}

impl StoreBackend for Memory {
    fn get<'a>(&'a mut self, _: &'a str, _: Uuid) -> BoxFuture<'a, StoreResult<Option<Row>>> {
        Box::pin(async { Ok(None) })
    }
    fn select(&mut self, _: SelectQuery) -> BoxFuture<'_, StoreResult<Page>> {
        Box::pin(async { refused() })
    }
    fn insert<'a>(&'a mut self, _: &'a str, values: JsonObject) -> BoxFuture<'a, StoreResult<Row>> {
        let row = Row {
            id: Uuid::now_v7(),
            version: 1,
            values,
        };
        self.0.lock().unwrap().push(row.clone());
        Box::pin(async move { Ok(row) })
    }
    fn update<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: u64,
        _: JsonObject,
    ) -> BoxFuture<'a, StoreResult<Row>> {
        Box::pin(async { refused() })
    }
    fn delete<'a>(
        &'a mut self,
        _: &'a str,
        _: Uuid,
        _: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async { refused() })
    }
    fn aggregate(&mut self, _: AggregateQuery) -> BoxFuture<'_, StoreResult<Vec<JsonObject>>> {
        Box::pin(async { refused() })
    }
}

impl EventSink for Memory {
    fn emit<'a>(&'a mut self, _: &'a str, _: JsonObject) -> BoxFuture<'a, Result<(), EventError>> {
        Box::pin(async { Ok(()) })
    }
}

struct Run {
    search: Duration,
    /// CPU time of this thread over the whole call: unlike wall time, it does not grow
    /// when other processes take the core away (the machine is shared).
    cpu: Duration,
    distance: f64,
    iterations: u64,
    routes: u64,
    unassigned: u64,
}

/// CPU time used by the calling thread so far. Both sides run on this thread: `main` is a
/// current-thread runtime and a module call runs inside the future that awaits it.
fn thread_cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32)
}

fn native(problem_json: &str, iterations: u64, seed: u64) -> Run {
    let cpu_started = thread_cpu();
    let problem: vrptw::Problem = serde_json::from_str(problem_json).expect("problem");
    let options = vrptw::SolveOptions {
        seed,
        time_limit_secs: 1e9,
        max_iterations: iterations,
        ..vrptw::SolveOptions::default()
    };
    let solution = vrptw::solve(&problem, &options).expect("a valid problem");
    let answer = serde_json::to_vec(&solution).expect("serialisable");
    std::hint::black_box(answer);
    Run {
        search: Duration::from_secs_f64(solution.stats.elapsed_secs),
        cpu: thread_cpu() - cpu_started,
        distance: solution.total_distance,
        iterations: solution.stats.iterations,
        routes: solution.routes.len() as u64,
        unassigned: solution.unassigned.len() as u64,
    }
}

async fn wasm(runtime: &Runtime, module: &verofield::runtime::LoadedModule, body: &[u8]) -> Run {
    let memory = Memory::default();
    let call = CallContext {
        tenant_id: Uuid::now_v7(),
        time_zone: "UTC".into(),
        caller: Caller {
            user_id: Uuid::now_v7(),
            roles: vec!["dispatcher".into()],
            permissions: vec!["routing.optimize".into()],
        },
        request_id: "bench".into(),
        store: Box::new(memory.clone()),
        events: Box::new(memory),
        payments: verofield::runtime::no_payments(),
        config: verofield::runtime::no_config(),
        http: Box::new(verofield::outbound::Outbound::default()),
        extensions: verofield::runtime::no_extensions(),
    };
    let request = Request {
        method: "POST".into(),
        path: "/optimize".into(),
        query: Vec::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_vec(),
        route: "/optimize".into(),
        params: Vec::new(),
    };
    let cpu_started = thread_cpu();
    let (response, _usage) = runtime
        .handle(module, call, request)
        .await
        .expect("the module answers");
    let cpu = thread_cpu() - cpu_started;
    let plan: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(response.status, 201, "{plan}");
    Run {
        search: Duration::from_millis(plan["search"]["elapsed_ms"].as_u64().unwrap()),
        cpu,
        distance: plan["summary"]["total_distance"].as_f64().unwrap(),
        iterations: plan["search"]["iterations"].as_u64().unwrap(),
        routes: plan["summary"]["routes"].as_u64().unwrap(),
        unassigned: plan["summary"]["unassigned"].as_u64().unwrap(),
    }
}

/// The best of the runs: on a shared machine the load only ever adds time.
fn best(values: Vec<Duration>) -> Duration {
    values.into_iter().min().unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = <Args as clap::Parser>::parse();
    let cache = std::env::temp_dir().join(format!("routing-bench-{}", Uuid::new_v4()));
    let mut config = RuntimeConfig::new(&cache);
    // `perf record` of this example names the component's functions when this is set.
    config.perf_map = std::env::var_os("VEROFIELD_WASM_PERF_MAP").is_some();
    config.max_instances = 4;
    let runtime = Runtime::new(config)?;
    let component = std::fs::read(&args.component)?;
    let module = runtime.load_trusted(&component).await?;
    println!(
        "routing module {} ({} KiB), deadline {} ms; {} iterations, seed {}, best of {}",
        module.manifest.version,
        component.len() / 1024,
        module.limits().deadline.as_millis(),
        args.iterations,
        args.seed,
        args.repeat
    );
    if args.only == ["all"] {
        let mut names: Vec<String> = std::fs::read_dir(&args.data)?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                Some(name.strip_suffix(".txt")?.to_owned())
            })
            // Instances are named like C101 or RC2_2_1; SOURCE.txt and the like are not.
            .filter(|name| name.contains(|c: char| c.is_ascii_digit()))
            .collect();
        names.sort();
        args.only = names;
    }
    if let Some(budget_ms) = args.budget_ms {
        quality(&runtime, &module, &args, budget_ms).await?;
        let _ = std::fs::remove_dir_all(&cache);
        return Ok(());
    }
    println!(
        "| instance | native search (s) | wasm search (s) | ratio | native call CPU (s) | wasm call CPU (s) | ratio | same distance |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let problems = match args.synthetic {
        Some((jobs, vehicles)) => vec![(
            format!("day {jobs} jobs / {vehicles} technicians"),
            vrptw::synthetic::city_day(jobs, vehicles),
        )],
        None => args
            .only
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(args.data.join(format!("{name}.txt")))?;
                let instance = vrptw::solomon::parse(&text).map_err(anyhow::Error::msg)?;
                Ok((name.clone(), instance.problem))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    let mut totals = [Duration::ZERO; 4]; // native and wasm search, native and wasm call CPU
    for (name, problem) in &problems {
        let problem_json = serde_json::to_string(problem)?;
        let body = serde_json::to_vec(&json!({
            "problem": problem,
            "max_iterations": args.iterations,
            "seed": args.seed,
            "time_budget_ms": 600_000,
        }))?;
        let mut natives = Vec::new();
        let mut wasms = Vec::new();
        for _ in 0..args.repeat {
            natives.push(native(&problem_json, args.iterations, args.seed));
            wasms.push(wasm(&runtime, &module, &body).await);
        }
        for run in natives.iter().chain(&wasms) {
            assert_eq!(run.iterations, args.iterations, "a fixed iteration count");
        }
        let n_search = best(natives.iter().map(|r| r.search).collect());
        let w_search = best(wasms.iter().map(|r| r.search).collect());
        let n_cpu = best(natives.iter().map(|r| r.cpu).collect());
        let w_cpu = best(wasms.iter().map(|r| r.cpu).collect());
        for (total, time) in totals.iter_mut().zip([n_search, w_search, n_cpu, w_cpu]) {
            *total += time;
        }
        let same = (natives[0].distance - wasms[0].distance).abs() < 1e-6;
        println!(
            "| {name} | {:.3} | {:.3} | {:.2} | {:.3} | {:.3} | {:.2} | {} ({:.1} / {:.1}) |",
            n_search.as_secs_f64(),
            w_search.as_secs_f64(),
            w_search.as_secs_f64() / n_search.as_secs_f64(),
            n_cpu.as_secs_f64(),
            w_cpu.as_secs_f64(),
            w_cpu.as_secs_f64() / n_cpu.as_secs_f64(),
            if same { "yes" } else { "no" },
            natives[0].distance,
            wasms[0].distance,
        );
    }
    let [n_search, w_search, n_cpu, w_cpu] = totals.map(|total| total.as_secs_f64());
    println!(
        "| all | {n_search:.3} | {w_search:.3} | {:.2} | {n_cpu:.3} | {w_cpu:.3} | {:.2} | |",
        w_search / n_search,
        w_cpu / n_cpu
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// Quality mode (`--budget-ms`): every instance solved once through the module with a time
/// budget, as the product runs it, and compared with the best known distance in the data
/// directory's BKS.json (`distance_bks_cost`); per-family means at the end.
async fn quality(
    runtime: &Runtime,
    module: &verofield::runtime::LoadedModule,
    args: &Args,
    budget_ms: u64,
) -> anyhow::Result<()> {
    let bks: Value = serde_json::from_str(&std::fs::read_to_string(args.data.join("BKS.json"))?)?;
    println!(
        "| instance | distance | vehicles | unassigned | BKS | gap % | search (s) | iterations |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut families: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for name in &args.only {
        let text = std::fs::read_to_string(args.data.join(format!("{name}.txt")))?;
        let instance = vrptw::solomon::parse(&text).map_err(anyhow::Error::msg)?;
        let body = serde_json::to_vec(&json!({
            "problem": instance.problem,
            "seed": args.seed,
            "time_budget_ms": budget_ms,
        }))?;
        let run = wasm(runtime, module, &body).await;
        let reference = bks[name.as_str()]["distance_bks_cost"]
            .as_f64()
            .or_else(|| bks[name.as_str()]["bks_cost"].as_f64());
        let gap = reference.map(|r| 100.0 * (run.distance - r) / r);
        if let Some(gap) = gap {
            // C1, C2, R1, R2, RC1, RC2: the letters and the first digit.
            let digits = name
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(name.len());
            let family = name[..(digits + 1).min(name.len())].to_owned();
            families.entry(family).or_default().push(gap);
        }
        println!(
            "| {name} | {:.2} | {} | {} | {} | {} | {:.2} | {} |",
            run.distance,
            run.routes,
            run.unassigned,
            reference.map_or("-".into(), |r| format!("{r:.2}")),
            gap.map_or("-".into(), |g| format!("{g:.2}")),
            run.search.as_secs_f64(),
            run.iterations
        );
    }
    let all: Vec<f64> = families.values().flatten().copied().collect();
    let mean = |gaps: &[f64]| gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
    for (family, gaps) in &families {
        println!(
            "family {family} n={} mean gap {:.2}%",
            gaps.len(),
            mean(gaps)
        );
    }
    println!("overall n={} mean gap {:.2}%", all.len(), mean(&all));
    Ok(())
}
