//! The parameters of `GET /v1/kpis`, read and checked in one pass: every bad parameter is
//! named in one 422 `validation_failed` (an unknown metric, a date that is not YYYY-MM-DD,
//! `to` before `from`, a range of more buckets than one answer carries, a filter that the
//! asked metrics cannot honour), so a dashboard learns everything wrong at once.

use chrono::NaiveDate;
use verofield_field_ops::time::parse_date;
use verofield_sdk::http::is_uuid;
use verofield_sdk::{FieldError, Problem, Request};

use crate::calendar::{self, Bucket};

/// The most buckets one answer carries (a year of days).
pub const MAX_BUCKETS: usize = 366;

/// Where a metric's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Jobs,
    Invoices,
    JobsAndInvoices,
    Agreements,
    /// Invoices and payments, at each bucket's end.
    Receivables,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    JobsCompleted,
    JobsPerTechnicianPerDay,
    CancellationRate,
    TechnicianUtilisation,
    RescheduleRate,
    OnTimeArrivalRate,
    TravelDistancePerJob,
    Revenue,
    AverageTicket,
    RevenuePerJob,
    MonthlyRecurringRevenue,
    AnnualRecurringValue,
    AgreementChurn,
    DaysSalesOutstanding,
}

/// Each metric's name in the API, in the order docs/KPIS.md lists them.
const METRICS: &[(&str, Metric)] = &[
    ("jobs_completed", Metric::JobsCompleted),
    (
        "jobs_per_technician_per_day",
        Metric::JobsPerTechnicianPerDay,
    ),
    ("cancellation_rate", Metric::CancellationRate),
    ("technician_utilisation", Metric::TechnicianUtilisation),
    ("reschedule_rate", Metric::RescheduleRate),
    ("on_time_arrival_rate", Metric::OnTimeArrivalRate),
    ("travel_distance_per_job", Metric::TravelDistancePerJob),
    ("revenue", Metric::Revenue),
    ("average_ticket", Metric::AverageTicket),
    ("revenue_per_job", Metric::RevenuePerJob),
    ("mrr", Metric::MonthlyRecurringRevenue),
    ("arr", Metric::AnnualRecurringValue),
    ("agreement_churn", Metric::AgreementChurn),
    ("days_sales_outstanding", Metric::DaysSalesOutstanding),
];

impl Metric {
    pub fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, metric)| *metric == self)
            .map(|(name, _)| *name)
            .unwrap_or_default()
    }

    fn parse(name: &str) -> Option<Self> {
        METRICS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, metric)| *metric)
    }

    pub fn source(self) -> Source {
        match self {
            Self::JobsCompleted
            | Self::JobsPerTechnicianPerDay
            | Self::CancellationRate
            | Self::TechnicianUtilisation
            | Self::RescheduleRate
            | Self::OnTimeArrivalRate
            | Self::TravelDistancePerJob => Source::Jobs,
            Self::Revenue | Self::AverageTicket => Source::Invoices,
            Self::RevenuePerJob => Source::JobsAndInvoices,
            Self::MonthlyRecurringRevenue | Self::AnnualRecurringValue | Self::AgreementChurn => {
                Source::Agreements
            }
            Self::DaysSalesOutstanding => Source::Receivables,
        }
    }

    /// `count`, `ratio` (0..=1), `minor` (minor units of `currency`), `per_day` or `meters`
    /// (whole metres per job).
    pub fn unit(self) -> &'static str {
        match self {
            Self::JobsCompleted => "count",
            Self::JobsPerTechnicianPerDay => "per_day",
            Self::CancellationRate
            | Self::TechnicianUtilisation
            | Self::RescheduleRate
            | Self::OnTimeArrivalRate
            | Self::AgreementChurn => "ratio",
            Self::TravelDistancePerJob => "meters",
            Self::DaysSalesOutstanding => "days",
            Self::Revenue
            | Self::AverageTicket
            | Self::RevenuePerJob
            | Self::MonthlyRecurringRevenue
            | Self::AnnualRecurringValue => "minor",
        }
    }
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub metrics: Vec<Metric>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: Bucket,
    /// The currency of the money metrics (ISO 4217; default USD).
    pub currency: String,
    pub technician_id: Option<String>,
    pub service_type_id: Option<String>,
}

