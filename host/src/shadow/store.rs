//! The shadow tables (`migrations/0022_shadow_runs.sql`): a slot's run with its counters,
//! and a bounded set of example differences. Everything here runs in a tenant transaction
//! (RLS), with `tenant_id` filtered explicitly as every tenant query does.
//!
//! A run is active while it has not been ended by a call and `until` is ahead: expiry needs
//! no writer. Recording a run locks the slot's row (the counters' `UPDATE`) before counting
//! the examples of its kind, so concurrent runs never pass [`EXAMPLES_PER_KIND`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::compare::{Verdict, compare};
use super::{Job, Live, Outcome};
use crate::error::{Error, Result};
use crate::tenancy::TenantTx;

/// Example differences kept per kind and slot.
pub const EXAMPLES_PER_KIND: i64 = 20;
/// Bytes of each body kept in an example.
const BODY_BYTES: usize = 2048;

/// A slot's shadow run and its counters, as the report shows them.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ShadowRun)]
pub struct Run {
    pub slot: String,
    #[serde(skip)]
    pub run_id: Uuid,
    /// The candidate version's digest.
    pub digest: String,
    pub sample_percent: i32,
    pub started_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `running`, `expired` (past `until`), `stopped` or `promoted`.
    pub state: String,
    pub ended_at: Option<DateTime<Utc>>,
    /// Candidate runs compared.
    pub runs: i64,
    /// Runs whose answer matched the live one (after normalising ids and timestamps).
    pub identical: i64,
    pub status_differs: i64,
    pub body_differs: i64,
    pub traps: i64,
    pub route_missing: i64,
    /// Sampled requests not shadowed because the tenant or the host had no room for them.
    pub skipped: i64,
    #[serde(skip)]
    pub live_us: i64,
    #[serde(skip)]
    pub candidate_us: i64,
}

