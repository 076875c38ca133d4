//! `GET` and `PATCH /v1/account`. The row exists from provisioning on; a change honours
//! `If-Match` (412 when stale), writes only the fields sent, and emits `account.updated` with
//! their names in the same transaction. A body that sets nothing changes nothing.

use serde_json::json;
use verofield_field_ops::account::ACCOUNTS;
use verofield_sdk::store::{Record, Select};
use verofield_sdk::{Problem, Request, Response, context, etag, events};

use crate::fields::{Account, AccountFields, READ_ONLY};

pub const ACCOUNT_UPDATED: &str = "account.updated";

/// The tenant's account, its time zone filled in from the tenant.
pub fn current() -> Result<Record<Account>, Problem> {
    let mut account = Select::from(ACCOUNTS)
        .limit(1)
        .fetch::<Account>()?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| Problem::internal("the tenant has no company account row"))?;
    account.values.time_zone = context::tenant_time_zone();
    Ok(account)
}

/// Writes `values` over the account honouring `If-Match`, emits `account.updated` naming
/// `changed`, and answers the account (ETag).
pub fn write(
    request: &Request,
    values: &serde_json::Value,
    changed: Vec<String>,
) -> Result<Response, Problem> {
    let id = current()?.id;
    let mut updated: Record<Account> = etag::update(request, ACCOUNTS, &id, "account", values)?;
    updated.values.time_zone = context::tenant_time_zone();
    events::emit(
        ACCOUNT_UPDATED,
        &json!({"account_id": updated.id, "changed": changed, "version": updated.version}),
    )?;
    Ok(Response::record(200, &updated))
}

/// `GET /`
pub fn show(_request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(200, &current()?))
}

/// `PATCH /`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let mut fields: AccountFields = request.json_with_read_only(&READ_ONLY)?;
    fields.normalize_and_check()?;
    let changed = fields.changed();
    if changed.is_empty() {
        let account = current()?;
        etag::check_if_match(request, account.version)?;
        return Ok(Response::record(200, &account));
    }
    let values = serde_json::to_value(&fields)
        .map_err(|error| Problem::internal(&format!("account fields: {error}")))?;
    write(request, &values, changed)
}
