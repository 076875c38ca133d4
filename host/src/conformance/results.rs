//! Results per version (`module_conformance`, migration 0017): a run starts `pending`, ends
//! `passed` or `failed`, and the operator may mark a version `overridden` (who and why are
//! kept). Each run has an id; only the newest run of a version may write its result, and a
//! result that lands after an override keeps the override (the steps are still recorded).

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::pack::{self, Pack};
use super::runner::Report;
use crate::error::{Error, Result};
use crate::registry::Version;
use crate::tenancy::TenantTx;

/// Failures a summary shows (the operator's record has every step).
const SUMMARY_FAILURES: usize = 5;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Record {
    pub digest: String,
    pub pack: String,
    pub pack_digest: String,
    pub status: String,
    pub passed: i32,
    pub failed: i32,
    pub steps: Value,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ran_at: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_ms: Option<i32>,
    pub overridden_by: Option<String>,
    pub overridden_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: Option<String>,
}

const SELECT_RECORD: &str =
    "SELECT digest, pack, pack_digest, status, passed, failed, steps, started_at, ran_at,
        duration_ms, overridden_by, overridden_at, reason FROM module_conformance";

/// Records a pending run for a version that has none yet; the run's id, or none when the
/// version was judged before (the same bytes uploaded again).
pub async fn begin(pool: &PgPool, digest: &str, pack: &Pack) -> Result<Option<Uuid>> {
    let run = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO module_conformance (digest, pack, pack_digest, status, run_id)
         VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(&pack.name)
    .bind(&pack.digest)
    .bind(run)
    .execute(pool)
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(run))
}

/// Starts a new run of a version, judged before or not: pending again, any override cleared
/// (the operator asked for a fresh verdict).
pub async fn restart(pool: &PgPool, digest: &str, pack: &Pack) -> Result<Uuid> {
    let run = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO module_conformance (digest, pack, pack_digest, status, run_id)
         VALUES ($1, $2, $3, 'pending', $4)
         ON CONFLICT (digest) DO UPDATE SET pack = $2, pack_digest = $3, status = 'pending',
             run_id = $4, passed = 0, failed = 0, steps = '[]', started_at = EXCLUDED.started_at, ran_at = NULL,
             duration_ms = NULL, overridden_by = NULL, overridden_at = NULL, reason = NULL",
    )
    .bind(digest)
    .bind(&pack.name)
    .bind(&pack.digest)
    .bind(run)
    .execute(pool)
    .await?;
    Ok(run)
}

/// Writes a run's result, if it is still the version's newest run.
pub async fn finish(pool: &PgPool, digest: &str, run: Uuid, report: &Report) -> Result<()> {
    let status = if report.ok() { "passed" } else { "failed" };
    sqlx::query(
        "UPDATE module_conformance SET
             status = CASE WHEN status = 'overridden' THEN status ELSE $3 END,
             passed = $4, failed = $5, steps = $6, ran_at = now(), duration_ms = $7
         WHERE digest = $1 AND run_id = $2",
    )
    .bind(digest)
    .bind(run)
    .bind(status)
    .bind(report.passed as i32)
    .bind(report.failed as i32)
    .bind(serde_json::to_value(&report.steps).map_err(anyhow::Error::from)?)
    .bind(report.duration_ms.min(i32::MAX as u64) as i32)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a judged version bindable whatever its pack said; false when it has no result.
pub async fn override_verdict(pool: &PgPool, digest: &str, by: &str, reason: &str) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE module_conformance SET status = 'overridden', overridden_by = $2,
             overridden_at = now(), reason = $3 WHERE digest = $1",
    )
    .bind(digest)
    .bind(by)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn record(pool: &PgPool, digest: &str) -> Result<Option<Record>> {
    Ok(
        sqlx::query_as(&format!("{SELECT_RECORD} WHERE digest = $1"))
            .bind(digest)
            .fetch_optional(pool)
            .await?,
    )
}

/// What a version record shows of its conformance: `{"status", "pack", "passed", "failed",
/// "steps": [the first failures, with expected and actual]}`. `not_applicable` for a slot
/// without a pack (and for built-ins never run), `not_run` for an upload that predates
/// conformance.
pub async fn summary(pool: &PgPool, digest: &str) -> Result<Value> {
    let version: Option<(String, bool)> =
        sqlx::query_as("SELECT slot, builtin FROM module_versions WHERE digest = $1")
            .bind(digest)
            .fetch_optional(pool)
            .await?;
    let (slot, builtin) = version.ok_or_else(|| Error::not_found("module version"))?;
    let Some(record) = record(pool, digest).await? else {
        let status = match !builtin && pack::for_slot(&slot).is_some() {
            true => "not_run",
            false => "not_applicable",
        };
        return Ok(json!({"status": status, "pack": pack::for_slot(&slot).map(|p| p.name)}));
    };
    let failures: Vec<&Value> = record
        .steps
        .as_array()
        .into_iter()
        .flatten()
        .filter(|step| step["passed"] == json!(false))
        .take(SUMMARY_FAILURES)
        .collect();
    Ok(json!({
        "status": record.status,
        "pack": record.pack,
        "pack_digest": record.pack_digest,
        "passed": record.passed,
        "failed": record.failed,
        "ran_at": record.ran_at,
        "duration_ms": record.duration_ms,
        "overridden_by": record.overridden_by,
        "reason": record.reason,
        "steps": failures,
    }))
}

/// Refuses binding a core slot to an upload whose pack has not passed (or been overridden):
/// 409 `conformance_failed` naming the first failing step, or `conformance_pending`. Read in
/// the binding tenant's own transaction.
pub async fn require_bindable(tx: &mut TenantTx, version: &Version) -> Result<()> {
    if version.builtin || !pack::is_core(&version.slot) || pack::for_slot(&version.slot).is_none() {
        return Ok(());
    }
    let found: Option<(String, String, Value)> =
        sqlx::query_as("SELECT status, pack, steps FROM module_conformance WHERE digest = $1")
            .bind(&version.digest)
            .fetch_optional(tx.conn())
            .await?;
    let who = format!("{}@{}", version.name, version.version);
    match found {
        None => Err(Error::conflict(
            "conformance_pending",
            format!(
                "{who} has not been through the {} conformance pack; the operator can run it",
                version.slot
            ),
        )),
        Some((status, _, _)) if status == "passed" || status == "overridden" => Ok(()),
        Some((status, _, _)) if status == "pending" => Err(Error::conflict(
            "conformance_pending",
            format!(
                "{who} is still running the {} conformance pack; try again shortly",
                version.slot
            ),
        )
        .with_retry_after(5)),
        Some((_, pack, steps)) => Err(Error::conflict(
            "conformance_failed",
            format!(
                "{who} failed the {pack} conformance pack: {}",
                first_failure(&steps)
            ),
        )),
    }
}

/// `step "create a customer": body.name expected "string", got "absent"`.
fn first_failure(steps: &Value) -> String {
    let Some(step) = steps
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["passed"] == json!(false))
    else {
        return "no step passed".into();
    };
    let name = step["name"].as_str().unwrap_or_default();
    if let Some(error) = step["error"].as_str() {
        return format!("step \"{name}\": {error}");
    }
    let what = step["mismatches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} expected {}, got {}",
                m["check"].as_str().unwrap_or_default(),
                m["expected"],
                m["actual"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!("step \"{name}\": {what}")
}
