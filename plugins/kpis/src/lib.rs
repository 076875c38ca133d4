//! The kpis module (slot `kpis`): `GET /v1/kpis?metrics=a,b&from=&to=&bucket=` answers, per
//! metric, a series of buckets (day, week or month) of the tenant's calendar, computed by the
//! database through the store's `aggregate` capability: the module never pages through jobs,
//! invoices or agreements, it asks for counts and sums per bucket.
//!
//! - `query.rs` reads and checks the parameters (every bad one named in one 422);
//! - `calendar.rs` cuts the range into buckets; `capacity.rs` counts technicians' hours;
//! - `jobs.rs`, `revenue.rs`, `recurring.rs` and `receivables.rs` compute the metrics of
//!   each source table;
//! - `series.rs` is the answer's shape.
//!
//! The formulas are in docs/KPIS.md. Reading needs `kpi.read`; the module writes nothing.

mod calendar;
mod capacity;
mod jobs;
mod query;
mod receivables;
mod recurring;
mod revenue;
mod series;

use query::{Metric, Source};
use verofield_field_ops as ops;
use verofield_sdk::{Manifest, Module, Problem, Request, Response, Route, Tables};

const READ: &str = "kpi.read";
/// The billing module's invoices (named there; read here).
const INVOICES: &str = "billing_invoices";
/// The billing module's payments (named there; read here).
const PAYMENTS: &str = "billing_payments";

struct Kpis;

impl Module for Kpis {
    const MANIFEST: Manifest = Manifest {
        name: "kpis",
        version: env!("CARGO_PKG_VERSION"),
        slot: "kpis",
        routes: &[Route::get("/", READ, kpis)
            .summary("Metrics per bucket (metrics, from, to, bucket, currency, technician_id, service_type_id)")
            .responds::<series::Answer>(200)],
        tables: Tables {
            read: &[
                ops::JOBS,
                ops::ASSIGNMENTS,
                ops::TECHNICIANS,
                ops::TIME_OFF,
                ops::AGREEMENTS,
                INVOICES,
                PAYMENTS,
            ],
            write: &[],
        },
        ..Manifest::EMPTY
    };
}

/// `GET /v1/kpis`: each source table is aggregated once, whatever the metrics asked of it.
fn kpis(request: &Request) -> Result<Response, Problem> {
    let query = query::KpiQuery::read(request)?;
    let spans = calendar::spans(query.from, query.to, query.bucket);
    let asks = |sources: &[Source]| query.metrics.iter().any(|m| sources.contains(&m.source()));
    let job_counts = if asks(&[Source::Jobs, Source::JobsAndInvoices]) {
        Some(jobs::counts(&query, &spans)?)
    } else {
        None
    };
    let takings = if asks(&[Source::Invoices, Source::JobsAndInvoices]) {
        revenue::takings(&query, &spans)?
    } else {
        Vec::new()
    };
    let available = if query.metrics.contains(&Metric::TechnicianUtilisation) {
        capacity::available_minutes(&query, &spans)?
    } else {
        Vec::new()
    };
    let mut metrics = Vec::with_capacity(query.metrics.len());
    for &metric in &query.metrics {
        metrics.push(match (metric.source(), &job_counts) {
            (Source::Jobs, Some(counts)) => jobs::series(metric, &spans, counts, &available),
            (Source::Agreements, _) => recurring::series(metric, &query, &spans)?,
            (Source::Receivables, _) => receivables::series(&query, &spans)?,
            _ => revenue::series(metric, &spans, &takings, job_counts.as_ref()),
        });
    }
    Ok(Response::json(200, &series::Answer::new(&query, metrics)))
}

verofield_sdk::export_module!(Kpis);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_only_route_needing_kpi_read() {
        let manifest: serde_json::Value = serde_json::from_str(&Kpis::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["slot"], "kpis");
        let routes = manifest["routes"].as_array().unwrap();
        assert_eq!(routes.len(), 1);
        assert_eq!(
            (&routes[0]["method"], &routes[0]["permission"]),
            (&"GET".into(), &READ.into())
        );
        assert!(manifest["tables"]["write"].as_array().unwrap().is_empty());
    }
}
