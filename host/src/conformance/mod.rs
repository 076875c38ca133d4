//! Conformance: does an uploaded module still keep its slot's contract? Each core slot has a
//! pack of HTTP scenarios ([`pack`], data in `conformance/<slot>.json`); on upload of a
//! version for a core slot the pack runs off the request path ([`on_upload`]) in a throwaway
//! tenant ([`sandbox`]) through the real router ([`runner`]), and the result is stored with
//! the version ([`results`]). Binding a core slot to an upload whose pack did not pass is
//! refused ([`results::require_bindable`]) unless the operator overrode it. The same runner
//! serves `verofield module test` ([`cli`]). docs/CONFORMANCE.md documents the format.

pub mod cli;
pub mod expect;
pub mod pack;
pub mod results;
pub mod runner;
pub mod sandbox;

use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use self::pack::{Pack, is_core};
pub use self::results::require_bindable;
pub use self::runner::Report;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::registry::Version;

/// Packs run at once on a host: each holds a tenant's worth of module calls, and uploads
/// must not crowd out the tenants' own requests.
static RUNS: Semaphore = Semaphore::const_new(2);

/// What the version records of the operator's and publishers' endpoints show.
pub async fn summary(pool: &PgPool, digest: &str) -> Result<Value> {
    results::summary(pool, digest).await
}

/// Called after an upload is recorded: a version of a core slot (not a built-in) gets a
/// pending result and its pack starts in the background; uploading the same bytes again
/// starts nothing. Other versions are `not_applicable`. Answers the version's summary as
/// it stands once the run is under way.
pub async fn on_upload(state: &AppState, version: &Version) -> Result<Value> {
    if !version.builtin
        && is_core(&version.slot)
        && let Some(pack) = pack::for_slot(&version.slot)
        && let Some(run) = results::begin(&state.pool, &version.digest, &pack).await?
    {
        spawn_run(state, version, pack, run);
    }
    summary(&state.pool, &version.digest).await
}

/// Runs a version's pack again (the operator's rerun; built-ins too): pending at once,
/// the result when the run ends.
pub async fn rerun(state: &AppState, version: &Version) -> Result<()> {
    let pack = pack::for_slot(&version.slot).ok_or_else(|| {
        Error::conflict(
            "conformance_not_applicable",
            format!("slot `{}` has no conformance pack", version.slot),
        )
    })?;
    let run = results::restart(&state.pool, &version.digest, &pack).await?;
    spawn_run(state, version, pack, run);
    Ok(())
}

/// Starts again every run left `pending` by a host that stopped before it ended (its task
/// died with it). Called once at start-up; a run another live host still has in flight is
/// started anew too, and only the newer run's result is kept (`run_id`).
pub async fn resume_pending(state: &AppState) -> Result<()> {
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT digest FROM module_conformance WHERE status = 'pending'")
            .fetch_all(&state.pool)
            .await?;
    for digest in pending {
        let version = state.registry.find(&digest).await?;
        tracing::info!(name = %version.name, version = %version.version, "resuming a conformance run");
        rerun(state, &version).await?;
    }
    Ok(())
}

fn spawn_run(state: &AppState, version: &Version, pack: Pack, run: Uuid) {
    let state = state.clone();
    let version = version.clone();
    tokio::spawn(async move {
        let _permit = RUNS.acquire().await.expect("the semaphore is never closed");
        let report = run_packs(&state, &version, std::slice::from_ref(&pack))
            .await
            .map(|mut reports| reports.remove(0))
            .unwrap_or_else(|error| Report::not_run(&pack, error.to_string()));
        tracing::info!(
            name = %version.name, version = %version.version, pack = %pack.name,
            passed = report.passed, failed = report.failed, duration_ms = report.duration_ms,
            "conformance pack ran"
        );
        if let Err(error) = results::finish(&state.pool, &version.digest, run, &report).await {
            tracing::error!(%error, digest = %version.digest, "recording a conformance result failed");
        }
    });
}

/// Runs `packs` in order against `version` in one throwaway tenant (captures carry from one
/// pack to the next), then deletes the tenant.
pub async fn run_packs(state: &AppState, version: &Version, packs: &[Pack]) -> Result<Vec<Report>> {
    let sandbox = sandbox::open(state, version).await?;
    let client = runner::Client::new(crate::http::router(state.clone()), sandbox.token.clone());
    let mut vars = expect::Variables::new();
    let mut reports = Vec::with_capacity(packs.len());
    for pack in packs {
        reports.push(runner::run(&client, pack, &mut vars).await);
    }
    sandbox::close(&state.pool, &sandbox).await;
    Ok(reports)
}
