//! `routing.job_priority` (docs/EXTENSIONS.md): routing hands a day's jobs to the tenant's
//! extensions before the solver weighs them, and each may raise or lower a job's priority.
//! Chained. The schema range-checks priorities (1, the most urgent, to 5); the [`guard`]
//! keeps the rest: the same date and the same jobs in the same order, only `priority`
//! changed. Routing sends at most [`MAX_JOBS`] jobs a run (a bigger day goes in several runs),
//! so one run's output stays within the extensions' output cap.

use serde_json::{Value, json};

use super::points::id;

pub const POINT: &str = "routing.job_priority";

/// Jobs in one run of the point.
pub const MAX_JOBS: usize = 100;

/// The input and output schema (the same shape, as the point is chained).
pub fn schema(which: &str) -> Value {
    let text_or_null = json!({"type": ["string", "null"]});
    json!({
        "$id": id(POINT, which),
        "type": "object",
        "required": ["date", "jobs"],
        "additionalProperties": false,
        "properties": {
            "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "jobs": {
                "type": "array",
                "maxItems": MAX_JOBS,
                "items": {
                    "type": "object",
                    "required": ["id", "priority"],
                    "additionalProperties": false,
                    "properties": {
                        "id": {"type": "string"},
                        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                        "service_types": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "name"],
                                "properties": {"id": {"type": "string"}, "name": {"type": "string"}}
                            }
                        },
                        "required_skills": {"type": "array", "items": {"type": "string"}},
                        "customer_id": text_or_null,
                        "customer_tags": {"type": "array", "items": {"type": "string"}},
                        "window_start": text_or_null,
                        "window_end": text_or_null,
                        "custom": {"type": "object"}
                    }
                }
            }
        }
    })
}

/// Why `output` breaks the point's rule, if it does: anything but a job's `priority` changed.
pub fn guard(input: &Value, output: &Value, _extension: &str) -> Result<(), String> {
    if input["date"] != output["date"] {
        return Err("changed the date".into());
    }
    let jobs = |value: &Value| value["jobs"].as_array().cloned().unwrap_or_default();
    let (before, after) = (jobs(input), jobs(output));
    if before.len() != after.len() {
        return Err(format!(
            "answered {} jobs for {}",
            after.len(),
            before.len()
        ));
    }
    for (index, (mut was, mut is)) in before.into_iter().zip(after).enumerate() {
        for job in [&mut was, &mut is] {
            if let Some(members) = job.as_object_mut() {
                members.remove("priority");
            }
        }
        if was != is {
            return Err(format!("changed jobs[{index}] beyond its priority"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(jobs: Value) -> Value {
        json!({"date": "2027-01-04", "jobs": jobs})
    }

    #[test]
    fn only_priorities_change_within_range() {
        let input = day(json!([{"id": "a", "priority": 3, "customer_tags": ["vip"]},
                               {"id": "b", "priority": 3}]));
        let bumped = day(json!([{"id": "a", "priority": 1, "customer_tags": ["vip"]},
                                {"id": "b", "priority": 3}]));
        assert_eq!(guard(&input, &bumped, "x"), Ok(()));
        let point = super::super::points::point(POINT).unwrap();
        assert_eq!(point.misfit_output(&bumped), None);
        let mut zero = bumped.clone();
        zero["jobs"][0]["priority"] = json!(0);
        assert!(point.misfit_output(&zero).is_some());

        let swapped = day(json!([{"id": "b", "priority": 3},
                                 {"id": "a", "priority": 1, "customer_tags": ["vip"]}]));
        let dropped = day(json!([{"id": "a", "priority": 1, "customer_tags": ["vip"]}]));
        let mut moved = bumped.clone();
        moved["date"] = json!("2027-01-05");
        for bad in [swapped, dropped, moved] {
            assert!(guard(&input, &bad, "x").is_err(), "{bad}");
        }
    }
}
