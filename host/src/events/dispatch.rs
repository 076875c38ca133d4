//! The dispatcher: every host runs one, and they coordinate only through PostgreSQL.
//!
//! Work is found per tenant, three ways: the `NOTIFY` sent with each new event names the
//! tenant (this host `LISTEN`s on a connection of its own); the hint table
//! `dispatch.due_tenants` names tenants with a retry due (polled every
//! `poll_interval`); and a sweep wakes every tenant every `sweep_interval`, which finds what
//! a lost notice or hint left behind and the expired leases of a host that died (a host
//! killed between commit and fan-out needs nothing: the notice went to every listening host).
//!
//! A woken tenant is worked by one task of this host at a time: fan out its new events under
//! the tenant's fan-out lock ([`deliveries::try_lock_fan_out`]), claim the due heads of its
//! delivery chains with `FOR UPDATE SKIP LOCKED` and a lease, and deliver each claimed one on
//! a task of its own, so a slow receiver holds only its own chain. A host delivers at most
//! `concurrency` at once, and at most `per_tenant` of one tenant's, so a tenant with a flood
//! of events cannot starve the others. A delivery that ends wakes its tenant again, for the
//! next event of the chain.
//!
//! A module subscriber's `on-event` runs in a tenant transaction that also marks the delivery
//! done ([`deliveries::finish`]), so its effects commit exactly once however many hosts try. A
//! webhook is at least once (a receiver deduplicates on `webhook-id`), each attempt logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::deliveries::{self, Claimed, Next};
use super::retry::RetryPolicy;
use super::subscribers::{self, Subscriber, Subscriptions};
use crate::error::{Error, Result};
use crate::outbound::Outbound;
use crate::registry::{self, Delivered, Registry};
use crate::runtime::Event;
use crate::tenancy::{TenantScope, TenantTx};
use crate::webhooks::{self, WebhookEvent};

/// The channel new events are announced on, with the tenant id as payload.
const OUTBOX_CHANNEL: &str = super::outbox::CHANNEL;

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub enabled: bool,
    /// How often the hint table is read for due retries and expired leases.
    pub poll_interval: Duration,
    /// How often every tenant is looked at.
    pub sweep_interval: Duration,
    /// How long a claimed delivery is this host's: longer than a webhook's timeout, so that
    /// only a dead host loses one. A module whose deadline (plus a statement timeout for the
    /// commit) is longer gets its delivery's lease extended to that before the call.
    pub lease: Duration,
    /// Events fanned out, and deliveries claimed, per transaction.
    pub batch: i64,
    /// Deliveries in flight on this host, and of them per tenant.
    pub concurrency: usize,
    pub per_tenant: usize,
    pub statement_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_millis(500),
            sweep_interval: Duration::from_secs(30),
            lease: Duration::from_secs(120),
            batch: 200,
            concurrency: 64,
            per_tenant: 16,
            statement_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

pub struct Dispatcher {
    pool: PgPool,
    registry: Arc<Registry>,
    outbound: Outbound,
    settings: DispatchSettings,
    /// This host's name on its leases.
    host: String,
    queue: Mutex<Queue>,
    woken: Notify,
    in_flight: Arc<Semaphore>,
}

/// The tenants waiting to be worked, and those being worked.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Uuid>,
    queued: HashSet<Uuid>,
    working: HashSet<Uuid>,
    /// Woken while being worked: worked again when the current pass ends.
    again: HashSet<Uuid>,
    /// Deliveries in flight per tenant.
    delivering: HashMap<Uuid, usize>,
}

impl Dispatcher {
    pub fn new(
        pool: PgPool,
        registry: Arc<Registry>,
        outbound: Outbound,
        settings: DispatchSettings,
    ) -> Arc<Self> {
        let host = format!(
            "{}-{}",
            std::process::id(),
            &crate::secrets::random_hex()[..8]
        );
        Arc::new(Self {
            in_flight: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            pool,
            registry,
            outbound,
            settings,
            host,
            queue: Mutex::default(),
            woken: Notify::new(),
        })
    }