impl KpiQuery {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let metrics = metrics(request.query("metrics"), &mut errors);
        let from = date(request, "from", &mut errors);
        let to = date(request, "to", &mut errors);
        let bucket = match request.query("bucket").unwrap_or("day") {
            "day" => Bucket::Day,
            "week" => Bucket::Week,
            "month" => Bucket::Month,
            _ => {
                errors.push(FieldError::new("bucket", "must be day, week or month"));
                Bucket::Day
            }
        };
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                errors.push(FieldError::new("to", "must not be before `from`"));
            } else if calendar::count(from, to, bucket) > MAX_BUCKETS {
                errors.push(FieldError::new(
                    "to",
                    format!("the range holds more than {MAX_BUCKETS} buckets; use a larger bucket"),
                ));
            }
        }
        let currency = request.query("currency").unwrap_or("USD").to_owned();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                "currency",
                "must be an ISO 4217 code (USD)",
            ));
        }
        let technician_id = filter(request, "technician_id", &metrics, &mut errors);
        let service_type_id = filter(request, "service_type_id", &metrics, &mut errors);
        match (from, to) {
            (Some(from), Some(to)) if errors.is_empty() => Ok(Self {
                metrics,
                from,
                to,
                bucket,
                currency,
                technician_id,
                service_type_id,
            }),
            _ => Err(Problem::validation(errors)),
        }
    }
}

/// The comma-separated metric names, each known and named once.
fn metrics(list: Option<&str>, errors: &mut Vec<FieldError>) -> Vec<Metric> {
    let known = || {
        METRICS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(list) = list.filter(|list| !list.trim().is_empty()) else {
        errors.push(FieldError::new(
            "metrics",
            format!("name at least one metric: {}", known()),
        ));
        return Vec::new();
    };
    let mut metrics = Vec::new();
    for name in list.split(',').map(str::trim) {
        match Metric::parse(name) {
            Some(metric) if !metrics.contains(&metric) => metrics.push(metric),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "metrics",
                format!("`{name}` is not a metric; known: {}", known()),
            )),
        }
    }
    metrics
}

fn date(request: &Request, name: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let parsed = request.query(name).and_then(parse_date);
    if parsed.is_none() {
        errors.push(FieldError::new(name, "must be a date (YYYY-MM-DD)"));
    }
    parsed
}

/// A filter by id: a UUID, and only with metrics that count jobs alone (an invoice or an
/// agreement has no technician, and the jobs behind a sum of invoices are not split).
fn filter(
    request: &Request,
    name: &str,
    metrics: &[Metric],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = request.query(name)?;
    if !is_uuid(value) {
        errors.push(FieldError::new(name, "must be a UUID"));
        return None;
    }
    let unfiltered: Vec<&str> = metrics
        .iter()
        .filter(|metric| metric.source() != Source::Jobs)
        .map(|metric| metric.name())
        .collect();
    if !unfiltered.is_empty() {
        errors.push(FieldError::new(
            name,
            format!("applies to job metrics only, not {}", unfiltered.join(", ")),
        ));
        return None;
    }
    Some(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_are_the_shared_list() {
        let names: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
        let shared: Vec<&str> = verofield_field_ops::kpi_metrics::KPI_METRICS
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, shared);
        for (name, metric) in METRICS {
            let shared = verofield_field_ops::kpi_metrics::kpi_metric(name).unwrap();
            assert_eq!(
                shared.job_filters,
                metric.source() == Source::Jobs,
                "{name}"
            );
        }
    }

    #[test]
    fn every_metric_name_round_trips() {
        for (name, metric) in METRICS {
            assert_eq!(Metric::parse(name), Some(*metric));
            assert_eq!(metric.name(), *name);
        }
        assert_eq!(Metric::parse("revenue "), None);
    }

    #[test]
    fn unknown_and_missing_metrics_are_named() {
        let mut errors = Vec::new();
        let found = metrics(Some("revenue,nope,revenue"), &mut errors);
        assert_eq!(found, vec![Metric::Revenue]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metrics");
        metrics(Some(" "), &mut errors);
        assert_eq!(errors.len(), 2);
    }
}
