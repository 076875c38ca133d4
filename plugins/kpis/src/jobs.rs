//! The job metrics. A job belongs to the bucket of its `scheduled_date` (the tenant's local
//! date the job is planned for; unscheduled jobs have none and count nowhere). Two grouped
//! counts serve all of them: every job per bucket, and the completed and canceled ones per
//! bucket and status. The technician filter is the jobs of that technician's assignments
//! (read by id, then counted by the database); the service type filter is jobs that include
//! the type. Booked minutes (utilisation) are the planned durations of the jobs not canceled.
//! Reschedules, arrivals and planned travel are read from columns the database and the routing
//! plans keep on the job (migration 0025), each by one more grouped count, only when asked.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};
use verofield_field_ops as ops;
use verofield_sdk::Problem;
use verofield_sdk::store::{self, Aggregation, Filter, GroupKey, Select, group_number};

use crate::calendar::{self, Span};
use crate::query::{KpiQuery, Metric};
use crate::series::{MetricSeries, Point};

/// The jobs of one bucket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub scheduled: i64,
    pub completed: i64,
    pub canceled: i64,
    /// The planned minutes (`duration_minutes`) of the jobs not canceled.
    pub booked_minutes: i64,
    /// Jobs whose promised window was changed at least once after it was set.
    pub rescheduled: i64,
    /// Jobs with a promised window whose work started (`arrived_on_time` not null), and those
    /// of them that started inside the window.
    pub arrivals: i64,
    pub on_time: i64,
    /// Jobs not canceled that an applied routing plan routed, and their metres of travel.
    pub routed: i64,
    pub travel_meters: i64,
}

/// The counts of every bucket, in the order of the spans, and the technicians working.
#[derive(Debug, Clone)]
pub struct JobCounts {
    pub buckets: Vec<Counts>,
    /// The technician filtered by (1), or the tenant's active technicians.
    pub technicians: i64,
}

pub fn counts(query: &KpiQuery, spans: &[Span]) -> Result<JobCounts, Problem> {
    let mut filters = vec![
        Filter::ge("scheduled_date", query.from.to_string()),
        Filter::le("scheduled_date", query.to.to_string()),
    ];
    if let Some(service) = &query.service_type_id {
        filters.push(Filter::one_of("service_type_ids", [service.as_str()]));
    }
    let technicians = match &query.technician_id {
        Some(technician) => {
            let jobs = assigned_jobs(technician)?;
            if jobs.is_empty() {
                return Ok(JobCounts {
                    buckets: vec![Counts::default(); spans.len()],
                    technicians: 1,
                });
            }
            filters.push(Filter::one_of("id", jobs));
            1
        }
        None => active_technicians()?,
    };
    let in_range = Filter::and(filters);
    let by_bucket = GroupKey::by("scheduled_date", Some(query.bucket.store()));
    let mut buckets: HashMap<NaiveDate, Counts> = HashMap::new();
    let limit = u32::try_from(spans.len() * 2).unwrap_or(u32::MAX);
    for group in store::aggregate(
        ops::JOBS,
        Some(&in_range),
        vec![by_bucket.clone()],
        vec![
            Aggregation::count("jobs"),
            Aggregation::sum("duration_minutes", "minutes"),
        ],
        limit,
    )? {
        if let Some(key) = calendar::group_key(group.get("scheduled_date")) {
            let counts = buckets.entry(key).or_default();
            counts.scheduled = group_number(&group, "jobs");
            counts.booked_minutes += group_number(&group, "minutes");
        }
    }
    let ended = Filter::and([
        in_range.clone(),
        Filter::one_of("status", [ops::status::COMPLETED, ops::status::CANCELED]),
    ]);
    for group in store::aggregate(
        ops::JOBS,
        Some(&ended),
        vec![by_bucket.clone(), GroupKey::by("status", None)],
        vec![
            Aggregation::count("jobs"),
            Aggregation::sum("duration_minutes", "minutes"),
        ],
        limit,
    )? {
        let Some(key) = calendar::group_key(group.get("scheduled_date")) else {
            continue;
        };
        let counts = buckets.entry(key).or_default();
        let jobs = group_number(&group, "jobs");
        match group.get("status").and_then(|s| s.as_str()) {
            Some(ops::status::COMPLETED) => counts.completed = jobs,
            Some(ops::status::CANCELED) => {
                counts.canceled = jobs;
                counts.booked_minutes -= group_number(&group, "minutes");
            }
            _ => {}
        }
    }
    let asks = |metric| query.metrics.contains(&metric);
    let mut count_into = |narrower: Filter,
                          by: Option<GroupKey>,
                          add: &dyn Fn(&mut Counts, &Map<String, Value>)|
     -> Result<(), Problem> {
        let mut keys = vec![by_bucket.clone()];
        keys.extend(by);
        for group in store::aggregate(
            ops::JOBS,
            Some(&Filter::and([in_range.clone(), narrower])),
            keys,
            vec![
                Aggregation::count("jobs"),
                Aggregation::sum("planned_travel_meters", "meters"),
            ],
            limit,
        )? {
            if let Some(key) = calendar::group_key(group.get("scheduled_date")) {
                add(buckets.entry(key).or_default(), &group);
            }
        }
        Ok(())
    };
    if asks(Metric::RescheduleRate) {
        count_into(Filter::gt("reschedules", 0), None, &|counts, group| {
            counts.rescheduled = group_number(group, "jobs");
        })?;
    }
    if asks(Metric::OnTimeArrivalRate) {
        let by_arrival = GroupKey::by("arrived_on_time", None);
        count_into(
            Filter::is_null("arrived_on_time", false),
            Some(by_arrival),
            &|counts, group| {
                let jobs = group_number(group, "jobs");
                counts.arrivals += jobs;
                if group.get("arrived_on_time") == Some(&Value::Bool(true)) {
                    counts.on_time = jobs;
                }
            },
        )?;
    }
    if asks(Metric::TravelDistancePerJob) {
        let routed = Filter::and([
            Filter::is_null("planned_travel_meters", false),
            Filter::ne("status", ops::status::CANCELED),
        ]);
        count_into(routed, None, &|counts, group| {
            counts.routed = group_number(group, "jobs");
            counts.travel_meters = group_number(group, "meters");
        })?;
    }
    Ok(JobCounts {
        buckets: spans
            .iter()
            .map(|span| buckets.get(&span.key).copied().unwrap_or_default())
            .collect(),
        technicians,
    })
}

