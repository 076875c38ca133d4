//! Module calls the host makes itself, for a user of a tenant: the demo company and the CSV
//! importer go through the very path an HTTP request takes ([`Registry::route`], the route's
//! permission checked against the user's, [`Registry::call`] in the tenant's transaction),
//! never by writing the modules' tables. The caller is a real user loaded like a request's
//! principal, so a module sees nothing it could not see from the API, and no clock or
//! privilege of its own.
//!
//! A call takes the tenant transaction and gives it back, so that several calls (a customer,
//! then its location) share one transaction that the caller commits or drops (a dry run).
//! A refusal gives it back too (when the module's store did not fail), so that the importer
//! can roll back to a savepoint and go on with the next row.
//!
//! The limits an HTTP request meets apply here as well: a transaction holds one of the
//! tenant's share of transactions (`TenantShare`; a busy tenant waits here, as a background
//! job should, rather than being refused), and every call is checked against the tenant's
//! monthly quota (`usage::quota::check`, 429 `quota_exceeded`), so that neither the demo nor
//! an import of 10,000 rows goes around them.

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::Registry;
use super::call::ModuleRequest;
use crate::auth::principal::{Lookup, Principal};
use crate::auth::rbac::Permissions;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::runtime::Caller;
use crate::tenancy::{TenantScope, TenantTx};

/// A user of a tenant, loaded once, on whose behalf the host calls modules.
pub struct ActingUser {
    state: AppState,
    scope: TenantScope,
    permissions: Permissions,
    caller: Caller,
    bindings: HashMap<String, String>,
}

/// A module's answer to one call: its JSON body and the transaction to go on with, or its
/// refusal (a status of 400 or more and its problem body) with the transaction to roll back
/// (to a savepoint) or drop, absent when the module's store failed and took it.
pub enum Answered {
    Done(TenantTx, Value),
    Refused {
        status: u16,
        problem: Value,
        tx: Option<TenantTx>,
    },
}

/// How long a transaction waits for the tenant's share, in steps of [`SHARE_WAIT_STEP`].
const SHARE_WAIT_STEPS: u32 = 600;
const SHARE_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(50);

impl ActingUser {
    /// Loads `user_id` of `tenant_id` as a request would (active user, active tenant).
    pub async fn load(state: &AppState, tenant_id: Uuid, user_id: Uuid) -> Result<Self> {
        let scope = TenantScope {
            tenant_id,
            user_id: Some(user_id),
        };
        let mut tx = TenantTx::begin(&state.pool, scope, state.limits.statement_timeout).await?;
        let principal = match Principal::load(&mut tx, user_id).await? {
            Lookup::Found(principal) => *principal,
            Lookup::NoSuchUser => return Err(Error::not_found("user")),
            Lookup::TenantSuspended => {
                return Err(Error::forbidden(
                    "tenant_suspended",
                    "the tenant is suspended",
                ));
            }
        };
        tx.rollback().await?;
        Ok(Self::of(state, principal))
    }

    /// Acts for an already loaded principal (an HTTP request's).
    pub fn of(state: &AppState, principal: Principal) -> Self {
        Self {
            state: state.clone(),
            scope: TenantScope {
                tenant_id: principal.tenant_id,
                user_id: Some(principal.user_id),
            },
            caller: Caller {
                user_id: principal.user_id,
                roles: principal.roles.clone(),
                permissions: principal.permissions.names().map(str::to_owned).collect(),
            },
            permissions: principal.permissions,
            bindings: principal.module_bindings,
        }
    }

    pub fn tenant_id(&self) -> Uuid {
        self.scope.tenant_id
    }

    /// A fresh transaction of the tenant, acting for the user, holding one of the tenant's
    /// share of transactions (waiting up to 30 s for one while the tenant is busy).
    pub async fn begin(&self) -> Result<TenantTx> {
        let mut waited = 0;
        let permit = loop {
            match self
                .state
                .tenant_transactions
                .try_acquire(self.scope.tenant_id)
            {
                Ok(permit) => break permit,
                Err(busy) if waited >= SHARE_WAIT_STEPS => return Err(busy),
                Err(_) => {
                    waited += 1;
                    tokio::time::sleep(SHARE_WAIT_STEP).await;
                }
            }
        };
        let mut tx = TenantTx::begin(
            &self.state.pool,
            self.scope,
            self.state.limits.statement_timeout,
        )
        .await?;
        tx.hold(permit);
        Ok(tx)
    }

    /// Refuses (403 naming the permission) unless the user may call `method` on `path`, so
    /// that work the user may not do is refused before it starts.
    pub async fn require(&self, method: &str, path: &str) -> Result<()> {
        let (slot, rest) = split_path(path);
        let routed = self
            .state
            .registry
            .route(&self.bindings, slot, method, &rest)
            .await?;
        match self.permissions.allows(routed.permission()) {
            true => Ok(()),
            false => Err(Error::missing_permission(routed.permission())),
        }
    }

    /// `method` on `path` (`/{slot}/rest`, as under `/v1`) with a JSON body, in `tx`.
    pub async fn call(
        &self,
        mut tx: TenantTx,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answered> {
        let registry: &Registry = &self.state.registry;
        // The query first, so that `/technicians?limit=200` names the slot `technicians`.
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let (slot, path) = split_path(path);
        let routed = registry.route(&self.bindings, slot, method, &path).await?;
        if !self.permissions.allows(routed.permission()) {
            return Err(Error::missing_permission(routed.permission()));
        }
        let meter = self.state.registry.meter();
        crate::usage::quota::check(&mut tx, meter, chrono::Utc::now()).await?;
        let request = ModuleRequest {
            method: method.to_owned(),
            path,
            query: serde_urlencoded::from_str(query)
                .map_err(|_| Error::bad_request("invalid_query_parameter", "malformed query"))?,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        };
        let answer = registry
            .call(routed, tx, self.caller.clone(), String::new(), request)
            .await?;
        let status = answer.response.status;
        let parsed: Value = serde_json::from_slice(&answer.response.body).unwrap_or(Value::Null);
        match answer.tx {
            Some(tx) if status < 400 => Ok(Answered::Done(tx, parsed)),
            _ if status < 400 => Err(Error::Internal(anyhow::anyhow!(
                "the module's store failed during {method} {slot}"
            ))),
            tx => Ok(Answered::Refused {
                status,
                problem: parsed,
                tx,
            }),
        }
    }

    /// One call in its own transaction, committed; a refusal is an error naming the module's
    /// code and detail.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let tx = self.begin().await?;
        match self.call(tx, method, path, body).await? {
            Answered::Done(tx, value) => {
                tx.commit().await?;
                Ok(value)
            }
            Answered::Refused {
                status, problem, ..
            } => Err(refusal(method, path, status, &problem)),
        }
    }
}

/// A module's refusal as a host error (500: the host made the call, the module refused it).
pub fn refusal(method: &str, path: &str, status: u16, problem: &Value) -> Error {
    Error::Internal(anyhow::anyhow!(
        "{method} {path} was refused with {status}: {problem}"
    ))
}

/// `/crm/customers/1` -> (`crm`, `/customers/1`); `/jobs` -> (`jobs`, `/`).
fn split_path(path: &str) -> (&str, String) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((slot, rest)) => (slot, format!("/{rest}")),
        None => (trimmed, "/".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn a_path_names_its_slot_first() {
        assert_eq!(
            split_path("/crm/customers/1"),
            ("crm", "/customers/1".into())
        );
        assert_eq!(split_path("/jobs"), ("jobs", "/".into()));
        assert_eq!(split_path("/jobs/?status=x"), ("jobs", "/?status=x".into()));
    }
}
