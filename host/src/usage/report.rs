//! Reading usage back: one tenant's figures between `from` and `to`, grouped by hour, by
//! UTC day or by module, or (for the operator) one tenant's totals. The parameters arrive as
//! text and are checked here, each error naming its parameter (422 `validation_failed`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Counts;
use crate::error::{Result, Validator};
use crate::tenancy::TenantTx;

/// The longest span one report covers: a year of hours is under 9,000 rows per module.
const MAX_SPAN_DAYS: i64 = 366;
/// `from` when the query gives none: the day before `to`.
const DEFAULT_SPAN_HOURS: i64 = 24;

/// The query as sent: RFC 3339 times and a grouping, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Option<String>,
    /// The operator's view names the tenant by slug; a tenant's own view refuses it.
    pub tenant: Option<String>,
    /// Pages the operator's view across tenants (no `tenant`); refused elsewhere.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Hour,
    Day,
    Module,
}

/// A checked query: `from` < `to`, at most a year apart.
#[derive(Debug)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
}

impl Window {
    pub fn parse(query: &UsageQuery, now: DateTime<Utc>) -> Result<Self> {
        let mut check = Validator::new();
        let mut time = |field: &str, text: &Option<String>| match text {
            None => None,
            Some(text) => match DateTime::parse_from_rfc3339(text) {
                Ok(time) => Some(time.with_timezone(&Utc)),
                Err(_) => {
                    check.push(field, "must be an RFC 3339 time, e.g. 2026-12-07T00:00:00Z");
                    None
                }
            },
        };
        let to = time("to", &query.to);
        let from = time("from", &query.from);
        let group_by = match query.group_by.as_deref() {
            None | Some("hour") => Some(GroupBy::Hour),
            Some("day") => Some(GroupBy::Day),
            Some("module") => Some(GroupBy::Module),
            Some(_) => {
                check.push("group_by", "must be one of hour, day, module");
                None
            }
        };
        let bad_times =
            (query.to.is_some() && to.is_none()) || (query.from.is_some() && from.is_none());
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - TimeDelta::hours(DEFAULT_SPAN_HOURS));
        if !bad_times {
            check.check(from < to, "from", "must be before to");
            check.check(
                to - from <= TimeDelta::days(MAX_SPAN_DAYS),
                "from",
                format!("must be at most {MAX_SPAN_DAYS} days before to"),
            );
        }
        check.finish()?;
        Ok(Self {
            from,
            to,
            group_by: group_by.expect("checked above"),
        })
    }
}

/// One group's figures: `start` names an hour or a UTC day, `module` a module.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = UsageRow)]
pub struct Row {
    pub start: Option<DateTime<Utc>>,
    pub module: Option<String>,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub counts: Counts,
    /// Bytes of the tenant's rows in the modules' collections: each module's latest sample
    /// in the group, added up; null when no module was sampled in it (see migration 0023).
    pub storage_bytes: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = UsageReport)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    pub items: Vec<Row>,
}

/// The additive figures, the `Counts` columns.
const COUNTERS: [&str; 10] = [
    "calls",
    "failures",
    "wall_us",
    "cpu_us",
    "host_calls",
    "rows_read",
    "rows_written",
    "events_emitted",
    "outbound_requests",
    "log_bytes",
];

/// The rows of the tenant's figures for hours in `[$2, $3)`, grouped by `start` and `module`
/// (fixed SQL fragments, never request text). Counters add up; storage, a gauge, is each
/// module's latest sample in the group, then added up across the group's modules.
fn grouped_sql(start: &str, module: &str) -> String {
    let inner: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("sum({c}) AS {c}"))
        .collect();
    let outer: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("coalesce(sum({c}), 0)::bigint AS {c}"))
        .collect();
    format!(
        "SELECT start, module, {outer}, sum(latest_bytes)::bigint AS storage_bytes
         FROM (SELECT {start} AS start, {module} AS module, {inner},
                      (array_agg(storage_bytes ORDER BY hour DESC)
                          FILTER (WHERE storage_bytes IS NOT NULL))[1] AS latest_bytes
               FROM module_usage
               WHERE tenant_id = $1 AND hour >= $2 AND hour < $3
               GROUP BY 1, 2, module) AS per_module
         GROUP BY 1, 2 ORDER BY 1, 2",
        outer = outer.join(", "),
        inner = inner.join(", "),
    )
}

async fn grouped(
    tx: &mut TenantTx,
    window: &Window,
    start: &str,
    module: &str,
) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(&grouped_sql(start, module))
        .bind(tx.tenant_id())
        .bind(window.from)
        .bind(window.to)
        .fetch_all(tx.conn())
        .await?)
}

/// The tenant's flushed figures for hours starting in `[from, to)`. Figures still in some
/// host's memory (at most one flush interval old) are not in it.
pub async fn read(tx: &mut TenantTx, window: Window) -> Result<Report> {
    let (start, module) = match window.group_by {
        GroupBy::Hour => ("hour", "NULL::text"),
        GroupBy::Day => ("date_trunc('day', hour, 'UTC')", "NULL::text"),
        GroupBy::Module => ("NULL::timestamptz", "module"),
    };
    let items = grouped(tx, &window, start, module).await?;
    Ok(Report {
        from: window.from,
        to: window.to,
        group_by: window.group_by,
        items,
    })
}

/// One tenant's totals over a window, a row of the operator's view across tenants.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TenantUsage)]
pub struct TenantTotals {
    pub tenant_id: uuid::Uuid,
    pub tenant: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Each module's latest storage sample in the window, added up.
    pub storage_bytes: Option<i64>,
}

/// The tenant's flushed totals (every module, every hour) in `[from, to)`: counts and
/// storage bytes.
pub async fn totals(tx: &mut TenantTx, window: &Window) -> Result<(Counts, Option<i64>)> {
    let rows = grouped(tx, window, "NULL::timestamptz", "NULL::text").await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|row| (row.counts, row.storage_bytes))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>, group_by: Option<&str>) -> UsageQuery {
        UsageQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            group_by: group_by.map(str::to_owned),
            ..UsageQuery::default()
        }
    }

    fn fields_of(query: UsageQuery) -> String {
        let error = Window::parse(&query, Utc::now()).unwrap_err();
        format!("{error:?}")
    }

    #[test]
    fn no_parameters_mean_the_last_day_by_hour() {
        let now = Utc::now();
        let window = Window::parse(&UsageQuery::default(), now).unwrap();
        assert_eq!((window.to, window.group_by), (now, GroupBy::Hour));
        assert_eq!(window.to - window.from, TimeDelta::hours(24));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert!(fields_of(query(Some("yesterday"), None, None)).contains("from"));
        assert!(fields_of(query(None, Some("2026-13-01T00:00:00Z"), None)).contains("\"to\""));
        assert!(fields_of(query(None, None, Some("week"))).contains("group_by"));
    }

    #[test]
    fn from_must_come_before_to_and_within_a_year() {
        let reversed = query(
            Some("2026-12-07T00:00:00Z"),
            Some("2026-12-06T00:00:00Z"),
            None,
        );
        assert!(fields_of(reversed).contains("must be before to"));
        let long = query(
            Some("2020-01-01T00:00:00Z"),
            Some("2026-01-01T00:00:00Z"),
            None,
        );
        assert!(fields_of(long).contains("366 days"));
    }
}
