//! Days sales outstanding: what customers owe at the end of a bucket over what was billed in
//! it, times its days. Receivables at a date are rebuilt from dated rows, since an invoice's
//! `amount_due_minor` is only today's: the totals (tax included) of the finalized invoices
//! issued by then, less what payments received by then applied to invoices. Four grouped
//! sums serve any range: invoices and payments before `from`, then per bucket.

use std::collections::HashMap;

use chrono::NaiveDate;
use verofield_sdk::Problem;
use verofield_sdk::store::{self, Aggregation, Filter, GroupKey, group_number};

use crate::calendar::{self, Span};
use crate::query::{KpiQuery, Metric};
use crate::series::{MetricSeries, Point};
use crate::{INVOICES, PAYMENTS};

/// The invoice statuses that were billed (never drafts or voided invoices).
const BILLED: [&str; 3] = ["open", "paid", "uncollectible"];

/// `sum(column)` over `table` rows of the currency with `date_column` before `from`, and per
/// bucket of the range.
fn sums(
    query: &KpiQuery,
    spans: &[Span],
    table: &str,
    date_column: &str,
    column: &str,
    narrower: Option<Filter>,
) -> Result<(i64, Vec<i64>), Problem> {
    let mut base = vec![Filter::eq("currency", query.currency.as_str())];
    base.extend(narrower);
    let before = Filter::and(
        base.iter()
            .cloned()
            .chain([Filter::lt(date_column, query.from.to_string())]),
    );
    let earlier = store::aggregate(
        table,
        Some(&before),
        Vec::new(),
        vec![Aggregation::sum(column, "sum")],
        1,
    )?
    .first()
    .map(|group| group_number(group, "sum"))
    .unwrap_or(0);
    let within = Filter::and(base.into_iter().chain([
        Filter::ge(date_column, query.from.to_string()),
        Filter::le(date_column, query.to.to_string()),
    ]));
    let mut per_bucket: HashMap<NaiveDate, i64> = HashMap::new();
    for group in store::aggregate(
        table,
        Some(&within),
        vec![GroupKey::by(date_column, Some(query.bucket.store()))],
        vec![Aggregation::sum(column, "sum")],
        u32::try_from(spans.len()).unwrap_or(u32::MAX),
    )? {
        if let Some(key) = calendar::group_key(group.get(date_column)) {
            per_bucket.insert(key, group_number(&group, "sum"));
        }
    }
    Ok((
        earlier,
        spans
            .iter()
            .map(|span| per_bucket.get(&span.key).copied().unwrap_or(0))
            .collect(),
    ))
}

/// `days_sales_outstanding` per bucket: receivables at its end x its days / billed in it.
pub fn series(query: &KpiQuery, spans: &[Span]) -> Result<MetricSeries, Problem> {
    let billed_filter = Filter::one_of("status", BILLED);
    let (billed_before, billed) = sums(
        query,
        spans,
        INVOICES,
        "issue_date",
        "total_minor",
        Some(billed_filter),
    )?;
    let (paid_before, paid) = sums(query, spans, PAYMENTS, "received_on", "applied_minor", None)?;
    let mut owed = billed_before - paid_before;
    let points = spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            owed += billed[i] - paid[i];
            Point::ratio(span, owed.max(0) * span.days(), billed[i])
        })
        .collect();
    Ok(MetricSeries::new(Metric::DaysSalesOutstanding, points))
}
