//! Shadow runs: a candidate version of a tenant's slot also serves a sample of the tenant's
//! live requests, in a transaction that always rolls back, and how its answers differ from
//! the live version's is recorded (`store`) and reported (`GET .../shadow/report`).
//!
//! The client never waits for the candidate. The module dispatch answers with the live
//! version as always; once the live call has committed, a sampled request is handed to
//! [`spawn`], which runs the candidate on a task of its own with the same request and
//! principal, in a fresh tenant transaction that is rolled back, then records the comparison
//! ([`compare`]) in a transaction of the tenant's own. Because the candidate runs after the
//! live commit it sees the live call's writes (its create makes a second row, rolled back);
//! ids, timestamps and row versions are normalised before comparing, and a request's
//! `If-Match` is not passed on (the live write already moved the version it names).
//!
//! Shadow work waits for nobody, so it cannot slow the live answers of this tenant or any
//! other beyond the work itself: it runs only when it can take at once one of the tenant's
//! transaction permits (the share a live request takes) and one of this host's few shadow
//! slots ([`CAPACITY`]); the module call inside takes the tenant's module-call share like any
//! call and is metered as the tenant's usage under the candidate's name. A sampled request
//! that finds no room is counted as skipped, never queued.
//!
//! Sampling is by a hash of the request id (FNV-1a, modulo 100), so every host decides the
//! same for a request and a test at 100 % shadows every request.

pub mod compare;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::auth::rbac::Permissions;
use crate::error::Error;
use crate::registry::{ModuleRequest, Registry};
use crate::runtime::Caller;
use crate::tenancy::share::{SharePermit, TenantShare};
use crate::tenancy::{TenantScope, TenantTx};

/// Candidate runs one host does at once, across tenants. Two cores run the benchmark host;
/// a third concurrent run would take a core from live requests (see BENCHMARKS.md).
pub const CAPACITY: usize = 2;
static RUNS: Semaphore = Semaphore::const_new(CAPACITY);

/// Sampled requests skipped on this host since its last record, per tenant and slot: added
/// to the counters by the next recorded run (skipping itself never writes).
static SKIPPED: LazyLock<Mutex<HashMap<(Uuid, String), i64>>> = LazyLock::new(Mutex::default);

/// A slot's running shadow, as the principal carries it (read with the bindings).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    pub run_id: Uuid,
    pub digest: String,
    pub sample_percent: i32,
}

/// Whether the request with this id is in a `percent` sample.
pub fn sampled(request_id: &str, percent: i32) -> bool {
    let hash = request_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % 100) < u64::try_from(percent).unwrap_or(0)
}

/// The live request as the candidate gets it, and who made it.
pub struct Job {
    pub slot: String,
    pub target: Target,
    pub scope: TenantScope,
    pub api_key_id: Option<Uuid>,
    /// The caller may read only the jobs assigned to them (`http::extract::scope_jobs`).
    pub own_jobs_only: bool,
    pub permissions: Permissions,
    pub bindings: HashMap<String, String>,
    pub caller: Caller,
    pub request_id: String,
    pub request: ModuleRequest,
}

/// The live version's answer to the request.
pub struct Live {
    pub status: u16,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// What the candidate did with the request.
pub enum Outcome {
    Answered {
        status: u16,
        body: Vec<u8>,
        elapsed: Duration,
    },
    /// It trapped, broke a limit or failed inside the host.
    Failed { error: String, elapsed: Duration },
    /// It has no route for the method and path.
    NoRoute { error: String },
    /// The tenant's module-call share was in use: not a difference, a skipped run.
    Busy,
}

/// Where candidate runs take their connections, modules and deadlines from.
#[derive(Clone)]
pub struct Runner {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub statement_timeout: Duration,
}

impl Runner {
    /// Runs the candidate for `job` after the live answer, on a task of its own, if the
    /// tenant's share and the host's shadow capacity have room now; else counts it skipped.
    pub fn spawn(&self, share: &TenantShare, job: Job, live: Live) {
        let room = share
            .try_acquire(job.scope.tenant_id)
            .ok()
            .zip(RUNS.try_acquire().ok());
        let Some((permit, capacity)) = room else {
            return skip(job.scope.tenant_id, &job.slot);
        };
        let runner = self.clone();
        tokio::spawn(async move {
            let _capacity = capacity;
            let outcome = runner.candidate(permit, &job).await;
            let skipped = take_skipped(job.scope.tenant_id, &job.slot);
            if let Err(error) = store::record(&runner.pool, &job, &live, outcome, skipped).await {
                tracing::warn!(%error, slot = %job.slot, "shadow run not recorded");
            }
        });
    }

