//! Public pay links: `/pay/{token}` and what lies below it, answered without a login by the
//! tenant's `billing` module.
//!
//! A customer who gets an invoice by mail has no account, so the link itself is the
//! credential. The billing module makes the token when it finalizes an invoice:
//! `<tenant id, 32 hex digits>_<secret>`. The host reads the tenant from it, opens that
//! tenant's transaction with no user, and calls the `billing` slot with the path unchanged
//! (`/pay/{token}...`). Only routes whose permission is [`PAY_LINK`] are reachable this way,
//! and the caller holds that permission and no other, so a link can never reach the staff
//! routes; `/v1/billing/...` answers 404 for these routes, whatever the caller's roles. The
//! module checks the secret and shows one invoice; every other answer is the module's 404.
//!
//! The tenant id in a link is not proven until the module has checked the secret, so made-up
//! links for a real tenant take from that tenant's share of transactions (answered 429 past
//! it), never from another tenant's.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::any;
use uuid::Uuid;

use super::AppState;
use super::extract::{Path, request_id};
use super::modules::{module_request, respond, screened};
use crate::error::{Error, Result};
use crate::registry;
use crate::runtime::Caller;
use crate::tenancy::{TenantScope, TenantTx};

/// The permission of the module routes a pay link reaches, and all a link's caller holds.
pub const PAY_LINK: &str = "billing.pay-link";
/// The slot that answers pay links.
const SLOT: &str = "billing";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", any(pay_link))
        .route("/pay/{token}/{*rest}", any(pay_link))
}

/// The tenant a pay link names: the 32 hex digits before its first `_`.
fn tenant_of(token: &str) -> Option<Uuid> {
    let (tenant, secret) = token.split_once('_')?;
    let well_formed = tenant.len() == 32 && tenant.bytes().all(|b| b.is_ascii_hexdigit());
    (well_formed && !secret.is_empty())
        .then(|| Uuid::try_parse(tenant).ok())
        .flatten()
}

async fn pay_link(
    State(state): State<AppState>,
    Path(segments): Path<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let token = segments.get("token").map_or("", String::as_str);
    let tenant = tenant_of(token).ok_or_else(|| Error::not_found("pay link"))?;
    let scope = TenantScope {
        tenant_id: tenant,
        user_id: None,
    };
    let share = state.tenant_transactions.try_acquire(tenant)?;
    let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
    tx.hold(share);
    if !tenant_is_active(&mut tx).await? {
        return Err(Error::not_found("pay link"));
    }
    let bindings = registry::bindings_of(&mut tx).await?;
    let path = uri.path().to_owned();
    let routed = state
        .registry
        .route(&bindings, SLOT, method.as_str(), &path)
        .await
        .map_err(|_| Error::not_found("pay link"))?;
    // Anything else the module serves needs a login.
    if routed.permission() != PAY_LINK {
        return Err(Error::not_found("pay link"));
    }
    let request = module_request(&method, path, &uri, &headers, &body)?;
    let caller = Caller {
        permissions: vec![PAY_LINK.to_owned()],
        ..Caller::platform()
    };
    let request_id = request_id(&headers).unwrap_or_default();
    let answer = state
        .registry
        .call(routed, tx, caller, request_id, request)
        .await?;
    let (status, stored) = screened(SLOT, answer.response)?;
    if let Some(tx) = answer.tx
        && status.as_u16() < 400
    {
        tx.commit().await?;
    }
    Ok(respond(status, stored))
}

/// A suspended tenant's links answer as links that do not exist.
async fn tenant_is_active(tx: &mut TenantTx) -> Result<bool> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
        .bind(tx.tenant_id())
        .fetch_optional(tx.conn())
        .await?;
    Ok(status.as_deref() == Some("active"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_its_tenant_in_32_hex_digits() {
        let tenant = Uuid::now_v7();
        let token = format!("{}_s3cret", tenant.simple());
        assert_eq!(tenant_of(&token), Some(tenant));
        for bad in [
            "",
            "_s3cret",
            &format!("{}_", tenant.simple()),
            &format!("{}s3cret", tenant.simple()),
            &format!("{}_s3cret", tenant.hyphenated()),
            &format!("{}0_s3cret", tenant.simple()),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_s3cret",
        ] {
            assert_eq!(tenant_of(bad), None, "{bad}");
        }
    }
}
