//! Benchmark on Solomon / Gehring-Homberger files: solve each instance with a budget and a
//! seed, verify the plan with the independent checker, compare with the best known
//! distance, and print a table plus per-family means. Writes CSV and JSON next to it.
//!
//! Usage: vrptw-bench --data DIR --budget SECS [--seed N] [--only C101,R201] [--max-iterations N]
//!                    [--out DIR] [--label NAME] [search tuning flags, see parse_args]
//!        vrptw-bench --synthetic JOBS,VEHICLES --budget SECS [--seed N] [--max-iterations N]
//!
//! The synthetic mode generates a field-service day at the product's size limits (lat/lon
//! around a city, haversine at 8 m/s, a lunch break per technician, skills, one or two
//! windows per job) to measure throughput where there is no reference value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use vrptw::{SearchParams, SolveOptions, check, solomon, solve, synthetic};

struct Args {
    data: PathBuf,
    budget: f64,
    seed: u64,
    only: Vec<String>,
    out: Option<PathBuf>,
    label: Option<String>,
    params: SearchParams,
    synthetic: Option<(usize, usize)>,
    max_iterations: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::new(),
        budget: 1.0,
        seed: 1,
        only: Vec::new(),
        out: None,
        label: None,
        params: SearchParams::default(),
        synthetic: None,
        max_iterations: u64::MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = value()?.into(),
            "--budget" => args.budget = value()?.parse().map_err(|e| format!("--budget: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            // A machine-independent budget: with it the run is reproducible bit for bit.
            "--max-iterations" => {
                args.max_iterations = value()?
                    .parse()
                    .map_err(|e| format!("--max-iterations: {e}"))?
            }
            "--only" => {
                args.only = value()?
                    .split(',')
                    .map(|s| s.trim().to_uppercase())
                    .collect()
            }
            "--out" => args.out = Some(value()?.into()),
            "--label" => args.label = Some(value()?),
            "--synthetic" => {
                let size = synthetic::parse_size(&value()?);
                args.synthetic = Some(size.map_err(|e| format!("--synthetic: {e}"))?);
            }
            // Search tuning, for experiments; the defaults are what the results report.
            "--start-temperature" => args.params.start_temperature = number(&flag, value()?)?,
            "--end-temperature" => args.params.end_temperature = number(&flag, value()?)?,
            "--average-removed" => args.params.average_removed = number(&flag, value()?)?,
            "--max-string-length" => args.params.max_string_length = number(&flag, value()?)?,
            "--blink-rate" => args.params.blink_rate = number(&flag, value()?)?,
            "--route-removal-rate" => args.params.route_removal_rate = number(&flag, value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.data.as_os_str().is_empty() && args.synthetic.is_none() {
        return Err("--data DIR is required (e.g. ../shared/data/solomon)".into());
    }
    Ok(args)
}

fn number(flag: &str, text: String) -> Result<f64, String> {
    text.parse().map_err(|e| format!("{flag}: {e}"))
}

#[derive(Serialize)]
struct Row {
    instance: String,
    family: String,
    distance: f64,
    vehicles: usize,
    bks: f64,
    gap_percent: f64,
    time_s: f64,
    iterations: u64,
    unassigned: usize,
    feasible: bool,
}

fn family(name: &str) -> String {
    let upper = name.to_uppercase();
    if let Some((head, _)) = upper.split_once('_') {
        return head.to_string();
    }
    let letters: String = upper
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let digit = upper[letters.len()..].chars().next().unwrap_or('?');
    format!("{letters}{digit}")
}

fn reference_cost(bks: &serde_json::Value, name: &str) -> Option<f64> {
    let entry = bks.get(name).or_else(|| bks.get(name.to_uppercase()))?;
    entry
        .get("distance_bks_cost")
        .and_then(|v| v.as_f64())
        .or_else(|| entry.get("bks_cost").and_then(|v| v.as_f64()))
}

fn run(args: &Args) -> Result<Vec<Row>, String> {
    let bks_text = std::fs::read_to_string(args.data.join("BKS.json"))
        .map_err(|e| format!("BKS.json: {e}"))?;
    let bks: serde_json::Value =
        serde_json::from_str(&bks_text).map_err(|e| format!("BKS.json: {e}"))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.data)
        .map_err(|e| format!("{}: {e}", args.data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "txt")
                && p.file_stem().is_some_and(|s| s != "SOURCE")
        })
        .collect();
    files.sort();

    println!(
        "{:<10} {:>10} {:>4} {:>10} {:>7} {:>7} {:>9}  check",
        "instance", "distance", "veh", "bks", "gap%", "time_s", "iters"
    );
    let mut rows = Vec::new();
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !args.only.is_empty() && !args.only.contains(&stem.to_uppercase()) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let instance = solomon::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let reference = reference_cost(&bks, &stem).ok_or(format!("{stem}: not in BKS.json"))?;
        let options = SolveOptions {
            seed: args.seed,
            time_limit_secs: args.budget,
            max_iterations: args.max_iterations,
            params: args.params.clone(),
            ..SolveOptions::default()
        };
        let started = Instant::now();
        let solution = solve(&instance.problem, &options)
            .map_err(|e| format!("{stem}: invalid problem: {e:?}"))?;
        let time_s = started.elapsed().as_secs_f64();
        let violations = check::check(&instance.problem, &solution);
        let feasible = violations.is_empty() && solution.unassigned.is_empty();
        let gap = 100.0 * (solution.total_distance - reference) / reference;
        let status = if feasible {
            "ok".to_string()
        } else {
            format!(
                "INFEASIBLE: {} unassigned; {}",
                solution.unassigned.len(),
                violations
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        println!(
            "{:<10} {:>10.2} {:>4} {:>10.2} {:>7.2} {:>7.2} {:>9}  {status}",
            stem,
            solution.total_distance,
            solution.routes.len(),
            reference,
            gap,
            time_s,
            solution.stats.iterations
        );
        rows.push(Row {
            family: family(&stem),
            instance: stem,
            distance: solution.total_distance,
            vehicles: solution.routes.len(),
            bks: reference,
            gap_percent: gap,
            time_s,
            iterations: solution.stats.iterations,
            unassigned: solution.unassigned.len(),
            feasible,
        });
    }
    Ok(rows)
}

fn summary(rows: &[Row]) -> String {
    let mut families: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for row in rows {
        families
            .entry(&row.family)
            .or_default()
            .push(row.gap_percent);
    }
    let mut out = String::new();
    for (name, gaps) in &families {
        let _ = writeln!(
            out,
            "family {name:<4} n={:>2} mean gap {:.2}%",
            gaps.len(),
            mean(gaps)
        );
    }
    let all: Vec<f64> = rows.iter().map(|r| r.gap_percent).collect();
    let infeasible = rows.iter().filter(|r| !r.feasible).count();
    let _ = writeln!(
        out,
        "overall  n={:>2} mean gap {:.2}%  infeasible {infeasible}",
        all.len(),
        mean(&all)
    );
    out
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

fn write_results(dir: &Path, label: &str, rows: &[Row]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from(
        "instance,family,distance,vehicles,bks,gap_percent,time_s,iterations,unassigned,feasible\n",
    );
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{},{:.2},{},{},{:.4},{:.3},{},{},{}",
            r.instance,
            r.family,
            r.distance,
            r.vehicles,
            r.bks,
            r.gap_percent,
            r.time_s,
            r.iterations,
            r.unassigned,
            r.feasible
        );
    }
    std::fs::write(dir.join(format!("{label}.csv")), csv)?;
    let json = serde_json::to_string_pretty(rows).expect("rows serialise");
    std::fs::write(dir.join(format!("{label}.json")), json)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vrptw-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some((jobs, vehicles)) = args.synthetic {
        return synthetic(jobs, vehicles, &args);
    }
    let rows = match run(&args) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("vrptw-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", summary(&rows));
    if let Some(dir) = &args.out {
        let set = args
            .data
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("data");
        let label = args
            .label
            .clone()
            .unwrap_or(format!("vrptw_{set}_{}s", args.budget));
        if let Err(e) = write_results(dir, &label, &rows) {
            eprintln!("vrptw-bench: writing results: {e}");
            return ExitCode::FAILURE;
        }
    }
    if rows.iter().all(|r| r.feasible) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn synthetic(n_jobs: usize, n_vehicles: usize, args: &Args) -> ExitCode {
    let problem = synthetic::city_day(n_jobs, n_vehicles);
    let options = SolveOptions {
        seed: args.seed,
        time_limit_secs: args.budget,
        max_iterations: args.max_iterations,
        params: args.params.clone(),
        ..SolveOptions::default()
    };
    let started = Instant::now();
    let solution = match solve(&problem, &options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vrptw-bench: invalid problem: {e:?}");
            return ExitCode::FAILURE;
        }
    };
    let took = started.elapsed().as_secs_f64();
    let violations = check::check(&problem, &solution);
    println!(
        "synthetic jobs={n_jobs} vehicles={n_vehicles} budget={}s took={took:.2}s iterations={} \
         routes={} unassigned={} distance_km={:.1} check={}",
        args.budget,
        solution.stats.iterations,
        solution.routes.len(),
        solution.unassigned.len(),
        solution.total_distance / 1000.0,
        if violations.is_empty() {
            "ok".to_string()
        } else {
            format!("{} violations", violations.len())
        }
    );
    if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
