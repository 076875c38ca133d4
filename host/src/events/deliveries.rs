//! The delivery rows of one tenant: fan-out, claim, and the end of an attempt. Every function
//! takes the tenant's transaction; the tenant comes from it.
//!
//! A delivery is `pending` until it is `delivered` or `dead`. A claim leases it to one host
//! (`leased_by`, `lease_until`) and counts the attempt; the attempt ends by [`finish`] or
//! [`retry_or_bury`], each guarded by the lease it started under, so a host whose lease ran
//! out (and whose delivery another host took over) changes nothing: for a module, its effects
//! roll back with the guard's miss, which is what makes delivery exactly once in effect.
//! Only the oldest pending delivery of a (subscriber, aggregate) chain is claimable, so one
//! subscriber sees one aggregate's events in order; a dead one no longer holds the chain.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use crate::tenancy::TenantTx;

/// An event not yet handed to its subscribers.
#[derive(Debug, FromRow)]
pub struct Undelivered {
    pub id: Uuid,
    pub event_type: String,
    pub aggregate: Option<String>,
    pub target: Option<String>,
}

/// The next events to fan out, oldest first, at most `limit`. The caller holds the tenant's
/// fan-out lock ([`try_lock_fan_out`]).
pub async fn undelivered(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<Undelivered>> {
    sqlx::query_as(
        "SELECT id, event_type, aggregate, target FROM event_outbox
         WHERE tenant_id = $1 AND delivered_at IS NULL ORDER BY id LIMIT $2",
    )
    .bind(tx.tenant_id())
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Takes the tenant's fan-out lock until the transaction ends; false when another host holds
/// it (that host fans out, and this one has nothing to do). One fan-out at a time per tenant
/// makes `feed_seq` grow in the order the fan-outs commit.
pub async fn try_lock_fan_out(tx: &mut TenantTx) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext($2::text))")
        .bind(FAN_OUT_LOCK)
        .bind(tx.tenant_id())
        .fetch_one(tx.conn())
        .await
}

/// The class of the fan-out advisory locks (ASCII "vfou").
const FAN_OUT_LOCK: i32 = 0x7666_6f75;

/// Records the deliveries of fanned-out events (`(event, subscriber, aggregate)` rows) and
/// marks the events handed over, with their place in the feed.
pub async fn fan_out(
    tx: &mut TenantTx,
    events: &[Uuid],
    deliveries: &[(Uuid, String, Option<String>)],
) -> sqlx::Result<()> {
    let (ids, rest): (Vec<Uuid>, Vec<(String, Option<String>)>) = deliveries
        .iter()
        .map(|(id, subscriber, aggregate)| (*id, (subscriber.clone(), aggregate.clone())))
        .unzip();
    let (subscribers, aggregates): (Vec<String>, Vec<Option<String>>) = rest.into_iter().unzip();
    sqlx::query(
        "INSERT INTO event_deliveries (tenant_id, event_id, subscriber, aggregate)
         SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant_id())
    .bind(&ids)
    .bind(&subscribers)
    .bind(&aggregates)
    .execute(tx.conn())
    .await?;
    // In id order, so that the feed keeps the order the events were written in.
    sqlx::query(
        "UPDATE event_outbox o SET delivered_at = now(), feed_seq = s.seq
         FROM (SELECT id, nextval('event_feed_seq') AS seq
               FROM unnest($2::uuid[]) AS id ORDER BY id) s
         WHERE o.tenant_id = $1 AND o.id = s.id",
    )
    .bind(tx.tenant_id())
    .bind(events)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A claimed delivery, with its event.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub event_id: Uuid,
    pub subscriber: String,
    /// Counting this one.
    pub attempts: i32,
    /// When the delivery was created (webhooks retry for a window from then).
    pub created_at: DateTime<Utc>,
    pub event_type: String,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
}

/// Leases up to `limit` due deliveries (the head of each chain) to `host` for `lease_secs`.
pub async fn claim(
    tx: &mut TenantTx,
    host: &str,
    lease_secs: f64,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "WITH due AS (
             SELECT d.event_id, d.subscriber FROM event_deliveries d
             WHERE d.tenant_id = $1 AND d.state = 'pending' AND d.next_attempt_at <= now()
               AND (d.lease_until IS NULL OR d.lease_until < now())
               AND NOT EXISTS (
                   SELECT 1 FROM event_deliveries e
                   WHERE e.tenant_id = d.tenant_id AND e.subscriber = d.subscriber
                     AND e.aggregate = d.aggregate AND e.state = 'pending'
                     AND e.event_id < d.event_id)
             ORDER BY d.next_attempt_at, d.event_id
             LIMIT $4
             FOR UPDATE OF d SKIP LOCKED)
         UPDATE event_deliveries d
         SET leased_by = $2, lease_until = now() + make_interval(secs => $3),
             attempts = d.attempts + 1
         FROM due, event_outbox o
         WHERE d.tenant_id = $1 AND d.event_id = due.event_id AND d.subscriber = due.subscriber
           AND o.tenant_id = $1 AND o.id = d.event_id
         RETURNING d.event_id, d.subscriber, d.attempts, d.created_at,
                   o.event_type, o.payload, o.occurred_at, o.source",
    )
    .bind(tx.tenant_id())
    .bind(host)
    .bind(lease_secs)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// An update of one claimed delivery that applies only while the lease it was claimed under
