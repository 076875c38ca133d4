//! The metrics `GET /v1/kpis` answers, by name, and the dashboard's default set: the kpis
//! module computes them, the layouts module lets a widget name only these, so both read the
//! one list (docs/KPIS.md has each formula).

/// A metric's name and whether the job filters (technician, service type) narrow it: only
/// the metrics counted from jobs can be; invoices and agreements have no technician.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiMetric {
    pub name: &'static str,
    pub job_filters: bool,
}

const fn metric(name: &'static str, job_filters: bool) -> KpiMetric {
    KpiMetric { name, job_filters }
}

/// Every metric, in the order docs/KPIS.md lists them.
pub const KPI_METRICS: &[KpiMetric] = &[
    metric("jobs_completed", true),
    metric("jobs_per_technician_per_day", true),
    metric("cancellation_rate", true),
    metric("technician_utilisation", true),
    metric("reschedule_rate", true),
    metric("on_time_arrival_rate", true),
    metric("travel_distance_per_job", true),
    metric("revenue", false),
    metric("average_ticket", false),
    metric("revenue_per_job", false),
    metric("mrr", false),
    metric("arr", false),
    metric("agreement_churn", false),
    metric("days_sales_outstanding", false),
];

/// The 8 metrics of the built-in default dashboard (a user without a layout of their own or
/// of their role sees these), the set the benchmark times.
pub const DEFAULT_DASHBOARD: [&str; 8] = [
    "jobs_completed",
    "jobs_per_technician_per_day",
    "technician_utilisation",
    "on_time_arrival_rate",
    "cancellation_rate",
    "revenue",
    "average_ticket",
    "mrr",
];

/// The metric called `name`, if `/v1/kpis` knows it.
pub fn kpi_metric(name: &str) -> Option<KpiMetric> {
    KPI_METRICS.iter().copied().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_dashboard_names_known_metrics_once() {
        for (i, name) in DEFAULT_DASHBOARD.iter().enumerate() {
            assert!(kpi_metric(name).is_some(), "{name}");
            assert!(!DEFAULT_DASHBOARD[..i].contains(name), "{name} twice");
        }
    }
}
