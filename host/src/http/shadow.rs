//! Shadow runs over HTTP (`crate::shadow` says how a run works): start one on a slot, read
//! its report, promote its candidate or stop it, each in one call and one transaction; and the
//! module dispatch's hook that hands a sampled request to the candidate after the live answer.
//!
//! The permission is the one that rebinds modules, and the candidate passes the checks a
//! rebind makes (shared with the tenant, of that slot, conformance, consent), so a tenant can
//! shadow exactly what it could bind. A candidate that may send HTTP requests or take
//! payments is refused: what it does outside the database cannot be rolled back.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Path, Tenant};
use super::modules::{self, Binding, RebindRequest};
use crate::auth::rbac::perm;
use crate::error::{Error, Result, Validator};
use crate::registry::ModuleRequest;
use crate::shadow::store::{self, Example, Run};
use crate::shadow::{Job, Live, Runner};
use crate::tenancy::TenantScope;

/// The longest a shadow run may be started for.
const MAX_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant/modules/{slot}/shadow", post(start).delete(stop))
        .route(
            "/v1/tenant/modules/{slot}/shadow/report",
            axum::routing::get(report),
        )
        .route("/v1/tenant/modules/{slot}/shadow/promote", post(promote))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartRequest {
    /// The candidate: a digest, or `name@version`, of a version the tenant could bind here.
    version: String,
    /// The share of the slot's requests the candidate also serves, 1 to 100.
    sample_percent: i32,
    /// When the run ends by itself: in the future, at most 30 days ahead.
    until: DateTime<Utc>,
    /// The grants accepted, as for a rebind (needed for an upload not consented to before).
    accept: Option<serde_json::Value>,
}

/// A run's counters and its example differences.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ShadowReport)]
pub(super) struct Report {
    #[serde(flatten)]
    run: Run,
    /// The candidate version.
    candidate: crate::registry::Version,
    /// Mean latency of the compared runs, live and candidate, in milliseconds.
    live_mean_ms: Option<f64>,
    candidate_mean_ms: Option<f64>,
    /// At most 20 per kind, in the order they were seen.
    examples: Vec<Example>,
}

async fn start(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
    Json(body): Json<StartRequest>,
) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    let now = Utc::now();
    let mut check = Validator::new();
    check.check(
        (1..=100).contains(&body.sample_percent),
        "sample_percent",
        "must be from 1 to 100",
    );
    check.check(body.until > now, "until", "must be in the future");
    check.check(
        body.until <= now + chrono::TimeDelta::days(MAX_DAYS),
        "until",
        format!("must be at most {MAX_DAYS} days ahead"),
    );
    check.finish()?;
    let rebind = RebindRequest {
        version: body.version,
        accept: body.accept,
        name_me_to_publisher: None,
    };
    let version = modules::bindable_for_slot(&mut ctx, &state, &slot, &rebind).await?;
    let serving = state
        .registry
        .serving(&ctx.principal.module_bindings, &slot);
    let mut check = Validator::new();
    check.check(
        serving.as_deref() != Some(version.digest.as_str()),
        "version",
        "already serves this slot",
    );
    check.finish()?;
    let manifest = &state.registry.module(&version.digest).await?.manifest;
    if !manifest.capabilities.is_empty() {
        return Err(Error::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "shadow_side_effects",
            format!(
                "the candidate may use {:?}: what it does outside the database cannot be rolled back",
                manifest.capabilities
            ),
        ));
    }
    store::start(
        &mut ctx.tx,
        &slot,
        &version.digest,
        body.sample_percent,
        body.until,
    )
    .await?;
    ctx.audit(
        "module.shadow_started",
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot, "digest": version.digest,
            "sample_percent": body.sample_percent, "until": body.until}),
    )
    .await?;
    let report = report_of(&mut ctx, &state, &slot).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(report)))
}

async fn report(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<Json<Report>> {
    ctx.require(perm::MODULES_MANAGE)?;
    Ok(Json(report_of(&mut ctx, &state, &slot).await?))
}

/// Ends the run; its report stays readable until the slot's next run.
async fn stop(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<Json<Report>> {
    ctx.require(perm::MODULES_MANAGE)?;
    store::end(&mut ctx.tx, &slot, "stopped").await?;
    ctx.audit(
        "module.shadow_stopped",
        "module_slot",
        uuid::Uuid::nil(),
        serde_json::json!({"slot": slot}),
    )
    .await?;
    let report = report_of(&mut ctx, &state, &slot).await?;
    ctx.commit().await?;
    Ok(Json(report))
}

/// Binds the candidate as a rebind would and ends the run, in one transaction.
async fn promote(
    mut ctx: Tenant,
    State(state): State<AppState>,
    Path(slot): Path<String>,
) -> Result<Json<Binding>> {
    ctx.require(perm::MODULES_MANAGE)?;
    let run = store::end(&mut ctx.tx, &slot, "promoted").await?;
    let version = state.registry.find(&run.digest).await?;
    // Its conformance may have been overridden away since the run started.
    crate::conformance::require_bindable(&mut ctx.tx, &version).await?;
    modules::bind_slot(ctx, &state, &slot, &version, "module.shadow_promoted").await?;
    Ok(Json(Binding {
        slot,
        source: "binding",
        version,
    }))
}

/// The slot's current or last run with its examples; 404 when the slot never had one.
async fn report_of(ctx: &mut Tenant, state: &AppState, slot: &str) -> Result<Report> {
    let mut run = store::run(&mut ctx.tx, slot)
        .await?
        .ok_or_else(|| Error::not_found("shadow run"))?;
    run.skipped += crate::shadow::pending_skips(ctx.tx.tenant_id(), slot);
    let mean = |total_us: i64| (run.runs > 0).then(|| total_us as f64 / run.runs as f64 / 1e3);
    Ok(Report {
        candidate: state.registry.find(&run.digest).await?,
        live_mean_ms: mean(run.live_us),
        candidate_mean_ms: mean(run.candidate_us),
        examples: store::examples(&mut ctx.tx, slot).await?,
        run,
    })
}

/// The candidate's job for a module request on `slot`, if the slot is shadowed and the
/// request is in the sample (taken before the live call consumes the request).
pub(super) fn sampled_job(ctx: &Tenant, slot: &str, request: &ModuleRequest) -> Option<Job> {
    let target = ctx.principal.module_shadows.get(slot)?;
    let request_id = ctx.request_id.clone().unwrap_or_default();
    if !crate::shadow::sampled(&request_id, target.sample_percent) {
        return None;
    }
    let principal = &ctx.principal;
    Some(Job {
        slot: slot.to_owned(),
        target: target.clone(),
        scope: TenantScope {
            tenant_id: ctx.tx.tenant_id(),
            user_id: ctx.tx.user_id(),
        },
        api_key_id: ctx.tx.api_key_id(),
        own_jobs_only: !principal.permissions.allows(perm::JOBS_READ),
        permissions: principal.permissions.clone(),
        bindings: principal.module_bindings.clone(),
        caller: modules::caller_of(principal),
        request_id,
        request: request.clone(),
    })
}

/// Hands the job to the candidate, after the live answer (`status`, `body`, taking `elapsed`).
pub(super) fn run_after(
    state: &AppState,
    job: Job,
    status: u16,
    body: &[u8],
    elapsed: std::time::Duration,
) {
    let runner = Runner {
        pool: state.pool.clone(),
        registry: state.registry.clone(),
        statement_timeout: state.limits.statement_timeout,
    };
    let live = Live {
        status,
        body: body.to_vec(),
        elapsed,
    };
    runner.spawn(&state.tenant_transactions, job, live);
}