    /// The candidate's answer to the job's request, in a transaction that is rolled back.
    async fn candidate(&self, permit: SharePermit, job: &Job) -> Outcome {
        let started = Instant::now();
        let failed = |error: Error| match &error {
            Error::Problem {
                code: "module_busy",
                ..
            } => Outcome::Busy,
            _ => Outcome::Failed {
                error: error.to_string(),
                elapsed: started.elapsed(),
            },
        };
        let tx = match self.transaction(permit, job).await {
            Ok(tx) => tx,
            Err(error) => return failed(error),
        };
        let mut bindings = job.bindings.clone();
        bindings.insert(job.slot.clone(), job.target.digest.clone());
        let request = &job.request;
        let routed = match self
            .registry
            .route(&bindings, &job.slot, &request.method, &request.path)
            .await
        {
            Ok(routed) => routed,
            Err(error) => {
                return Outcome::NoRoute {
                    error: error.to_string(),
                };
            }
        };
        // The candidate may ask for another permission than the live route: then the caller
        // would get the host's 403 from it.
        if !job.permissions.allows(routed.permission()) {
            return Outcome::Answered {
                status: 403,
                body: Vec::new(),
                elapsed: started.elapsed(),
            };
        }
        let mut request = job.request.clone();
        request
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("if-match"));
        let call = self
            .registry
            .call(
                routed,
                tx,
                job.caller.clone(),
                job.request_id.clone(),
                request,
            )
            .await;
        let elapsed = started.elapsed();
        match call {
            Ok(answer) => {
                if let Some(tx) = answer.tx {
                    // Never committed: a failed rollback only ends the connection's transaction.
                    let _ = tx.rollback().await;
                }
                Outcome::Answered {
                    status: answer.response.status,
                    body: answer.response.body,
                    elapsed,
                }
            }
            Err(error) => failed(error),
        }
    }

    /// A tenant transaction acting for the live request's principal.
    async fn transaction(&self, permit: SharePermit, job: &Job) -> crate::error::Result<TenantTx> {
        let mut tx = TenantTx::begin(&self.pool, job.scope, self.statement_timeout).await?;
        tx.hold(permit);
        if let (Some(key), Some(user)) = (job.api_key_id, job.scope.user_id) {
            tx.act_through_key(user, key).await?;
        }
        if job.own_jobs_only {
            crate::http::extract::narrow_to_own_jobs(&mut tx).await?;
        }
        Ok(tx)
    }
}

fn skip(tenant: Uuid, slot: &str) {
    metrics::counter!("shadow_runs_skipped_total").increment(1);
    *SKIPPED
        .lock()
        .expect("shadow skips")
        .entry((tenant, slot.to_owned()))
        .or_default() += 1;
}

fn take_skipped(tenant: Uuid, slot: &str) -> i64 {
    SKIPPED
        .lock()
        .expect("shadow skips")
        .remove(&(tenant, slot.to_owned()))
        .unwrap_or(0)
}

/// Skips counted on this host and not yet recorded, for the report.
pub fn pending_skips(tenant: Uuid, slot: &str) -> i64 {
    SKIPPED
        .lock()
        .expect("shadow skips")
        .get(&(tenant, slot.to_owned()))
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_takes_about_its_percent_and_always_the_same_requests() {
        let ids: Vec<String> = (0..10_000).map(|_| Uuid::new_v4().to_string()).collect();
        let taken = ids.iter().filter(|id| sampled(id, 25)).count();
        assert!((2_000..3_000).contains(&taken), "{taken} of 10000 at 25 %");
        assert!(ids.iter().all(|id| sampled(id, 100)));
        assert!(!ids.iter().any(|id| sampled(id, 0)));
        assert!(
            ids.iter()
                .filter(|id| sampled(id, 25))
                .all(|id| sampled(id, 25))
        );
    }
}
