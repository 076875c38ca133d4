//! Why a technician cannot take a job: inactive, a required skill missing, the job's block
//! outside their working hours (in their own zone), time off over it, or another open job of
//! theirs overlapping it. A job's block is the interval an applied routing plan planned for
//! it when there is one (that is when the technician is there: three visits planned inside
//! one promised 09:00-12:00 window do not overlap), else from the start of its promised
//! window to the later of the window's end and start + duration.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use verofield_field_ops::{
    ASSIGNMENTS, Columns, JOBS, TIME_OFF, select_all, status, text, texts, time,
};
use verofield_sdk::Problem;
use verofield_sdk::store::{Filter, Record};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub technician_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_off_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
}

impl Conflict {
    fn new(technician_id: &str, kind: &'static str, detail: String) -> Self {
        Self {
            technician_id: technician_id.to_owned(),
            kind,
            detail,
            job_id: None,
            time_off_id: None,
            skills: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Interval {
    start: String,
    end: String,
}

/// The time a job holds, if it has a planned interval or a window.
pub fn block(job: &Columns) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let (Some(start), Some(end)) = (
        time::parse_instant(text(job, "planned_start")),
        time::parse_instant(text(job, "planned_end")),
    ) {
        return Some((start, end.max(start)));
    }
    let start = time::parse_instant(text(job, "window_start"))?;
    let end = time::parse_instant(text(job, "window_end")).unwrap_or(start);
    let minutes = job
        .get("duration_minutes")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    Some((start, end.max(start + Duration::minutes(minutes))))
}

/// Every conflict between `job` and `technician`.
pub fn find(job: &Record<Columns>, technician: &Record<Columns>) -> Result<Vec<Conflict>, Problem> {
    let tech_id = technician.id.as_str();
    let mut found = Vec::new();
    if technician.values.get("active").and_then(|v| v.as_bool()) == Some(false) {
        found.push(Conflict::new(
            tech_id,
            "technician_inactive",
            "the technician is not active".into(),
        ));
    }
    let skills = texts(&technician.values, "skills");
    let missing: Vec<String> = texts(&job.values, "required_skills")
        .into_iter()
        .filter(|skill| !skills.contains(skill))
        .collect();
    if !missing.is_empty() {
        let mut conflict = Conflict::new(
            tech_id,
            "missing_skill",
            format!("the job needs {}", missing.join(", ")),
        );
        conflict.skills = missing;
        found.push(conflict);
    }
    let Some((start, end)) = block(&job.values) else {
        return Ok(found);
    };
    if let Some(detail) = outside_working_hours(&technician.values, start, end) {
        found.push(Conflict::new(tech_id, "outside_working_hours", detail));
    }
    let time_off = select_all(
        TIME_OFF,
        Filter::and([
            Filter::eq("technician_id", tech_id),
            Filter::lt("starts_at", time::rfc3339(end)),
            Filter::gt("ends_at", time::rfc3339(start)),
        ]),
        &[],
        1000,
        "time off entries",
    )?;
    for entry in time_off {
        let mut conflict = Conflict::new(
            tech_id,
            "time_off",
            format!(
                "time off from {} to {}",
                text(&entry.values, "starts_at"),
                text(&entry.values, "ends_at")
            ),
        );
        conflict.time_off_id = Some(entry.id);
        found.push(conflict);
    }
    // Jobs that could overlap (blocks are at most a day long), then those assigned to them.
    let starts_near = |column: &str| {
        Filter::and([
            Filter::lt(column, time::rfc3339(end)),
            Filter::gt(column, time::rfc3339(start - Duration::hours(24))),
        ])
    };
    let nearby = select_all(
        JOBS,
        Filter::and([
            Filter::or([starts_near("window_start"), starts_near("planned_start")]),
            Filter::one_of("status", status::OPEN),
        ]),
        &[],
        2000,
        "jobs around this one",
    )?;
    let overlapping: Vec<&Record<Columns>> = nearby
        .iter()
        .filter(|other| other.id != job.id)
        .filter(|other| block(&other.values).is_some_and(|(s, e)| s < end && e > start))
        .collect();
    if !overlapping.is_empty() {
        let assigned = select_all(
            ASSIGNMENTS,
            Filter::and([
                Filter::eq("technician_id", tech_id),
                Filter::one_of("job_id", overlapping.iter().map(|j| j.id.as_str())),
            ]),
            &[],
            2000,
            "assignments",
        )?;
        for other in overlapping {
            let Some((other_start, other_end)) = block(&other.values) else {
                continue;
            };
            if assigned
                .iter()
                .any(|a| text(&a.values, "job_id") == other.id)
            {
                let mut conflict = Conflict::new(
                    tech_id,
                    "overlapping_job",
                    format!(
                        "already assigned to a job from {} to {}",
                        time::rfc3339(other_start),
                        time::rfc3339(other_end)
                    ),
                );
                conflict.job_id = Some(other.id.clone());
                found.push(conflict);
            }
        }
    }
    Ok(found)
}

/// Why `start..end` is not inside one of the technician's working intervals for that local
/// weekday, or `None` when it is (or when no working hours are set at all).
pub fn outside_working_hours(
    technician: &Columns,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<String> {
    let hours: BTreeMap<String, Vec<Interval>> = technician
        .get("working_hours")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    if hours.is_empty() {
        return None;
    }
    let zone = time::zone(text(technician, "time_zone")).unwrap_or(chrono_tz::UTC);
    let local_start = time::to_local(start, zone);
    let local_end = time::to_local(end, zone);
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [local_start.weekday().num_days_from_monday() as usize];
    let fits = local_start.date() == local_end.date()
        && hours.get(day).is_some_and(|intervals| {
            intervals.iter().any(
                |i| match (time::parse_hhmm(&i.start), time::parse_hhmm(&i.end)) {
                    (Some(s), Some(e)) => local_start.time() >= s && local_end.time() <= e,
                    _ => false,
                },
            )
        });
    (!fits).then(|| {
        format!(
            "{} {}-{} ({}) is outside the technician's working hours",
            day,
            local_start.format("%H:%M"),
            local_end.format("%H:%M"),
            zone
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns(value: serde_json::Value) -> Columns {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn working_hours_in_the_technicians_zone() {
        let tech = columns(json!({
            "time_zone": "America/New_York",
            "working_hours": {"mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]}
        }));
        let at = |s: &str| time::parse_instant(s).unwrap();
        // Monday 2026-03-09 09:00-10:00 EDT is 13:00-14:00 UTC.
        assert_eq!(
            outside_working_hours(
                &tech,
                at("2026-03-09T13:00:00Z"),
                at("2026-03-09T14:00:00Z")
            ),
            None
        );
        // Across the lunch break.
        assert!(
            outside_working_hours(
                &tech,
                at("2026-03-09T15:30:00Z"),
                at("2026-03-09T17:30:00Z")
            )
            .is_some()
        );
        // Tuesday: no hours.
        assert!(
            outside_working_hours(
                &tech,
                at("2026-03-10T13:00:00Z"),
                at("2026-03-10T14:00:00Z")
            )
            .is_some()
        );
        // No hours set: anything goes.
        assert_eq!(
            outside_working_hours(
                &columns(json!({})),
                at("2026-03-10T13:00:00Z"),
                at("2026-03-10T14:00:00Z")
            ),
            None
        );
    }

    #[test]
    fn a_block_covers_window_and_duration() {
        let job = columns(json!({
            "window_start": "2026-03-09T13:00:00+00:00",
            "window_end": "2026-03-09T14:00:00+00:00",
            "duration_minutes": 90
        }));
        let (start, end) = block(&job).unwrap();
        assert_eq!(time::rfc3339(start), "2026-03-09T13:00:00Z");
        assert_eq!(time::rfc3339(end), "2026-03-09T14:30:00Z");
    }
}
