//! Technician profiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use verofield_field_ops::{Columns, TECHNICIAN, TECHNICIANS, check_skills, normalize_skills, time};
use verofield_sdk::http::{Request, is_uuid};
use verofield_sdk::store::{self, Filter, Record, Select, StoreError};
use verofield_sdk::{FieldError, Patch, Problem, Response, Validator, etag};

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A local `HH:MM` to `HH:MM` interval.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub start: String,
    pub end: String,
}

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianFields {
    user_id: Patch<String>,
    name: Patch<String>,
    email: Patch<String>,
    phone: Patch<String>,
    skills: Patch<Vec<String>>,
    working_hours: Patch<BTreeMap<String, Vec<Interval>>>,
    time_zone: Patch<String>,
    home_latitude: Patch<f64>,
    home_longitude: Patch<f64>,
    active: Patch<bool>,
}

impl TechnicianFields {
    fn from_request(request: &Request, creating: bool) -> Result<Self, Problem> {
        let mut fields: Self = request.json()?;
        fields.name.normalize(|n| Some(n.trim().to_owned()));
        fields.email.normalize_email();
        fields.phone.trim_or_null();
        fields
            .skills
            .normalize(|skills| Some(normalize_skills(skills)));
        fields.validate(creating)?;
        Ok(fields)
    }

    fn validate(&self, creating: bool) -> Result<(), Problem> {
        let mut check = Validator::default();
        check
            .required(&self.name, "name", creating)
            .required(&self.skills, "skills", false)
            .required(&self.working_hours, "working_hours", false)
            .required(&self.time_zone, "time_zone", false)
            .required(&self.active, "active", false)
            .length("name", self.name.value(), 1..=200)
            .email("email", self.email.value())
            .phone("phone", self.phone.value())
            .within(
                "home_latitude",
                self.home_latitude.value().copied(),
                -90.0..=90.0,
            )
            .within(
                "home_longitude",
                self.home_longitude.value().copied(),
                -180.0..=180.0,
            )
            .check(
                std::mem::discriminant(&self.home_latitude)
                    == std::mem::discriminant(&self.home_longitude),
                "home_longitude",
                "must be given (or cleared) together with home_latitude",
            );
        if let Some(user_id) = self.user_id.value() {
            check.check(is_uuid(user_id), "user_id", "must be a UUID");
        }
        if let Some(zone) = self.time_zone.value() {
            check.check(
                time::zone(zone).is_some(),
                "time_zone",
                "must be an IANA time zone",
            );
        }
        if let Some(skills) = self.skills.value() {
            check_skills(&mut check, "skills", skills);
        }
        if let Some(hours) = self.working_hours.value() {
            check_working_hours(&mut check, hours);
        }
        check.finish()
    }
}

fn check_working_hours(check: &mut Validator, hours: &BTreeMap<String, Vec<Interval>>) {
    for (day, intervals) in hours {
        let field = format!("working_hours.{day}");
        if !DAYS.contains(&day.as_str()) {
            check.check(
                false,
                &field,
                "must be one of mon, tue, wed, thu, fri, sat, sun",
            );
            continue;
        }
        check.check(intervals.len() <= 4, &field, "may hold at most 4 intervals");
        let mut parsed = Vec::new();
        for (i, interval) in intervals.iter().enumerate() {
            let field = format!("{field}[{i}]");
            match (
                time::parse_hhmm(&interval.start),
                time::parse_hhmm(&interval.end),
            ) {
                (Some(start), Some(end)) if start < end => parsed.push((start, end)),
                (Some(_), Some(_)) => {
                    check.check(false, &field, "end must be after start");
                }
                _ => {
                    check.check(false, &field, "start and end must be HH:MM");
                }
            }
        }
        parsed.sort();
        check.check(
            parsed.windows(2).all(|w| w[0].1 <= w[1].0),
            &field,
            "intervals may not overlap",
        );
    }
}

/// A store error on writing a technician, with `user_id` named when it is the cause.
fn write_problem(error: StoreError, linked: bool) -> Problem {
    match error {
        StoreError::Invalid(_) if linked => {
            Problem::validation(vec![FieldError::new("user_id", "no user with this id")])
        }
        StoreError::Duplicate(_) => Problem::new(
            409,
            "duplicate",
            "another technician is already linked to this user",
        ),
        other => other.into(),
    }
}

/// `POST /technicians`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let fields = TechnicianFields::from_request(request, true)?;
    let technician: Record<Columns> = store::insert(TECHNICIANS, &fields)
        .map_err(|e| write_problem(e, fields.user_id.value().is_some()))?;
    Ok(Response::created(
        &format!("/v1/technicians/{}", technician.id),
        &technician,
    ))
}

/// `GET /technicians?active=&skill=&q=&user_id=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    if let Some(active) = request.query_parsed::<bool>("active", "true or false")? {
        filters.push(Filter::eq("active", active));
    }
    for skill in request.query_all("skill") {
        filters.push(Filter::eq("skills", skill.trim().to_lowercase()));
    }
    if let Some(q) = request.query("q").filter(|q| !q.trim().is_empty()) {
        filters.push(Filter::contains("name", q.trim()));
    }
    if let Some(user) = request.query_uuid("user_id")? {
        filters.push(Filter::eq("user_id", user));
    }
    let page = Select::from(TECHNICIANS)
        .filter(Filter::and(filters))
        .order_by("name", store::Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /technicians/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(
        200,
        &TECHNICIAN.existing(request.id_param("id")?)?,
    ))
}

/// `PATCH /technicians/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields = TechnicianFields::from_request(request, false)?;
    let linked = fields.user_id.value().is_some();
    let current = TECHNICIAN.existing(id)?;
    etag::check_if_match(request, current.version)?;
    let technician: Record<Columns> = store::update(TECHNICIANS, id, current.version, &fields)
        .map_err(|e| match e {
            StoreError::Conflict(_) if request.header("if-match").is_some() => {
                Problem::precondition_failed()
            }
            other => write_problem(other, linked),
        })?;
    Ok(Response::record(200, &technician))
}

/// `DELETE /technicians/{id}`: only a technician never assigned (deactivate the others).
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let current = TECHNICIAN.existing(id)?;
    etag::check_if_match(request, current.version)?;
    store::delete(TECHNICIANS, id, Some(current.version)).map_err(|e| match e {
        StoreError::Invalid(_) => Problem::new(
            409,
            "technician_in_use",
            "the technician has job assignments; set `active` to false instead",
        ),
        other => other.into(),
    })?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(body: &str, creating: bool) -> Vec<String> {
        let request = Request {
            method: "POST".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            ..Request::default()
        };
        match TechnicianFields::from_request(&request, creating) {
            Ok(_) => vec![],
            Err(problem) => problem.errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn validates_fields() {
        assert!(invalid(
            r#"{"name": "Tess", "skills": ["Termite", "termite"], "time_zone": "America/Chicago",
                "working_hours": {"mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]}}"#,
            true
        )
        .is_empty());
        assert_eq!(invalid("{}", true), ["name"]);
        assert_eq!(
            invalid(
                r#"{"time_zone": "Nowhere/Land", "user_id": "x", "home_latitude": 100, "home_longitude": 0,
                    "working_hours": {"funday": [], "tue": [{"start": "17:00", "end": "08:00"}],
                                      "wed": [{"start": "8", "end": "9"}],
                                      "thu": [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}}"#,
                false
            ),
            [
                "home_latitude",
                "user_id",
                "time_zone",
                "working_hours.funday",
                "working_hours.thu",
                "working_hours.tue[0]",
                "working_hours.wed[0]"
            ]
        );
    }
}