    /// Starts the listener, the poller and the worker; abort the handles to stop.
    pub fn spawn(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().listen()),
            tokio::spawn(self.clone().poll()),
            tokio::spawn(self.clone().work()),
        ]
    }

    /// Queues a tenant for a pass (or another pass, if one is running).
    pub fn wake(&self, tenant: Uuid) {
        let mut queue = self.queue.lock().expect("dispatch queue poisoned");
        if queue.working.contains(&tenant) {
            queue.again.insert(tenant);
        } else if queue.queued.insert(tenant) {
            queue.waiting.push_back(tenant);
            self.woken.notify_one();
        }
    }

    async fn listen(self: Arc<Self>) {
        loop {
            if let Err(error) = self.listen_once().await {
                tracing::warn!(%error, "listening for outbox events failed; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(&self) -> Result<()> {
        // A connection of its own: a listener holds it for good.
        let options = (*self.pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
        listener.listen(OUTBOX_CHANNEL).await?;
        // Notices sent before LISTEN took effect are lost: look at every tenant once.
        self.sweep().await?;
        loop {
            match listener.try_recv().await? {
                Some(notice) => match notice.payload().parse() {
                    Ok(tenant) => self.wake(tenant),
                    Err(_) => tracing::warn!(payload = notice.payload(), "odd outbox notice"),
                },
                None => self.sweep().await?,
            }
        }
    }

    async fn poll(self: Arc<Self>) {
        let mut poll = tokio::time::interval(self.settings.poll_interval);
        let mut sweep = tokio::time::interval(self.settings.sweep_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outcome = tokio::select! {
                _ = poll.tick() => self.wake_due().await,
                _ = sweep.tick() => self.sweep().await,
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "looking for due event deliveries failed");
            }
        }
    }

    async fn wake_due(&self) -> Result<()> {
        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT tenant_id FROM dispatch.due_tenants WHERE due_at <= now()
             ORDER BY due_at LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        due.into_iter().for_each(|tenant| self.wake(tenant));
        Ok(())
    }

    async fn sweep(&self) -> Result<()> {
        let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        tenants.into_iter().for_each(|tenant| self.wake(tenant));
        Ok(())
    }

    async fn work(self: Arc<Self>) {
        loop {
            let next = {
                let mut queue = self.queue.lock().expect("dispatch queue poisoned");
                let next = queue.waiting.pop_front();
                if let Some(tenant) = next {
                    queue.queued.remove(&tenant);
                    queue.working.insert(tenant);
                }
                next
            };
            match next {
                Some(tenant) => {
                    let this = self.clone();
                    tokio::spawn(async move { this.pass(tenant).await });
                }
                None => self.woken.notified().await,
            }
        }
    }

    /// One pass over a tenant: fan out, claim what this host may deliver, start deliveries.
    async fn pass(self: Arc<Self>, tenant: Uuid) {
        if let Err(error) = self.fan_out(tenant).await {
            tracing::warn!(%tenant, %error, "fanning out events failed");
        }
        if let Err(error) = self.claim_and_deliver(tenant).await {
            tracing::warn!(%tenant, %error, "claiming event deliveries failed");
        }
        if let Err(error) = self.settle_hint(tenant).await {
            tracing::warn!(%tenant, %error, "recording when deliveries are due failed");
        }
        let mut queue = self.queue.lock().expect("dispatch queue poisoned");
        queue.working.remove(&tenant);
        if queue.again.remove(&tenant) && queue.queued.insert(tenant) {
            queue.waiting.push_back(tenant);
            self.woken.notify_one();
        }
    }

    async fn begin(&self, tenant: Uuid) -> Result<TenantTx> {
        let scope = TenantScope {
            tenant_id: tenant,
            user_id: None,
        };
        Ok(TenantTx::begin(&self.pool, scope, self.settings.statement_timeout).await?)
    }

    async fn fan_out(&self, tenant: Uuid) -> Result<()> {
        loop {
            let mut tx = self.begin(tenant).await?;
            if !deliveries::try_lock_fan_out(&mut tx).await? {
                return Ok(());
            }
            let events = deliveries::undelivered(&mut tx, self.settings.batch).await?;
            if events.is_empty() {
                return Ok(());
            }
            let subscriptions = Subscriptions::load(&mut tx, &self.registry).await?;
            let mut rows = Vec::new();
            for event in &events {
                let subscribers = match &event.target {
                    Some(target) => Subscriber::parse(target).into_iter().collect(),
                    None => subscriptions.of(&event.event_type),
                };
                rows.extend(
                    subscribers
                        .iter()
                        .map(|s| (event.id, s.key(), event.aggregate.clone())),
                );
            }
            let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
            deliveries::fan_out(&mut tx, &ids, &rows).await?;
            tx.commit().await?;
            metrics::counter!("events_fanned_out_total").increment(ids.len() as u64);
            if (events.len() as i64) < self.settings.batch {
                return Ok(());
            }
        }
    }

    async fn claim_and_deliver(self: &Arc<Self>, tenant: Uuid) -> Result<()> {
        loop {
            let room = {
                let queue = self.queue.lock().expect("dispatch queue poisoned");
                let delivering = queue.delivering.get(&tenant).copied().unwrap_or(0);
                self.settings.per_tenant.saturating_sub(delivering)
            };
            // Full: the deliveries in flight wake the tenant as they end.
            if room == 0 {
                return Ok(());
            }
            let limit = (room as i64).min(self.settings.batch);
            let mut tx = self.begin(tenant).await?;
            let lease = self.settings.lease.as_secs_f64();
            let claimed = deliveries::claim(&mut tx, &self.host, lease, limit).await?;
            tx.commit().await?;
            // Fewer than asked for: nothing else is due (or the rest is leased or waits for
            // its chain), so asking again would come back empty.
            let exhausted = (claimed.len() as i64) < limit;
            for delivery in claimed {
                let permit = self.in_flight.clone().acquire_owned().await;
                let permit = permit.map_err(|_| Error::Internal(anyhow::anyhow!("closed")))?;
                *self
                    .queue
                    .lock()
                    .expect("dispatch queue poisoned")
                    .delivering
                    .entry(tenant)
                    .or_default() += 1;
                let this = self.clone();
                tokio::spawn(async move { this.deliver(tenant, delivery, permit).await });
            }
            if exhausted {
                return Ok(());
            }
        }
    }

    async fn deliver(
        self: Arc<Self>,
        tenant: Uuid,
        claimed: Claimed,
        _permit: OwnedSemaphorePermit,
    ) {
        let subscriber = Subscriber::parse(&claimed.subscriber);
        let kind = match &subscriber {
            Some(Subscriber::Module(_)) => "module",
            Some(Subscriber::Webhook(_)) => "webhook",
            None => "unknown",
        };
        let outcome = match subscriber {
            Some(Subscriber::Module(slot)) => self.to_module(tenant, &claimed, &slot).await,
            Some(Subscriber::Webhook(id)) => self.to_webhook(tenant, &claimed, id).await,
            None => {
                self.fail(tenant, &claimed, "no such subscriber", Next::Bury)
                    .await
            }
        };
        let outcome = outcome.unwrap_or_else(|error| {
            tracing::warn!(%tenant, event = %claimed.event_id, %error, "delivering an event failed");
            "error"
        });
        metrics::counter!("event_deliveries_total", "kind" => kind, "outcome" => outcome)
            .increment(1);
        if outcome == "delivered" {
            let lag = (Utc::now() - claimed.occurred_at)
                .to_std()
                .unwrap_or_default();
            metrics::histogram!("event_delivery_lag_seconds", "kind" => kind)
                .record(lag.as_secs_f64());
        }
        {
            let mut queue = self.queue.lock().expect("dispatch queue poisoned");
            if let Some(count) = queue.delivering.get_mut(&tenant) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    queue.delivering.remove(&tenant);
                }
            }
        }
        self.wake(tenant);
    }

    /// Calls the module serving `slot` now; its effects and the delivery's end commit together.
    async fn to_module(&self, tenant: Uuid, claimed: &Claimed, slot: &str) -> Result<&'static str> {
        let mut tx = self.begin(tenant).await?;
        let bindings = registry::bindings_of(&mut tx).await?;
        let Some(module) = subscribers::serving(&self.registry, &bindings, slot).await? else {
            drop(tx);
            return self
                .fail(
                    tenant,
                    claimed,
                    "no module serves the slot any longer",
                    Next::Bury,
                )
                .await;
        };
        // The lease must outlast the call and its commit, or another host starts a second
        // attempt that queues on this one's row locks. A lease short of that is extended
        // (committed on its own, so that other hosts see it) before the call begins.
        let needed = module.limits().deadline + self.settings.statement_timeout;
        if needed > self.settings.lease {
            let secs = needed.as_secs_f64();
            if !deliveries::extend_lease(&mut tx, claimed, &self.host, secs).await? {
                return Ok("lease_lost");
            }
            tx.commit().await?;
            tx = self.begin(tenant).await?;
        }
        let event = Event {
            id: claimed.event_id.to_string(),
            event_type: claimed.event_type.clone(),
            payload: claimed.payload.to_string(),
            occurred_at: claimed
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            source: claimed.source.clone(),
        };
        let now = Utc::now();
        let policy = &self.settings.retry;
        match self.registry.deliver(&module, tx, event).await {
            Ok(Delivered {
                accepted: Ok(()),
                tx: Some(mut tx),
                ..
            }) => {
                if deliveries::finish(&mut tx, claimed, &self.host).await? {
                    tx.commit().await?;
                    Ok("delivered")
                } else {
                    // Another host took the delivery over: these effects must not commit.
                    Ok("lease_lost")
                }
            }
            Ok(Delivered {
                accepted: Err(reason),
                ..
            }) => {
                let next = policy.after_module_failure(claimed, now);
                self.fail(
                    tenant,
                    claimed,
                    &format!("the module refused: {reason}"),
                    next,
                )
                .await
            }
            Ok(Delivered { tx: None, .. }) => {
                let next = policy.after_module_failure(claimed, now);
                let error = "the module's transaction failed in the database";
                self.fail(tenant, claimed, error, next).await
            }
            Err(error) if error.code() == "tenant_busy" => {
                let at = now + chrono::Duration::from_std(policy.base).unwrap_or_default();
                self.fail(tenant, claimed, &error.to_string(), Next::DeferTo(at))
                    .await
            }
            Err(error) => {
                let next = policy.after_module_failure(claimed, now);
                self.fail(tenant, claimed, &error.to_string(), next).await
            }
        }
    }

    /// Posts the event to the endpoint once and logs the attempt.
    async fn to_webhook(&self, tenant: Uuid, claimed: &Claimed, id: Uuid) -> Result<&'static str> {
        let mut tx = self.begin(tenant).await?;
        let endpoint = webhooks::store::load_endpoint(&mut tx, id).await?;
        drop(tx);
        let Some(endpoint) = endpoint.filter(|endpoint| endpoint.enabled) else {
            let error = "the endpoint was deleted or disabled";
            return self.fail(tenant, claimed, error, Next::Bury).await;
        };
        let event = WebhookEvent {
            id: claimed.event_id,
            event_type: claimed.event_type.clone(),
            occurred_at: claimed.occurred_at,
            payload: claimed.payload.clone(),
        };
        let outcome = webhooks::deliver_once(&self.outbound, &endpoint, &event).await;
        let mut tx = self.begin(tenant).await?;
        webhooks::record_attempt(&mut tx, id, &event, claimed.attempts, &outcome).await?;
        if outcome.success {
            deliveries::finish(&mut tx, claimed, &self.host).await?;
            tx.commit().await?;
            return Ok("delivered");
        }
        let next = self
            .settings
            .retry
            .after_webhook_failure(claimed, Utc::now());
        let error = outcome.error.as_deref().unwrap_or("the delivery failed");
        deliveries::retry_or_bury(&mut tx, claimed, &self.host, error, next).await?;
        if next == Next::Bury {
            let window = self.settings.retry.webhook_window;
            webhooks::disable_if_failing(&mut tx, id, claimed.event_id, window).await?;
        }
        tx.commit().await?;
        self.hint(tenant, next).await?;
        Ok(if next == Next::Bury { "dead" } else { "retry" })
    }

    /// Ends a failed attempt in a transaction of its own.
    async fn fail(
        &self,
        tenant: Uuid,
        claimed: &Claimed,
        error: &str,
        next: Next,
    ) -> Result<&'static str> {
        let mut tx = self.begin(tenant).await?;
        deliveries::retry_or_bury(&mut tx, claimed, &self.host, error, next).await?;
        tx.commit().await?;
        self.hint(tenant, next).await?;
        Ok(match next {
            Next::Bury => "dead",
            Next::RetryAt(_) | Next::DeferTo(_) => "retry",
        })
    }

    /// Records a retry in the hint table, so that some host's poll wakes the tenant when it is
    /// due. Only retries need this: new events come with a NOTIFY, the next event of a chain
    /// is woken for by the delivery before it, and a dead host's expired leases (or a retry
    /// whose hint was lost with its host) are found by the sweep.
    async fn hint(&self, tenant: Uuid, next: Next) -> Result<()> {
        match next {
            Next::RetryAt(at) | Next::DeferTo(at) => self.hint_at(tenant, at).await,
            Next::Bury => Ok(()),
        }
    }

    async fn hint_at(&self, tenant: Uuid, at: chrono::DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO dispatch.due_tenants (tenant_id, due_at) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE
             SET due_at = least(dispatch.due_tenants.due_at, EXCLUDED.due_at)",
        )
        .bind(tenant)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// After a pass: a hint that has come due was for this pass, so it is replaced by the
    /// tenant's next due time (or dropped when nothing is pending). One statement when no hint
    /// was due, which is the common case.
    async fn settle_hint(&self, tenant: Uuid) -> Result<()> {
        let consumed = sqlx::query(
            "DELETE FROM dispatch.due_tenants WHERE tenant_id = $1 AND due_at <= now()",
        )
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        if consumed.rows_affected() == 0 {
            return Ok(());
        }
        let mut tx = self.begin(tenant).await?;
        let due = deliveries::next_due(&mut tx).await?;
        drop(tx);
        match due {
            Some(due_at) => self.hint_at(tenant, due_at).await,
            None => Ok(()),
        }
    }
}
