//! The tenant transaction: the one door to tenant-scoped data.
//!
//! Every read or write of a tenant table happens inside a [`TenantTx`]. Opening one sends
//! `BEGIN`, the `SET LOCAL`s for tenant and user, `SET LOCAL ROLE verofield_app` and the
//! statement timeout as a single simple-query batch: one round trip. The values come from
//! parsed [`Uuid`]s and integers, never from request text. `SET LOCAL` (not
//! `set_config(.., true)`) because Citus propagates it to the workers.
//!
//! Dropping the transaction without [`TenantTx::commit`] rolls it back (also on panic), and
//! `SET LOCAL` ends with the transaction, so a pooled connection never carries one tenant's
//! settings into the next request.

pub mod provision;
pub mod share;

use std::time::Duration;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Who the transaction acts for. `user_id` is absent for work done before a user is known
/// (login, refresh) or by the platform itself (tenant provisioning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantScope {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
}

pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    scope: TenantScope,
    /// The API key the transaction acts through, named in the audit log beside the user.
    api_key_id: Option<Uuid>,
    /// The tenant's share of transactions this one counts against, given back when the
    /// transaction ends (including inside a module call, which takes the transaction over).
    _share: Option<share::SharePermit>,
}

impl TenantTx {
    pub async fn begin(
        pool: &PgPool,
        scope: TenantScope,
        statement_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let statement = format!("BEGIN; {}", scope_statement(scope, statement_timeout));
        let tx = pool.begin_with(statement).await?;
        Ok(Self {
            tx,
            scope,
            api_key_id: None,
            _share: None,
        })
    }

    /// Enters a tenant scope inside a transaction that has already done global work as the
    /// login role (provisioning inserts the `tenants` row first, then the tenant's rows).
    pub async fn enter(
        mut tx: Transaction<'static, Postgres>,
        scope: TenantScope,
        statement_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let statement = scope_statement(scope, statement_timeout);
        sqlx::Executor::execute(&mut *tx, statement.as_str()).await?;
        Ok(Self {
            tx,
            scope,
            api_key_id: None,
            _share: None,
        })
    }

    /// Counts this transaction against its tenant's share until it ends.
    pub fn hold(&mut self, permit: share::SharePermit) {
        self._share = Some(permit);
    }

    pub fn tenant_id(&self) -> Uuid {
        self.scope.tenant_id
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.scope.user_id
    }

    pub fn api_key_id(&self) -> Option<Uuid> {
        self.api_key_id
    }

    /// Acts for `user_id` through API key `api_key_id` from here on: the key is only known
    /// once the transaction has looked it up, so the user setting is set afterwards.
    pub async fn act_through_key(
        &mut self,
        user_id: Uuid,
        api_key_id: Uuid,
    ) -> Result<(), sqlx::Error> {
        // Uuid's Display is hyphenated hex: nothing in it can close the quote.
        let statement = format!("SET LOCAL app.user_id = '{user_id}'");
        sqlx::Executor::execute(&mut *self.tx, statement.as_str()).await?;
        self.scope.user_id = Some(user_id);
        self.api_key_id = Some(api_key_id);
        Ok(())
    }

    /// The connection, for queries. Every tenant-table query also filters
    /// `tenant_id = $1` explicitly with [`TenantTx::tenant_id`], so that Citus can route it
    /// to one shard; RLS is the wall behind that filter, not a replacement for it.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

fn scope_statement(scope: TenantScope, statement_timeout: Duration) -> String {
    // Uuid's Display is hyphenated hex: nothing in it can close the quote.
    let user = scope.user_id.map(|id| id.to_string()).unwrap_or_default();
    format!(
        "SET LOCAL app.tenant_id = '{}'; SET LOCAL app.user_id = '{}'; \
         SET LOCAL ROLE verofield_app; SET LOCAL statement_timeout = {}",
        scope.tenant_id,
        user,
        statement_timeout.as_millis().max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_statement_formats_only_parsed_values() {
        let scope = TenantScope {
            tenant_id: Uuid::nil(),
            user_id: None,
        };
        assert_eq!(
            scope_statement(scope, Duration::from_secs(5)),
            "SET LOCAL app.tenant_id = '00000000-0000-0000-0000-000000000000'; \
             SET LOCAL app.user_id = ''; SET LOCAL ROLE verofield_app; \
             SET LOCAL statement_timeout = 5000"
        );
    }
}
