//! `GET /v1/tenant/usage?from=&to=&group_by=hour|day|module`: what the tenant's module calls
//! used (`usage`), for `modules.manage` (the admins who choose the modules that use it).
//! `GET /v1/operator/usage?tenant=<slug>&from=&to=&group_by=`: the same figures for the
//! operator, read in that tenant's transaction like every tenant read. Without `tenant`,
//! every tenant's totals over the window, a page of tenants (`limit`, `cursor`, in tenant id
//! order) each read in its own tenant transaction: RLS stays on for the operator too.
//!
//! `PUT /v1/operator/usage/quota`: sets (or, with `null`, lifts) a tenant's monthly call quota
//! (`usage::quota`).
//!
//! Figures are those flushed: a host's last few seconds (`serve --usage-flush-ms`) are not in
//! them yet.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Json, Query, Tenant};
use super::operator::{Operator, tenant_tx, tenant_tx_of};
use super::pagination::{Page, PageParams};
use crate::auth::rbac::perm;
use crate::error::{Error, FieldError, Result};
use crate::usage::report::{self, Report, TenantTotals, UsageQuery, Window};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant/usage", get(for_tenant))
        .route("/v1/operator/usage", get(for_operator))
        .route("/v1/operator/usage/quota", put(set_quota))
}

async fn for_tenant(mut ctx: Tenant, Query(query): Query<UsageQuery>) -> Result<impl IntoResponse> {
    ctx.require(perm::MODULES_MANAGE)?;
    if query.tenant.is_some() {
        return Err(Error::validation(vec![FieldError::new(
            "tenant",
            "names a tenant only in the operator's view; this is your own tenant's usage",
        )]));
    }
    refuse_paging(&query)?;
    let window = Window::parse(&query, Utc::now())?;
    Ok(Json(report::read(&mut ctx.tx, window).await?))
}

/// One tenant's report, or (without `tenant`) a page of every tenant's totals.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum OperatorUsage {
    Tenant(Report),
    Tenants(TenantsUsage),
}

/// Every tenant's totals over `[from, to)`, a page of tenants.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TenantsUsage)]
pub(super) struct TenantsUsage {
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
    items: Vec<TenantTotals>,
    next_cursor: Option<String>,
}

async fn for_operator(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<UsageQuery>,
) -> Result<Json<OperatorUsage>> {
    let window = Window::parse(&query, Utc::now())?;
    let Some(slug) = query.tenant.as_deref() else {
        return Ok(Json(OperatorUsage::Tenants(
            across_tenants(&state, &query, window).await?,
        )));
    };
    refuse_paging(&query)?;
    let mut tx = tenant_tx(&state, slug).await?;
    let report = report::read(&mut tx, window).await?;
    tx.commit().await?;
    Ok(Json(OperatorUsage::Tenant(report)))
}

/// A page of tenants, each tenant's totals read in its own transaction.
async fn across_tenants(
    state: &AppState,
    query: &UsageQuery,
    window: Window,
) -> Result<TenantsUsage> {
    if query.group_by.is_some() {
        return Err(Error::validation(vec![FieldError::new(
            "group_by",
            "groups one tenant's figures: give `tenant` too",
        )]));
    }
    let paging = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let (limit, after) = paging.resolve()?;
    let tenants: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT id, slug FROM tenants WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let page = Page::from_rows(tenants, limit, |(id, _)| *id);
    let mut items = Vec::with_capacity(page.items.len());
    for (tenant_id, tenant) in page.items {
        let mut tx = tenant_tx_of(state, tenant_id).await?;
        let (counts, storage_bytes) = report::totals(&mut tx, &window).await?;
        tx.commit().await?;
        items.push(TenantTotals {
            tenant_id,
            tenant,
            counts,
            storage_bytes,
        });
    }
    Ok(TenantsUsage {
        from: window.from,
        to: window.to,
        items,
        next_cursor: page.next_cursor,
    })
}

/// `limit` and `cursor` page only the operator's view across tenants.
fn refuse_paging(query: &UsageQuery) -> Result<()> {
    let mut fields = Vec::new();
    for (name, given) in [
        ("limit", query.limit.is_some()),
        ("cursor", query.cursor.is_some()),
    ] {
        if given {
            fields.push(FieldError::new(
                name,
                "pages only the operator's view across tenants",
            ));
        }
    }
    match fields.is_empty() {
        true => Ok(()),
        false => Err(Error::validation(fields)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageQuotaRequest)]
pub(super) struct QuotaRequest {
    /// The tenant's slug.
    tenant: String,
    /// Module calls per UTC calendar month; `null` lifts the quota.
    monthly_calls: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = UsageQuota)]
pub(super) struct Quota {
    tenant: String,
    monthly_calls: Option<i64>,
}

async fn set_quota(
    _: Operator,
    State(state): State<AppState>,
    Json(body): Json<QuotaRequest>,
) -> Result<impl IntoResponse> {
    if body.monthly_calls.is_some_and(|calls| calls < 1) {
        return Err(Error::validation(vec![FieldError::new(
            "monthly_calls",
            "must be at least 1, or null for no quota",
        )]));
    }
    let mut tx = tenant_tx(&state, &body.tenant).await?;
    let tenant = tx.tenant_id();
    match body.monthly_calls {
        Some(calls) => {
            sqlx::query(
                "INSERT INTO usage_quotas (tenant_id, monthly_calls) VALUES ($1, $2)
                 ON CONFLICT (tenant_id) DO UPDATE
                 SET monthly_calls = EXCLUDED.monthly_calls, updated_at = EXCLUDED.updated_at",
            )
            .bind(tenant)
            .bind(calls)
            .execute(tx.conn())
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM usage_quotas WHERE tenant_id = $1")
                .bind(tenant)
                .execute(tx.conn())
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Json(Quota {
        tenant: body.tenant,
        monthly_calls: body.monthly_calls,
    }))
}
