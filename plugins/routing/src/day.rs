//! The date path of `POST /optimize`: builds the solver's problem from the tenant's tables.
//!
//! - Technicians: active ones (or exactly `technician_ids`), each with a shift on that day
//!   from `working_hours[weekday]` in the technician's own IANA time zone: from the first
//!   interval's start to the last one's end, the longest gap between intervals becoming the
//!   break. Time off cuts the shift (or removes the technician for the day). A technician
//!   without home coordinates or hours that day is left out. Routes start and end at home.
//! - Jobs: that day's `unscheduled` and `scheduled` jobs (or exactly `job_ids`), at their
//!   CRM location's coordinates, with `window_start`/`window_end` as the service-start
//!   window when set, `duration_minutes` of service, `required_skills`, and priority 1..5
//!   weighted 5..1. A job without coordinates is answered unassigned (`no_location`).
//! - Travel: great-circle distance at `speed_kmh` (default 30). Times are seconds from
//!   midnight UTC of the day before; the plan also gives them as RFC 3339 UTC.
//!
//! The version of every job is recorded in the plan, so that applying it can refuse jobs
//! that changed since.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use verofield_sdk::store::{Filter, Record, Select};
use verofield_sdk::{FieldError, Problem};
use vrptw::{Break, Job, Location, TimeWindow, TravelModel, Vehicle};

use crate::optimize::{OptimizeBody, PlanUnassigned, Prepared};
use crate::time::{parse_clock, parse_date, parse_rfc3339, weekday};
use crate::{JOBS, LOCATIONS, TECHNICIANS, TIME_OFF};

const DEFAULT_SPEED_KMH: f64 = 30.0;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const OPEN_STATUSES: [&str; 2] = ["unscheduled", "scheduled"];
const PAGE: u32 = 500;
/// Ids per `in` filter.
const CHUNK: usize = 200;

#[derive(Debug, Deserialize)]
struct Technician {
    #[serde(default)]
    skills: Option<Vec<String>>,
    #[serde(default)]
    working_hours: Option<Value>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    home_latitude: Option<f64>,
    #[serde(default)]
    home_longitude: Option<f64>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct TimeOff {
    technician_id: String,
    starts_at: String,
    ends_at: String,
}

/// The columns of a job the plan and `routing.job_priority` (`priorities.rs`) read.
#[derive(Debug, Deserialize)]
pub struct JobRow {
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub service_type_ids: Option<Vec<String>>,
    #[serde(default)]
    pub custom: Option<Value>,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    pub required_skills: Option<Vec<String>>,
    #[serde(default)]
    pub window_start: Option<String>,
    #[serde(default)]
    pub window_end: Option<String>,
    #[serde(default)]
    duration_minutes: Option<i64>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LocationRow {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

/// Every row matching `filter`, page after page.
fn all<T: serde::de::DeserializeOwned>(
    table: &str,
    filter: Filter,
) -> Result<Vec<Record<T>>, Problem> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = Select::from(table)
            .filter(filter.clone())
            .cursor(cursor)
            .limit(PAGE)
            .fetch::<T>()?;
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The rows with these ids (any order), in chunks.
pub fn by_ids<T: serde::de::DeserializeOwned>(
    table: &str,
    ids: &[String],
) -> Result<Vec<Record<T>>, Problem> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(all(table, Filter::one_of("id", chunk.iter().cloned()))?);
    }
    Ok(rows)
}

/// Checks a list of ids: UUIDs, no duplicates, every one found.
fn check_ids<T>(
    field: &str,
    ids: &[String],
    found: &BTreeMap<String, Record<T>>,
    what: &str,
    errors: &mut Vec<FieldError>,
) {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if !verofield_sdk::http::is_uuid(id) {
            errors.push(FieldError::new(at, "must be a UUID"));
        } else if !seen.insert(id.to_ascii_lowercase()) {
            errors.push(FieldError::new(at, "is listed twice"));
        } else if !found.contains_key(&id.to_ascii_lowercase()) {
            errors.push(FieldError::new(at, format!("no {what} with this id")));
        }
    }
}

fn keyed<T>(rows: Vec<Record<T>>) -> BTreeMap<String, Record<T>> {
    rows.into_iter()
        .map(|row| (row.id.to_ascii_lowercase(), row))
        .collect()
}

/// Local wall-clock seconds after midnight of `day` in `zone`, as Unix seconds.
fn local_to_unix(zone: &jiff::tz::TimeZone, day: i64, seconds: i64) -> Option<f64> {
    let (y, m, d) = crate::time::civil_from_days(day);
    let midnight = jiff::civil::Date::new(y as i16, m as i8, d as i8).ok()?;
    let local = midnight
        .to_datetime(jiff::civil::Time::midnight())
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .ok()?;
    let zoned = local.to_zoned(zone.clone()).ok()?;
    Some(zoned.timestamp().as_second() as f64)
}

