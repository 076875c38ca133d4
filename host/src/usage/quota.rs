//! Per-tenant monthly call quotas, set by the operator (`usage_quotas`). Before a module
//! request runs, [`check`] adds the month's flushed calls to this host's unflushed ones; at or
//! past the quota the request is refused with 429 `quota_exceeded` and `Retry-After` at the
//! start of the next UTC month. Event deliveries are not refused (they were promised when the
//! event committed) but count toward the quota. With several hosts the figure lags by at most
//! one flush interval of the others: a quota may be overrun by what they served meanwhile.

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::Meter;
use crate::error::{Error, Result};
use crate::tenancy::TenantTx;

/// The first instant of `now`'s UTC month, and of the next.
fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    (start, next)
}

/// Refuses the call when the tenant has a quota and the month's calls reached it. One query
/// inside the request's own transaction: the quota's row, the month's sum, and which of this
/// host's flushes in progress its snapshot does not yet see (their calls count from memory).
pub async fn check(tx: &mut TenantTx, meter: &Meter, now: DateTime<Utc>) -> Result<()> {
    let tenant = tx.tenant_id();
    let (start, next) = month_bounds(now);
    let unflushed = meter.unflushed_calls(tenant, start);
    let (xids, calls): (Vec<i64>, Vec<i64>) = unflushed.in_flight.into_iter().unzip();
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT q.monthly_calls,
                coalesce((SELECT sum(u.calls) FROM module_usage u
                          WHERE u.tenant_id = $1 AND u.hour >= $2), 0)::bigint,
                coalesce((SELECT sum(f.calls) FROM UNNEST($3::bigint[], $4::bigint[]) AS f(xid, calls)
                          WHERE NOT pg_visible_in_snapshot(f.xid::text::xid8,
                                                           pg_current_snapshot())), 0)::bigint
         FROM usage_quotas q WHERE q.tenant_id = $1",
    )
    .bind(tenant)
    .bind(start)
    .bind(xids)
    .bind(calls)
    .fetch_optional(tx.conn())
    .await?;
    let Some((quota, flushed, in_flight)) = row else {
        return Ok(());
    };
    let used = flushed
        .saturating_add(in_flight)
        .saturating_add(unflushed.pending_calls);
    if used < quota {
        return Ok(());
    }
    let wait = (next - now).num_seconds().max(1);
    Err(Error::too_many_requests(
        "quota_exceeded",
        format!("the tenant's quota of {quota} module calls this month is used up"),
        u64::try_from(wait).unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn december_rolls_over_into_january() {
        let now: DateTime<Utc> = "2026-12-07T03:00:00Z".parse().unwrap();
        let (start, next) = month_bounds(now);
        assert_eq!(
            start,
            "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            next,
            "2027-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