/// One example difference.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ShadowExample)]
pub struct Example {
    /// `status`, `body`, `trap` or `route_missing`.
    pub kind: String,
    pub method: String,
    pub path: String,
    pub live_status: i32,
    pub candidate_status: Option<i32>,
    /// JSON pointers of the fields that differ (`""`: the whole body).
    #[schema(value_type = Vec<String>)]
    pub differing_paths: sqlx::types::Json<Vec<String>>,
    /// The bodies, cut at 2 KiB.
    pub live_body: String,
    pub candidate_body: String,
    pub live_us: i64,
    pub candidate_us: i64,
    pub error: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

const SELECT_RUN: &str = "SELECT slot, run_id, digest, sample_percent, started_at, until,
    CASE WHEN ended_as IS NOT NULL THEN ended_as
         WHEN until <= now() THEN 'expired' ELSE 'running' END AS state,
    ended_at, runs, identical, status_differs, body_differs, traps, route_missing, skipped,
    live_us, candidate_us
    FROM module_shadows";

/// The slot's current or last run.
pub async fn run(tx: &mut TenantTx, slot: &str) -> Result<Option<Run>> {
    Ok(
        sqlx::query_as(&format!("{SELECT_RUN} WHERE tenant_id = $1 AND slot = $2"))
            .bind(tx.tenant_id())
            .bind(slot)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// The slot's examples, oldest first.
pub async fn examples(tx: &mut TenantTx, slot: &str) -> Result<Vec<Example>> {
    Ok(sqlx::query_as(
        "SELECT kind, method, path, live_status, candidate_status, differing_paths, live_body,
                candidate_body, live_us, candidate_us, error, recorded_at
         FROM module_shadow_examples WHERE tenant_id = $1 AND slot = $2 ORDER BY id",
    )
    .bind(tx.tenant_id())
    .bind(slot)
    .fetch_all(tx.conn())
    .await?)
}

/// Starts a run of `digest` on `slot`, replacing the slot's ended one and its examples.
/// 409 `shadow_running` while one runs.
pub async fn start(
    tx: &mut TenantTx,
    slot: &str,
    digest: &str,
    sample_percent: i32,
    until: DateTime<Utc>,
) -> Result<Run> {
    if run(tx, slot)
        .await?
        .is_some_and(|run| run.state == "running")
    {
        return Err(Error::conflict(
            "shadow_running",
            format!("slot `{slot}` already has a shadow run; stop or promote it first"),
        ));
    }
    sqlx::query("DELETE FROM module_shadows WHERE tenant_id = $1 AND slot = $2")
        .bind(tx.tenant_id())
        .bind(slot)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO module_shadows (tenant_id, slot, run_id, digest, sample_percent, until)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id())
    .bind(slot)
    .bind(Uuid::new_v4())
    .bind(digest)
    .bind(sample_percent)
    .bind(until)
    .execute(tx.conn())
    .await?;
    run(tx, slot)
        .await?
        .ok_or_else(|| Error::not_found("shadow run"))
}

/// Ends the slot's running run `as_` (`stopped` or `promoted`); 404 when none runs.
pub async fn end(tx: &mut TenantTx, slot: &str, as_: &str) -> Result<Run> {
    let ended = sqlx::query(
        "UPDATE module_shadows SET ended_as = $3, ended_at = now()
         WHERE tenant_id = $1 AND slot = $2 AND ended_as IS NULL AND until > now()",
    )
    .bind(tx.tenant_id())
    .bind(slot)
    .bind(as_)
    .execute(tx.conn())
    .await?;
    if ended.rows_affected() == 0 {
        return Err(Error::not_found("running shadow run"));
    }
    run(tx, slot)
        .await?
        .ok_or_else(|| Error::not_found("shadow run"))
}

/// What a candidate run adds to the counters, and the example it may keep.
struct Recorded {
    column: &'static str,
    example: Option<NewExample>,
}

struct NewExample {
    kind: &'static str,
    candidate_status: Option<i32>,
    differing_paths: Vec<String>,
    candidate_body: Vec<u8>,
    error: Option<String>,
}

/// Records one candidate run of the job's run (and the skips counted since the last one),
/// in a transaction of the tenant's own. A run that ended meanwhile records nothing.
pub async fn record(
    pool: &PgPool,
    job: &Job,
    live: &Live,
    outcome: Outcome,
    skipped: i64,
) -> Result<()> {
    let (recorded, candidate_elapsed) = classify(live, outcome);
    let mut tx = TenantTx::begin(pool, job.scope, Duration::from_secs(5)).await?;
    let counted = recorded.as_ref().map_or(0, |_| 1);
    let column = recorded.as_ref().map_or("identical", |r| r.column);
    // `column` is one of a fixed set of names, never from the request.
    let updated = sqlx::query(&format!(
        "UPDATE module_shadows SET runs = runs + $4, {column} = {column} + $5,
             skipped = skipped + $6, live_us = live_us + $7, candidate_us = candidate_us + $8
         WHERE tenant_id = $1 AND slot = $2 AND run_id = $3"
    ))
    .bind(tx.tenant_id())
    .bind(&job.slot)
    .bind(job.target.run_id)
    .bind(counted)
    .bind(counted)
    .bind(skipped + 1 - counted)
    .bind(micros(live.elapsed) * counted)
    .bind(micros(candidate_elapsed) * counted)
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 1
        && let Some(example) = recorded.and_then(|r| r.example)
    {
        keep_example(&mut tx, job, live, candidate_elapsed, example).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The counter a run adds to and the example it may keep; None for a run that was skipped.
fn classify(live: &Live, outcome: Outcome) -> (Option<Recorded>, Duration) {
    let example = |kind, candidate_status, differing_paths, candidate_body, error| {
        Some(NewExample {
            kind,
            candidate_status,
            differing_paths,
            candidate_body,
            error,
        })
    };
    match outcome {
        Outcome::Busy => (None, Duration::ZERO),
        Outcome::NoRoute { error } => (
            Some(Recorded {
                column: "route_missing",
                example: example("route_missing", None, Vec::new(), Vec::new(), Some(error)),
            }),
            Duration::ZERO,
        ),
        Outcome::Failed { error, elapsed } => (
            Some(Recorded {
                column: "traps",
                example: example("trap", None, Vec::new(), Vec::new(), Some(error)),
            }),
            elapsed,
        ),
        Outcome::Answered {
            status,
            body,
            elapsed,
        } => {
            let recorded = match compare((live.status, &live.body), (status, &body)) {
                Verdict::Identical => Recorded {
                    column: "identical",
                    example: None,
                },
                Verdict::Status => Recorded {
                    column: "status_differs",
                    example: example("status", Some(status.into()), Vec::new(), body, None),
                },
                Verdict::Body(paths) => Recorded {
                    column: "body_differs",
                    example: example("body", Some(status.into()), paths, body, None),
                },
            };
            (Some(recorded), elapsed)
        }
    }
}

/// Adds the example unless its kind already has [`EXAMPLES_PER_KIND`] (the caller holds the
/// run's row lock).
async fn keep_example(
    tx: &mut TenantTx,
    job: &Job,
    live: &Live,
    candidate_elapsed: Duration,
    example: NewExample,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO module_shadow_examples (tenant_id, slot, kind, method, path, live_status,
             candidate_status, differing_paths, live_body, candidate_body, live_us,
             candidate_us, error)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
         WHERE (SELECT count(*) FROM module_shadow_examples
                WHERE tenant_id = $1 AND slot = $2 AND kind = $3) < $14",
    )
    .bind(tx.tenant_id())
    .bind(&job.slot)
    .bind(example.kind)
    .bind(&job.request.method)
    .bind(&job.request.path)
    .bind(i32::from(live.status))
    .bind(example.candidate_status)
    .bind(sqlx::types::Json(&example.differing_paths))
    .bind(truncated(&live.body))
    .bind(truncated(&example.candidate_body))
    .bind(micros(live.elapsed))
    .bind(micros(candidate_elapsed))
    .bind(example.error.as_deref().map(truncated_text))
    .bind(EXAMPLES_PER_KIND)
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn micros(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
}

/// A body as text, cut at [`BODY_BYTES`] on a character boundary.
fn truncated(body: &[u8]) -> String {
    truncated_text(&String::from_utf8_lossy(body))
}

fn truncated_text(text: &str) -> String {
    let mut end = text.len().min(BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(BODY_BYTES);
        let kept = truncated(body.as_bytes());
        assert_eq!(kept.len(), BODY_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(truncated(b"short"), "short");
    }
}
