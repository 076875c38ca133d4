//! The invoice metrics. Revenue is what finalized invoices (open, paid or uncollectible;
//! never drafts or voided ones) charge before tax, in the asked currency, in the bucket of
//! their issue date (the tenant's date the invoice was finalized). One grouped sum serves
//! them all; revenue per job divides by the jobs completed in the same bucket.

use std::collections::HashMap;

use chrono::NaiveDate;
use verofield_sdk::Problem;
use verofield_sdk::store::{self, Aggregation, Filter, GroupKey, group_number};

use crate::INVOICES;
use crate::calendar::{self, Span};
use crate::jobs::JobCounts;
use crate::query::{KpiQuery, Metric};
use crate::series::{MetricSeries, Point};

/// The invoices of one bucket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Takings {
    pub invoices: i64,
    /// Totals less tax, in minor units.
    pub revenue_minor: i64,
}

pub fn takings(query: &KpiQuery, spans: &[Span]) -> Result<Vec<Takings>, Problem> {
    let filter = Filter::and([
        Filter::one_of("status", ["open", "paid", "uncollectible"]),
        Filter::eq("currency", query.currency.as_str()),
        Filter::ge("issue_date", query.from.to_string()),
        Filter::le("issue_date", query.to.to_string()),
    ]);
    let groups = store::aggregate(
        INVOICES,
        Some(&filter),
        vec![GroupKey::by("issue_date", Some(query.bucket.store()))],
        vec![
            Aggregation::count("invoices"),
            Aggregation::sum("total_minor", "total_minor"),
            Aggregation::sum("tax_minor", "tax_minor"),
        ],
        u32::try_from(spans.len()).unwrap_or(u32::MAX),
    )?;
    let mut buckets: HashMap<NaiveDate, Takings> = HashMap::new();
    for group in groups {
        if let Some(key) = calendar::group_key(group.get("issue_date")) {
            let total = group_number(&group, "total_minor");
            let tax = group_number(&group, "tax_minor");
            buckets.insert(
                key,
                Takings {
                    invoices: group_number(&group, "invoices"),
                    revenue_minor: total.saturating_sub(tax),
                },
            );
        }
    }
    Ok(spans
        .iter()
        .map(|span| buckets.get(&span.key).copied().unwrap_or_default())
        .collect())
}

/// An invoice metric's series; `jobs` is needed for revenue per job.
pub fn series(
    metric: Metric,
    spans: &[Span],
    takings: &[Takings],
    jobs: Option<&JobCounts>,
) -> MetricSeries {
    let points = spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let bucket = takings[i];
            match metric {
                Metric::AverageTicket => {
                    Point::per_unit_minor(span, bucket.revenue_minor, bucket.invoices)
                }
                Metric::RevenuePerJob => {
                    let completed = jobs.map(|jobs| jobs.buckets[i].completed).unwrap_or(0);
                    Point::per_unit_minor(span, bucket.revenue_minor, completed)
                }
                _ => Point::whole(span, bucket.revenue_minor),
            }
        })
        .collect();
    MetricSeries::new(metric, points)
}
