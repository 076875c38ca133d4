//! A tenant's fair share of something the server has a fixed amount of (pooled database
//! connections, module calls in flight, long module calls).
//!
//! Each tenant may hold at most `max` permits at once; a request over that is refused at once
//! with 429 `tenant_busy` and `Retry-After`, rather than queued behind the tenant's own work
//! where it would hold a connection and a task while it waits. The other tenants never notice:
//! what one tenant holds is counted against that tenant only. A permit is given back when it
//! is dropped, so a request that ends in any way (answer, error, panic, cancellation) frees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::error::Error;

/// Seconds a refused client is asked to wait: a tenant's share frees as soon as one of its
/// requests ends, which for ordinary requests is milliseconds.
const RETRY_AFTER_SECS: u64 = 1;

pub struct TenantShare {
    inner: Arc<Inner>,
}

struct Inner {
    /// What is shared, for the refusal's detail ("database transactions").
    what: &'static str,
    max: usize,
    /// Permits held per tenant; a tenant holding none has no entry.
    held: Mutex<HashMap<Uuid, usize>>,
}

/// One unit of a tenant's share, given back on drop.
pub struct SharePermit {
    inner: Arc<Inner>,
    tenant: Uuid,
}

impl TenantShare {
    /// At most `max` (at least 1) permits per tenant.
    pub fn new(what: &'static str, max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                what,
                max: max.max(1),
                held: Mutex::default(),
            }),
        }
    }

    /// A permit for `tenant`, or 429 `tenant_busy` when the tenant already holds its share.
    pub fn try_acquire(&self, tenant: Uuid) -> Result<SharePermit, Error> {
        let mut held = self.inner.held.lock().expect("tenant share poisoned");
        let count = held.entry(tenant).or_default();
        if *count >= self.inner.max {
            drop(held);
            metrics::counter!("tenant_busy_total", "share" => self.inner.what).increment(1);
            return Err(Error::too_many_requests(
                "tenant_busy",
                format!(
                    "this tenant already has {} {} in progress; retry shortly",
                    self.inner.max, self.inner.what
                ),
                RETRY_AFTER_SECS,
            ));
        }
        *count += 1;
        Ok(SharePermit {
            inner: self.inner.clone(),
            tenant,
        })
    }

    /// Permits `tenant` holds now.
    pub fn held(&self, tenant: Uuid) -> usize {
        let held = self.inner.held.lock().expect("tenant share poisoned");
        held.get(&tenant).copied().unwrap_or(0)
    }
}

impl Drop for SharePermit {
    fn drop(&mut self) {
        let mut held = self.inner.held.lock().expect("tenant share poisoned");
        if let Some(count) = held.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn a_tenant_over_its_share_is_refused_and_others_are_not() {
        let share = TenantShare::new("calls", 2);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let first = share.try_acquire(a).unwrap();
        let _second = share.try_acquire(a).unwrap();
        let refused = share.try_acquire(a).err().expect("over the share");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code(), "tenant_busy");
        let _other = share.try_acquire(b).expect("another tenant is unaffected");
        drop(first);
        let _again = share
            .try_acquire(a)
            .expect("a dropped permit is given back");
        assert_eq!(share.held(a), 2);
    }

    #[test]
    fn a_tenant_holding_nothing_leaves_no_entry() {
        let share = TenantShare::new("calls", 1);
        drop(share.try_acquire(Uuid::from_u128(1)).unwrap());
        assert!(share.inner.held.lock().unwrap().is_empty());
    }
}
