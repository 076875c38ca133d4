//! The agreement metrics, read at instants: an agreement is *in force* at instant `t` when it
//! was activated before `t` and had not been canceled or expired by `t`, nor paused by `t`
//! and still paused (a paused agreement's pause date is all the history the table keeps).
//! Its worth is its `annual_value_minor` (price x visits or periods a year x locations, set
//! by the agreements module). Instants are the tenant's midnights, so a bucket ending on the
//! 30th is read at the first instant of the 31st, local time. One count-and-sum per instant.

use chrono::NaiveDate;
use verofield_field_ops::{self as ops, time};
use verofield_sdk::Problem;
use verofield_sdk::store::{self, Aggregation, Filter, group_number};

use crate::calendar::Span;
use crate::query::{KpiQuery, Metric};
use crate::series::{MetricSeries, Point};

/// The first instant of a tenant's `date`, as timestamp columns are compared.
fn midnight(date: NaiveDate, zone: &str) -> String {
    time::stamp(time::start_of_day(date, zone))
}

/// Not yet `column` at `instant`: never, or at or after it.
fn not_by(column: &str, instant: &str) -> Filter {
    Filter::or([Filter::is_null(column, true), Filter::ge(column, instant)])
}

/// The agreements in force at `instant` in `currency`: how many, and their annual value.
fn in_force(instant: &str, currency: &str) -> Result<(i64, i64), Problem> {
    let filter = Filter::and([
        Filter::eq("currency", currency),
        Filter::lt("activated_at", instant),
        not_by("canceled_at", instant),
        not_by("expired_at", instant),
        Filter::not(Filter::and([
            Filter::eq("status", "paused"),
            Filter::lt("paused_at", instant),
        ])),
    ]);
    count_and_value(&filter)
}

fn count_and_value(filter: &Filter) -> Result<(i64, i64), Problem> {
    let groups = store::aggregate(
        ops::AGREEMENTS,
        Some(filter),
        Vec::new(),
        vec![
            Aggregation::count("agreements"),
            Aggregation::sum("annual_value_minor", "annual_minor"),
        ],
        1,
    )?;
    Ok(groups
        .first()
        .map(|g| {
            (
                group_number(g, "agreements"),
                group_number(g, "annual_minor"),
            )
        })
        .unwrap_or_default())
}

pub fn series(metric: Metric, query: &KpiQuery, spans: &[Span]) -> Result<MetricSeries, Problem> {
    let zone = verofield_sdk::context::tenant_time_zone();
    let currency = query.currency.as_str();
    let mut points = Vec::with_capacity(spans.len());
    for span in spans {
        let start = midnight(span.start, &zone);
        let end = midnight(span.after(), &zone);
        let point = match metric {
            Metric::AgreementChurn => {
                let (active, _) = in_force(&start, currency)?;
                let canceled = Filter::and([
                    Filter::eq("currency", currency),
                    Filter::lt("activated_at", start.as_str()),
                    Filter::ge("canceled_at", start.as_str()),
                    Filter::lt("canceled_at", end.as_str()),
                ]);
                let (lost, _) = count_and_value(&canceled)?;
                Point::ratio(span, lost, active)
            }
            Metric::MonthlyRecurringRevenue => {
                let (_, annual) = in_force(&end, currency)?;
                Point::per_unit_minor(span, annual, 12)
            }
            _ => Point::whole(span, in_force(&end, currency)?.1),
        };
        points.push(point);
    }
    Ok(MetricSeries::new(metric, points))
}
