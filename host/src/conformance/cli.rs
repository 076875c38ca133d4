//! `verofield module test [COMPONENT.wasm] [--scenarios FILE]`: a module author's harness.
//! Starts the real host on an embedded PostgreSQL in a temporary data directory (the built-in
//! modules from `--builtin-modules` / `VEROFIELD_BUILTIN_MODULES` serve the other slots),
//! publishes the component as an upload, runs its slot's conformance pack (if the slot is a
//! core one) and then the author's scenarios (same format, docs/CONFORMANCE.md) in one
//! throwaway tenant, prints a pass/fail line per step and fails when any step failed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::pack::{self, Pack};
use super::runner::Report;

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The component to test (default: the one `.wasm` in target/wasm32-wasip2/release).
    pub component: Option<PathBuf>,
    /// The author's own scenarios, in the pack format; run after the slot's pack.
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Print the reports as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &TestArgs) -> Result<()> {
    let path = match &args.component {
        Some(path) => path.clone(),
        None => only_component(Path::new("target/wasm32-wasip2/release"))?,
    };
    let component = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let scenarios = match &args.scenarios {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            Some(Pack::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?)
        }
        None => None,
    };
    let data_dir = std::env::temp_dir().join(format!(
        "verofield-module-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let outcome = test_in(&data_dir, &component, scenarios).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let (title, reports) = outcome?;
    print(&title, &reports, args.json)?;
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    if failed > 0 {
        let steps: usize = reports.iter().map(|r| r.steps.len()).sum();
        bail!("{failed} of {steps} steps failed");
    }
    Ok(())
}

/// Starts a host in `data_dir`, publishes the component and runs its packs.
async fn test_in(
    data_dir: &Path,
    component: &[u8],
    scenarios: Option<Pack>,
) -> Result<(String, Vec<Report>)> {
    // The same settings `serve` would resolve, on a private embedded database: never the
    // database DATABASE_URL names, and no scheduler (no task is due in a test run).
    // Compiled modules are kept between runs (by digest, checked on load): compiling every
    // built-in again would cost most of a run.
    let settings = crate::cli::in_process_settings(data_dir, None, Some(&module_cache_dir()))?;
    let host = crate::Host::start(&settings).await?;
    let outcome = publish_and_run(&host, component, scenarios).await;
    host.stop().await?;
    outcome
}

async fn publish_and_run(
    host: &crate::Host,
    component: &[u8],
    scenarios: Option<Pack>,
) -> Result<(String, Vec<Report>)> {
    let version = upload_as_published(host, component)
        .await
        .map_err(|error| anyhow::anyhow!("the host refused the component: {error}"))?;
    let mut packs: Vec<Pack> = pack::for_slot(&version.slot).into_iter().collect();
    packs.extend(scenarios);
    if packs.is_empty() {
        bail!(
            "nothing to run: slot `{}` has no conformance pack; give your own with --scenarios",
            version.slot
        );
    }
    let title = format!(
        "{} {} (slot {})",
        version.name, version.version, version.slot
    );
    let reports = super::run_packs(&host.state, &version, &packs).await?;
    Ok((title, reports))
}

/// Uploads the component under the policy its real upload will meet: a namespaced module as
/// its publisher (a throwaway one owning the namespace: the import allowlist, the namespace of
/// names and permissions apply), a bare name as the operator's upload.
async fn upload_as_published(
    host: &crate::Host,
    component: &[u8],
) -> crate::error::Result<crate::registry::Version> {
    use crate::registry::{Upload, Uploader, publishers};
    let registry = &host.state.registry;
    let manifest = registry
        .runtime()
        .load_upload(component)
        .await?
        .manifest
        .clone();
    let publisher = match manifest.namespace() {
        Some(namespace) => {
            let owner = format!("module-test@{namespace}.example.com");
            Some(
                publishers::create(&host.state.pool, namespace, namespace, &owner)
                    .await?
                    .0,
            )
        }
        None => None,
    };
    let uploader = match &publisher {
        Some(publisher) => Uploader::Publisher {
            id: publisher.id,
            namespace: &publisher.namespace,
        },
        None => Uploader::Operator,
    };
    let upload = Upload {
        component,
        uploader,
        notes: "verofield module test",
    };
    Ok(registry.upload(upload).await?.version)
}

/// `VEROFIELD_MODULE_CACHE_DIR`, else `~/.cache/verofield/modules` (the temp directory's
/// when there is no home).
fn module_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VEROFIELD_MODULE_CACHE_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home.join("verofield").join("modules")
}

fn only_component(dir: &Path) -> Result<PathBuf> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("no component given and no {}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "no component given and {} holds {} .wasm files; name one",
            dir.display(),
            found.len()
        ),
    }
}

fn print(title: &str, reports: &[Report], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({"module": title, "packs": reports}))?
        );
        return Ok(());
    }
    println!("module test: {title}");
    for report in reports {
        println!("\npack {} ({} steps)", report.pack, report.steps.len());
        for step in &report.steps {
            let verdict = if step.passed { "PASS" } else { "FAIL" };
            let status = step.status.map_or("-".to_owned(), |s| s.to_string());
            println!(
                "  {verdict}  {}  [{} {} -> {status}, {} ms]",
                step.name, step.method, step.path, step.duration_ms
            );
            if let Some(error) = &step.error {
                println!("        {error}");
            }
            for mismatch in &step.mismatches {
                println!(
                    "        {}: expected {}, got {}",
                    mismatch.check, mismatch.expected, mismatch.actual
                );
            }
        }
        println!(
            "{}: {} passed, {} failed in {} ms",
            report.pack, report.passed, report.failed, report.duration_ms
        );
    }
    Ok(())
}