/// holds (`$1` to `$5`, bound by [`under_lease`]; the caller's own values from `$6`).
macro_rules! leased_update {
    ($set:literal) => {
        concat!(
            "UPDATE event_deliveries SET ",
            $set,
            " WHERE tenant_id = $1 AND event_id = $2 AND subscriber = $3
               AND state = 'pending' AND attempts = $4 AND leased_by = $5"
        )
    };
}

fn under_lease<'q>(
    sql: &'q str,
    tx: &TenantTx,
    claimed: &'q Claimed,
    host: &'q str,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(tx.tenant_id())
        .bind(claimed.event_id)
        .bind(&claimed.subscriber)
        .bind(claimed.attempts)
        .bind(host)
}

/// Marks a claimed delivery delivered, `finished_at` the clock time the effect was written
/// (the latency the benchmark reports ends there). False when the lease it was claimed under is gone
/// (another host took it over): the caller must then roll back.
pub async fn finish(tx: &mut TenantTx, claimed: &Claimed, host: &str) -> sqlx::Result<bool> {
    let done = under_lease(
        leased_update!(
            "state = 'delivered', finished_at = clock_timestamp(), lease_until = NULL,
             last_error = NULL"
        ),
        tx,
        claimed,
        host,
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Extends a claimed delivery's lease to `secs` from now (guarded by its lease, as [`finish`]).
pub async fn extend_lease(
    tx: &mut TenantTx,
    claimed: &Claimed,
    host: &str,
    secs: f64,
) -> sqlx::Result<bool> {
    let done = under_lease(
        leased_update!("lease_until = greatest(lease_until, now() + make_interval(secs => $6))"),
        tx,
        claimed,
        host,
    )
    .bind(secs)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What becomes of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Try again at this time without counting this attempt (the tenant's share was full).
    DeferTo(DateTime<Utc>),
    /// Give up: the delivery is dead, its last error kept.
    Bury,
}

/// Ends a failed attempt (guarded by its lease, as [`finish`]). True when it applied.
pub async fn retry_or_bury(
    tx: &mut TenantTx,
    claimed: &Claimed,
    host: &str,
    error: &str,
    next: Next,
) -> sqlx::Result<bool> {
    let (state, at, uncount) = match next {
        Next::RetryAt(at) => ("pending", Some(at), 0),
        Next::DeferTo(at) => ("pending", Some(at), 1),
        Next::Bury => ("dead", None, 0),
    };
    let error: String = error.chars().take(2_000).collect();
    let done = under_lease(
        leased_update!(
            "state = $6, next_attempt_at = coalesce($7, next_attempt_at),
             attempts = attempts - $8, lease_until = NULL, last_error = $9,
             finished_at = CASE WHEN $6 = 'dead' THEN now() END"
        ),
        tx,
        claimed,
        host,
    )
    .bind(state)
    .bind(at)
    .bind(uncount)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When the tenant next has delivery work: the earliest retry, or the earliest expiry of a
/// lease in flight (a host that dies leaves its deliveries to whoever looks then).
pub async fn next_due(tx: &mut TenantTx) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT min(CASE WHEN lease_until > now() THEN lease_until ELSE next_attempt_at END)
         FROM event_deliveries WHERE tenant_id = $1 AND state = 'pending'",
    )
    .bind(tx.tenant_id())
    .fetch_one(tx.conn())
    .await
}

/// Puts a dead (or delivered) delivery back in the queue, due now, its attempts counted
/// afresh: a manual redelivery. Creates it when the event never had this subscriber. False
/// when the event does not exist for the tenant.
pub async fn redeliver(tx: &mut TenantTx, event_id: Uuid, subscriber: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO event_deliveries (tenant_id, event_id, subscriber, aggregate)
         SELECT tenant_id, id, $3, aggregate FROM event_outbox WHERE tenant_id = $1 AND id = $2
         ON CONFLICT (tenant_id, event_id, subscriber) DO UPDATE
         SET state = 'pending', attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at,
             lease_until = NULL, leased_by = NULL, finished_at = NULL,
             created_at = EXCLUDED.created_at",
    )
    .bind(tx.tenant_id())
    .bind(event_id)
    .bind(subscriber)
    .execute(tx.conn())
    .await?;
    // Wakes the dispatchers at commit, as a new event does.
    super::outbox::wake_dispatchers(tx).await?;
    Ok(done.rows_affected() == 1)
}