/// The ids of the jobs a technician is assigned to.
fn assigned_jobs(technician: &str) -> Result<Vec<String>, Problem> {
    let mut jobs = Vec::new();
    let mut cursor = None;
    loop {
        let page = Select::from(ops::ASSIGNMENTS)
            .filter(Filter::eq("technician_id", technician))
            .limit(1_000)
            .cursor(cursor)
            .fetch::<ops::Columns>()?;
        jobs.extend(
            page.items
                .iter()
                .map(|row| ops::text(&row.values, "job_id").to_owned()),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(jobs),
        }
    }
}

fn active_technicians() -> Result<i64, Problem> {
    let groups = store::aggregate(
        ops::TECHNICIANS,
        Some(&Filter::eq("active", true)),
        Vec::new(),
        vec![Aggregation::count("technicians")],
        1,
    )?;
    Ok(groups
        .first()
        .map(|group| group_number(group, "technicians"))
        .unwrap_or(0))
}

/// A job metric's series from the counts; `available` is each span's working minutes (for
/// utilisation).
pub fn series(
    metric: Metric,
    spans: &[Span],
    counts: &JobCounts,
    available: &[i64],
) -> MetricSeries {
    let points = spans
        .iter()
        .zip(&counts.buckets)
        .enumerate()
        .map(|(i, (span, bucket))| match metric {
            Metric::JobsPerTechnicianPerDay => {
                Point::ratio(span, bucket.completed, counts.technicians * span.days())
            }
            Metric::CancellationRate => Point::ratio(span, bucket.canceled, bucket.scheduled),
            Metric::RescheduleRate => Point::ratio(span, bucket.rescheduled, bucket.scheduled),
            Metric::OnTimeArrivalRate => Point::ratio(span, bucket.on_time, bucket.arrivals),
            Metric::TravelDistancePerJob => {
                Point::per_unit_minor(span, bucket.travel_meters, bucket.routed)
            }
            Metric::TechnicianUtilisation => Point::ratio(
                span,
                bucket.booked_minutes,
                available.get(i).copied().unwrap_or(0),
            ),
            _ => Point::whole(span, bucket.completed),
        })
        .collect();
    MetricSeries::new(metric, points)
}
