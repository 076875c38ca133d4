//! The `payments` capability's backend for a real call: it reads the tenant's connected
//! account through the call's own tenant transaction (once per call; RLS shows the tenant
//! only its own row, so tenant B can never send on A's account) and sends through [`Stripe`].

use serde_json::Value;
use uuid::Uuid;

use super::accounts;
use super::stripe::{Stripe, StripeError, StripeRequest};
use crate::runtime::capabilities::payments::PaymentsBackend;
use crate::runtime::capabilities::store::BoxFuture;
use crate::storage::SharedTx;

pub struct PgPayments {
    tx: SharedTx,
    tenant_id: Uuid,
    stripe: Stripe,
    /// The account, once read.
    account: Option<String>,
}

impl PgPayments {
    pub fn new(tx: SharedTx, tenant_id: Uuid, stripe: Stripe) -> Self {
        Self {
            tx,
            tenant_id,
            stripe,
            account: None,
        }
    }

    async fn account(&mut self) -> Result<String, StripeError> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let mut guard = self.tx.lock().await;
        let tx = guard
            .as_mut()
            .ok_or_else(|| StripeError::Unavailable("the call's transaction has ended".into()))?;
        let account = accounts::get(tx).await.map_err(|error| {
            tracing::warn!(%error, "reading the tenant's Stripe account failed");
            StripeError::Unavailable("the tenant's payment settings could not be read".into())
        })?;
        let account = account.ok_or_else(|| {
            StripeError::NotConfigured("the tenant has no connected Stripe account".into())
        })?;
        self.account = Some(account.clone());
        Ok(account)
    }
}

impl PaymentsBackend for PgPayments {
    fn send(&mut self, request: StripeRequest) -> BoxFuture<'_, Result<Value, StripeError>> {
        Box::pin(async move {
            let account = self.account().await?;
            self.stripe.send(self.tenant_id, &account, &request).await
        })
    }
}