/// A shift that day: (start, end) in Unix seconds, and the break as (start, length).
type Shift = ((f64, f64), Option<(f64, f64)>);

/// The technician's shift that day, if they work.
fn shift(technician: &Technician, day: i64, time_off: &[(f64, f64)]) -> Option<Shift> {
    let zone = jiff::tz::TimeZone::get(technician.time_zone.as_deref().unwrap_or("UTC")).ok()?;
    let hours = technician.working_hours.as_ref()?;
    let intervals = hours.get(WEEKDAYS[weekday(day)])?.as_array()?;
    let mut spans: Vec<(f64, f64)> = intervals
        .iter()
        .filter_map(|interval| {
            let start = parse_clock(interval.get("start")?.as_str()?)?;
            let end = parse_clock(interval.get("end")?.as_str()?)?;
            let start = local_to_unix(&zone, day, start)?;
            let end = local_to_unix(&zone, day, end)?;
            (end > start).then_some((start, end))
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut from, mut to) = (
        spans.first()?.0,
        spans.iter().map(|s| s.1).fold(f64::MIN, f64::max),
    );
    let mut rest = spans
        .windows(2)
        .map(|pair| (pair[0].1, pair[1].0 - pair[0].1))
        .filter(|(_, gap)| *gap > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    for &(off_from, off_to) in time_off {
        if off_to <= from || off_from >= to {
            continue;
        }
        if off_from <= from && off_to >= to {
            return None;
        } else if off_from <= from {
            from = off_to;
        } else if off_to >= to {
            to = off_from;
        } else if rest.is_none() {
            rest = Some((off_from, off_to - off_from));
        } else {
            to = off_from;
        }
    }
    if let Some((at, _)) = rest
        && (at < from || at > to)
    {
        rest = None;
    }
    (to > from).then_some(((from, to), rest))
}

pub fn prepare(body: &OptimizeBody) -> Result<Prepared, Problem> {
    let date = body.date.as_deref().unwrap_or_default();
    let mut errors = Vec::new();
    let day = parse_date(date);
    if day.is_none() {
        errors.push(FieldError::new("date", "must be a date, YYYY-MM-DD"));
    }
    let speed_kmh = body.speed_kmh.unwrap_or(DEFAULT_SPEED_KMH);
    if !(speed_kmh.is_finite() && speed_kmh > 0.0 && speed_kmh <= 300.0) {
        errors.push(FieldError::new(
            "speed_kmh",
            "must be above 0 and at most 300",
        ));
    }
    let limits = vrptw::Limits::default();

    let technicians = match &body.technician_ids {
        Some(ids) => {
            if ids.is_empty() {
                errors.push(FieldError::new("technician_ids", "the fleet is empty"));
            }
            let valid: Vec<String> = ids
                .iter()
                .filter(|id| verofield_sdk::http::is_uuid(id))
                .map(|id| id.to_ascii_lowercase())
                .collect();
            let found = keyed(by_ids::<Technician>(TECHNICIANS, &valid)?);
            check_ids("technician_ids", ids, &found, "technician", &mut errors);
            for (i, id) in ids.iter().enumerate() {
                if let Some(row) = found.get(&id.to_ascii_lowercase())
                    && row.values.active == Some(false)
                {
                    errors.push(FieldError::new(
                        format!("technician_ids[{i}]"),
                        "the technician is not active",
                    ));
                }
            }
            found.into_values().collect()
        }
        None => all::<Technician>(TECHNICIANS, Filter::eq("active", true))?,
    };
    if technicians.len() > limits.max_vehicles {
        errors.push(FieldError::new(
            "technician_ids",
            format!(
                "{} technicians exceed the limit of {}",
                technicians.len(),
                limits.max_vehicles
            ),
        ));
    }

    let jobs = match (&body.job_ids, day) {
        (Some(ids), _) => {
            let valid: Vec<String> = ids
                .iter()
                .filter(|id| verofield_sdk::http::is_uuid(id))
                .map(|id| id.to_ascii_lowercase())
                .collect();
            let found = keyed(by_ids::<JobRow>(JOBS, &valid)?);
            check_ids("job_ids", ids, &found, "job", &mut errors);
            for (i, id) in ids.iter().enumerate() {
                if let Some(row) = found.get(&id.to_ascii_lowercase())
                    && let Some(status) = &row.values.status
                    && !OPEN_STATUSES.contains(&status.as_str())
                {
                    errors.push(FieldError::new(
                        format!("job_ids[{i}]"),
                        format!(
                            "the job is {status}; only unscheduled and scheduled jobs are planned"
                        ),
                    ));
                }
            }
            found.into_values().collect()
        }
        (None, Some(_)) => all::<JobRow>(
            JOBS,
            Filter::and([
                Filter::eq("scheduled_date", date),
                Filter::one_of("status", OPEN_STATUSES),
            ]),
        )?,
        (None, None) => Vec::new(),
    };
    if jobs.len() > limits.max_jobs {
        errors.push(FieldError::new(
            if body.job_ids.is_some() {
                "job_ids"
            } else {
                "date"
            },
            format!(
                "{} jobs exceed the limit of {}",
                jobs.len(),
                limits.max_jobs
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let day = day.unwrap_or_default();
    let epoch = ((day - 1) * 86_400) as f64;

    // Time off overlapping the day (a day either side, for time zones).
    let mut time_off: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let technician_ids: Vec<String> = technicians.iter().map(|t| t.id.clone()).collect();
    for chunk in technician_ids.chunks(CHUNK) {
        let rows = all::<TimeOff>(
            TIME_OFF,
            Filter::and([
                Filter::one_of("technician_id", chunk.iter().cloned()),
                Filter::lt(
                    "starts_at",
                    crate::time::format_rfc3339(((day + 2) * 86_400) as f64),
                ),
                Filter::gt(
                    "ends_at",
                    crate::time::format_rfc3339(((day - 1) * 86_400) as f64),
                ),
            ]),
        )?;
        for row in rows {
            if let (Some(from), Some(to)) = (
                parse_rfc3339(&row.values.starts_at),
                parse_rfc3339(&row.values.ends_at),
            ) {
                time_off
                    .entry(row.values.technician_id.to_ascii_lowercase())
                    .or_default()
                    .push((from, to));
            }
        }
    }

    let mut locations = Vec::new();
    let mut vehicles = Vec::new();
    for technician in &technicians {
        let values = &technician.values;
        let (Some(lat), Some(lon)) = (values.home_latitude, values.home_longitude) else {
            continue;
        };
        let off = time_off
            .get(&technician.id.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(((from, to), rest)) = shift(values, day, off) else {
            continue;
        };
        locations.push(Location::Geo { lat, lon });
        vehicles.push(Vehicle {
            id: technician.id.clone(),
            start_location: locations.len() - 1,
            end_location: None,
            shift: TimeWindow::new(from - epoch, to - epoch),
            break_: rest.map(|(at, length)| Break {
                window: TimeWindow::new(at - epoch, at - epoch),
                duration: length,
            }),
            skills: values.skills.clone().unwrap_or_default(),
            capacity: None,
            fixed_cost: 0.0,
        });
    }
    if vehicles.is_empty() {
        return Err(Problem::validation(vec![FieldError::new(
            if body.technician_ids.is_some() {
                "technician_ids"
            } else {
                "date"
            },
            "the fleet is empty: no active technician with home coordinates works that day",
        )]));
    }

    let location_ids: Vec<String> = jobs
        .iter()
        .filter_map(|job| job.values.location_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sites = keyed(by_ids::<LocationRow>(LOCATIONS, &location_ids)?);

    let priorities = crate::priorities::of(date, &jobs)?;
    let mut job_versions = serde_json::Map::new();
    let mut excluded = Vec::new();
    let mut solver_jobs = Vec::new();
    for job in &jobs {
        job_versions.insert(job.id.clone(), Value::from(job.version));
        let values = &job.values;
        let site = values
            .location_id
            .as_ref()
            .and_then(|id| sites.get(&id.to_ascii_lowercase()));
        let Some((lat, lon)) = site.and_then(|s| Some((s.values.latitude?, s.values.longitude?)))
        else {
            excluded.push(PlanUnassigned {
                job_id: job.id.clone(),
                reason: "no_location".into(),
            });
            continue;
        };
        let start = values.window_start.as_deref().and_then(parse_rfc3339);
        let end = values.window_end.as_deref().and_then(parse_rfc3339);
        let window = match (start, end) {
            (None, None) => None,
            (start, end) => Some(TimeWindow::new(
                start.map_or(0.0, |s| s - epoch),
                end.map_or(4.0 * 86_400.0, |e| e - epoch),
            )),
        };
        let service = values.duration_minutes.unwrap_or(0) as f64 * 60.0;
        if window.is_some_and(|w| w.end < w.start) || service < 0.0 {
            excluded.push(PlanUnassigned {
                job_id: job.id.clone(),
                reason: "invalid_window".into(),
            });
            continue;
        }
        locations.push(Location::Geo { lat, lon });
        solver_jobs.push(Job {
            id: job.id.clone(),
            location: locations.len() - 1,
            time_windows: window.into_iter().collect(),
            service,
            skills: values.required_skills.clone().unwrap_or_default(),
            priority: (6 - priorities
                .get(&job.id)
                .copied()
                .or(values.priority)
                .unwrap_or(crate::priorities::DEFAULT_PRIORITY)
                .clamp(1, 5)) as f64,
            demand: 0,
            allowed_vehicles: Vec::new(),
        });
    }

    Ok(Prepared {
        problem: vrptw::Problem {
            locations,
            travel: TravelModel::Haversine {
                speed_mps: speed_kmh / 3.6,
            },
            vehicles,
            jobs: solver_jobs,
        },
        epoch: Some(epoch),
        excluded,
        job_versions,
        units: "m, s",
    })
}
